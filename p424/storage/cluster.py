"""Connecting to Cassandra with the platform's settings."""

from __future__ import annotations

import logging
import time

from cassandra.cluster import Cluster, Session
from cassandra.policies import DCAwareRoundRobinPolicy

from p424.config import Config


def connect(cfg: Config, keyspace: str | None = None, timeout_s: float = 60.0) -> tuple[Cluster, Session]:
    """A session to the configured cluster, retrying while the node is still starting."""
    # The driver warns about protocol downgrades and single-DC policy on every connect: not news here.
    logging.getLogger("cassandra").setLevel(logging.ERROR)
    deadline = time.monotonic() + timeout_s
    while True:
        cluster = Cluster(
            [cfg.cassandra_contact], port=cfg.cassandra_port, protocol_version=5,
            load_balancing_policy=DCAwareRoundRobinPolicy(), connect_timeout=5,
        )
        try:
            return cluster, cluster.connect(keyspace)
        except Exception:
            cluster.shutdown()
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
