"""Connecting to Cassandra with the platform's settings.

Every request defaults to LOCAL_QUORUM, reads included: in a cluster (three replicas) a write is
acknowledged by two of them and a read consults two, so a read sees every acknowledged write even
while one node is down or catching up; with one replica (single topology) it means that replica.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cassandra import AuthenticationFailed, ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.policies import DCAwareRoundRobinPolicy, ExponentialReconnectionPolicy
from cassandra.query import named_tuple_factory

from p424.config import Config

CONSISTENCY = ConsistencyLevel.LOCAL_QUORUM
# A node that went away is tried again after 1, 2, 4, 8 then every 10 s, for ever. The driver's
# default doubles up to 10 minutes and gives up after 64 attempts: a node back after a two-minute
# outage could go unnoticed for two more (the sink failing meanwhile), and one back after some hours,
# never, by a long-lived reader.
RECONNECT_MAX_DELAY_S = 10.0


def connect(
    cfg: Config,
    keyspace: str | None = None,
    timeout_s: float = 60.0,
    row_factory: Callable[..., Any] = named_tuple_factory,
    request_timeout_s: float = 30.0,
) -> tuple[Cluster, Session]:
    """A session to the configured cluster (every node a contact point), retrying while it is still starting."""
    # The driver warns about protocol negotiation and single-DC policy on every connect: not news here.
    logging.getLogger("cassandra").setLevel(logging.ERROR)
    profile = ExecutionProfile(
        # The cluster's data centre when clustered; a single node's own (SimpleSnitch: datacenter1) otherwise.
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=cfg.cassandra_datacenter if cfg.clustered else ""),
        consistency_level=CONSISTENCY,
        request_timeout=request_timeout_s,
        row_factory=row_factory,
    )
    auth = auth_provider(cfg)
    deadline = time.monotonic() + timeout_s
    while True:
        cluster = Cluster(
            list(cfg.cassandra_nodes),
            port=cfg.cassandra_port,
            auth_provider=auth,
            # v4: v5 frames every message in segments checksummed in pure Python (costly here).
            protocol_version=4,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            connect_timeout=5,
            reconnection_policy=ExponentialReconnectionPolicy(1.0, RECONNECT_MAX_DELAY_S, max_attempts=None),
        )
        try:
            return cluster, cluster.connect(keyspace)
        except NoHostAvailable as err:
            cluster.shutdown()
            # Wrong credentials do not get better with retrying (a node still starting refuses the connection).
            if any(isinstance(e, AuthenticationFailed) for e in err.errors.values()) or time.monotonic() > deadline:
                raise
            time.sleep(1.0)
        except Exception:
            cluster.shutdown()
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def auth_provider(cfg: Config) -> PlainTextAuthProvider | None:
    """The configured role's login when auth is on (CASSANDRA_USERNAME / CASSANDRA_PASSWORD)."""
    if not cfg.auth_enabled:
        return None
    if not cfg.cassandra_username or not cfg.cassandra_password:
        raise ValueError(
            "PLATFORM_AUTH is on but CASSANDRA_USERNAME / CASSANDRA_PASSWORD are not set: a platform process gets "
            "them from the launcher; a script of your own needs a role's password from credentials.env"
        )
    return PlainTextAuthProvider(username=cfg.cassandra_username, password=cfg.cassandra_password)
