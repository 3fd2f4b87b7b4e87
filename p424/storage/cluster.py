"""Connecting to Cassandra with the platform's settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy
from cassandra.query import named_tuple_factory

from p424.config import Config


def connect(
    cfg: Config,
    keyspace: str | None = None,
    timeout_s: float = 60.0,
    row_factory: Callable[..., Any] = named_tuple_factory,
    request_timeout_s: float = 30.0,
) -> tuple[Cluster, Session]:
    """A session to the configured cluster, retrying while the node is still starting."""
    # The driver warns about protocol negotiation and single-DC policy on every connect: not news here.
    logging.getLogger("cassandra").setLevel(logging.ERROR)
    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(),
        request_timeout=request_timeout_s,
        row_factory=row_factory,
    )
    deadline = time.monotonic() + timeout_s
    while True:
        cluster = Cluster(
            [cfg.cassandra_contact],
            port=cfg.cassandra_port,
            # v4: v5 frames every message in segments checksummed in pure Python (costly here).
            protocol_version=4,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            connect_timeout=5,
        )
        try:
            return cluster, cluster.connect(keyspace)
        except Exception:
            cluster.shutdown()
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
