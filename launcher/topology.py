"""Topologies: which nodes run where, and which topology a state dir's data belongs to.

A ``single`` platform runs one node of each server on PLATFORM_BIND_ADDRESS with replication
factor 1. A ``cluster`` platform runs one Kafka node (broker and controller) and one Cassandra node
on each CLUSTER_NODES address, with the configured ports, every partition and row on three of them.

The first ``up`` records the topology in ``<state>/topology.env``, which p424.config reads as a
settings layer, so every later command and client of that state dir follows it. Data written with
replication factor 1 cannot simply be run by a cluster (or the reverse), so a request for another
topology is refused until ``down --wipe`` has deleted the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from launcher.console import PlatformError
from launcher.paths import StatePaths
from p424.config import TOPOLOGY_FILE, Config, parse_env_file

KEY = "PLATFORM_TOPOLOGY"
# Data directories of single-node platforms created before topologies were recorded.
LEGACY_DATA = ("kafka", "cassandra")


@dataclass(frozen=True, kw_only=True)
class Node:
    """One node of a replicated service: its address, and what its process, data and conf dirs are called."""

    service: str  # "kafka" | "cassandra"
    index: int  # 1-based; the Kafka node.id
    address: str  # where it listens
    advertised: str  # where clients reach it
    clustered: bool

    @property
    def name(self) -> str:
        """`kafka` in a single topology (the names the platform always had), `kafka-2` in a cluster."""
        return f"{self.service}-{self.index}" if self.clustered else self.service


def nodes(cfg: Config, service: str) -> list[Node]:
    """The nodes of ``service`` (kafka or cassandra): one in a single topology, one per address in a cluster."""
    clients = cfg.kafka_nodes if service == "kafka" else cfg.cassandra_nodes
    if not cfg.clustered:
        return [Node(service=service, index=1, address=cfg.platform_bind_address, advertised=clients[0],
                     clustered=False)]
    addresses = cfg.cluster_node_addresses
    if len(clients) != len(addresses):
        raise PlatformError(
            f"{service.upper()}_HOST lists {len(clients)} hosts but CLUSTER_NODES has {len(addresses)} nodes: "
            f"give one host per node, or leave {service.upper()}_HOST empty"
        )
    return [
        Node(service=service, index=i, address=a, advertised=h, clustered=True)
        for i, (a, h) in enumerate(zip(addresses, clients, strict=True), 1)
    ]


def recorded(paths: StatePaths) -> str | None:
    """The topology the state dir's data was created with, None when it holds no data yet."""
    value = parse_env_file(paths.root / TOPOLOGY_FILE).get(KEY)
    if value:
        return value
    if any(_has_files(paths.data / d) for d in LEGACY_DATA):
        return "single"
    return None


def record(paths: StatePaths, topology: str) -> None:
    (paths.root / TOPOLOGY_FILE).write_text(
        "# Written by the first `./launchcommand.sh up` on this state dir: the topology its data was created\n"
        "# with. Every command follows it; `./launchcommand.sh down --wipe` deletes the data and this file.\n"
        f"{KEY}={topology}\n"
    )


def forget(paths: StatePaths) -> None:
    (paths.root / TOPOLOGY_FILE).unlink(missing_ok=True)


def refusal(paths: StatePaths, have: str, requested: str) -> str:
    """Why `up` will not run ``requested`` on data of topology ``have``, and what to do instead."""
    return (
        f"PLATFORM_TOPOLOGY={requested} was requested, but the data under {paths.root} belongs to a {have} "
        f"platform (recorded at its first `up`). Its Kafka topics and Cassandra keyspace have the replication of "
        f"a {have} platform and its nodes' data cannot be handed to a {requested} one. Either run "
        f"`./launchcommand.sh down --wipe` (deletes every service's data, keeps the installs) and then "
        f"`./launchcommand.sh up --set PLATFORM_TOPOLOGY={requested}`, or keep this platform and use another "
        "state dir for the other topology (PLATFORM_STATE_DIR)."
    )


def _has_files(d: Path) -> bool:
    return d.is_dir() and any(d.iterdir())
