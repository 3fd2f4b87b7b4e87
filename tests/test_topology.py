"""Topologies without services: what the settings derive (bootstrap servers, contact points, replication),
what each node's generated configuration says, and the guard against running data of one topology as the other.

The cluster itself is exercised by tests/test_cluster.py (marker `cluster`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from launcher import topology
from launcher.console import PlatformError
from launcher.installers import Installer
from launcher.native import NativePlatform
from launcher.paths import StatePaths
from launcher.procs import Supervisor
from launcher.services.base import Context
from launcher.services.cassandra import MURMUR3_MIN, Cassandra, initial_token
from launcher.services.flink import Flink
from launcher.services.kafka import Kafka
from p424.config import TOPOLOGY_FILE, Config, load_config
from p424.kafka.topics import platform_topics

CLUSTER = Config(platform_topology="cluster")
SINGLE = Config()
NODES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


def context(cfg: Config, root: Path) -> Context:
    paths = StatePaths(root)
    return Context(cfg, paths, Supervisor(paths.run, paths.logs), Installer(cfg, paths))


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


# ---------------------------------------------------------------- settings
def test_a_single_topology_derives_one_node_with_one_replica() -> None:
    c = SINGLE
    assert (c.clustered, c.replication_factor, c.min_insync_replicas, c.flink_taskmanagers) == (False, 1, 1, 1)
    assert c.kafka_bootstrap == "127.0.0.1:9092"
    assert c.cassandra_nodes == ("127.0.0.1",) and c.cassandra_contact == "127.0.0.1"
    assert c.keyspace_replication == "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    assert (c.kafka_node_heap, c.cassandra_node_heap) == (c.kafka_heap, c.cassandra_heap)


def test_a_cluster_gives_clients_every_node_and_three_replicas_with_a_majority_in_sync() -> None:
    c = CLUSTER
    assert (c.clustered, c.replication_factor, c.min_insync_replicas, c.flink_taskmanagers) == (True, 3, 2, 2)
    assert c.kafka_bootstrap == "127.0.0.2:9092,127.0.0.3:9092,127.0.0.4:9092"
    assert c.kafka_nodes == c.cassandra_nodes == NODES
    assert c.cassandra_contact == "127.0.0.2,127.0.0.3,127.0.0.4"  # an Airflow connection's host
    assert c.keyspace_replication == "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"
    assert (c.kafka_node_heap, c.cassandra_node_heap) == (c.cluster_kafka_heap, c.cluster_cassandra_heap)
    # Single-node services stay on the bind address.
    assert c.mlflow_url == "http://127.0.0.1:5000" and c.flink_url == "http://127.0.0.1:8081"


def test_explicit_hosts_and_replication_win_over_what_the_topology_derives() -> None:
    c = Config(
        platform_topology="cluster",
        kafka_host="k1, k2,k3",
        cassandra_host="c1,c2,c3",
        cassandra_replication="{'class': 'NetworkTopologyStrategy', 'east': 2}",
        cassandra_datacenter="east",
    )
    assert c.kafka_bootstrap == "k1:9092,k2:9092,k3:9092"
    assert c.cassandra_nodes == ("c1", "c2", "c3")
    assert c.keyspace_replication == "{'class': 'NetworkTopologyStrategy', 'east': 2}"
    # A client handed one contact list (the DAGs' Airflow connection) resolves the same nodes.
    assert SINGLE.replace(cassandra_host=CLUSTER.cassandra_contact).cassandra_nodes == NODES


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"platform_topology": "clustr"}, "PLATFORM_TOPOLOGY"),
        ({"platform_topology": "cluster", "cluster_nodes": "127.0.0.2,127.0.0.3"}, "CLUSTER_NODES"),
        ({"platform_topology": "cluster", "cluster_nodes": "127.0.0.2,127.0.0.2,127.0.0.3"}, "CLUSTER_NODES"),
        ({"platform_topology": "cluster", "cluster_flink_taskmanagers": 0}, "CLUSTER_FLINK_TASKMANAGERS"),
    ],
)
def test_bad_topology_settings_are_refused_naming_the_setting(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Config(**changes)  # type: ignore[arg-type]


def test_the_recorded_topology_outranks_the_file_and_the_environment_outranks_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    env_file = tmp_path / "c.env"
    env_file.write_text(f"PLATFORM_STATE_DIR={state}\nPLATFORM_TOPOLOGY=single\n")
    assert load_config(env_file, environ={}).platform_topology == "single"
    (state / TOPOLOGY_FILE).write_text("PLATFORM_TOPOLOGY=cluster\n")
    # Every command and client of this state dir follows its data ...
    assert load_config(env_file, environ={}).kafka_bootstrap == CLUSTER.kafka_bootstrap
    # ... unless asked otherwise, which `up` then refuses (test below).
    assert load_config(env_file, environ={"PLATFORM_TOPOLOGY": "single"}).platform_topology == "single"
    assert load_config(env_file, environ={}, overrides={"PLATFORM_TOPOLOGY": "single"}).platform_topology == "single"


def test_topics_are_replicated_with_a_majority_in_sync() -> None:
    for cfg, replicas, min_isr in ((SINGLE, 1, "1"), (CLUSTER, 3, "2")):
        topics = platform_topics(cfg)
        assert {t.name for t in topics} == set(cfg.topics)
        assert all(t.replicas == replicas and t.config["min.insync.replicas"] == min_isr for t in topics)


# ---------------------------------------------------------------- nodes and their configuration
def test_cluster_nodes_have_their_own_address_name_and_directories(tmp_path: Path) -> None:
    ctx = context(CLUSTER, tmp_path)
    kafka = [Kafka(ctx, n) for n in topology.nodes(CLUSTER, "kafka")]
    cassandra = [Cassandra(ctx, n) for n in topology.nodes(CLUSTER, "cassandra")]
    assert [k.name for k in kafka] == ["kafka-1", "kafka-2", "kafka-3"]
    assert [c.name for c in cassandra] == ["cassandra-1", "cassandra-2", "cassandra-3"]
    assert [k.node.address for k in kafka] == [c.node.address for c in cassandra] == list(NODES)
    for group in (kafka, cassandra):
        assert len({s.data for s in group}) == len({s.conf_dir for s in group}) == 3
    # Same ports on each address; Cassandra's JMX is loopback-only, so each node has its own port there.
    assert {e for k in kafka for e in k.endpoints()} == {(a, p) for a in NODES for p in (9092, 9093)}
    assert [c.endpoints()[2] for c in cassandra] == [("127.0.0.1", 7199), ("127.0.0.1", 7200), ("127.0.0.1", 7201)]


def test_a_single_topology_keeps_the_names_it_always_had(tmp_path: Path) -> None:
    ctx = context(SINGLE, tmp_path)
    kafka, cassandra, flink = Kafka(ctx), Cassandra(ctx), Flink(ctx)
    assert (kafka.name, cassandra.name) == ("kafka", "cassandra")
    assert (kafka.data, cassandra.data) == (tmp_path / "data" / "kafka", tmp_path / "data" / "cassandra")
    assert [p.name for p in flink.processes()] == ["flink-jobmanager", "flink-taskmanager"]
    props = properties(kafka.server_properties())
    assert props["node.id"] == "1" and props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert "controller.quorum.voters" not in props
    assert props["offsets.topic.replication.factor"] == props["min.insync.replicas"] == "1"
    conf = yaml.safe_load(cassandra.yaml())
    assert conf["endpoint_snitch"] == "SimpleSnitch" and "initial_token" not in conf
    assert conf["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.1:7000"


def test_kafka_cluster_nodes_form_one_static_controller_quorum_with_replicated_internal_topics(tmp_path: Path) -> None:
    ctx = context(CLUSTER, tmp_path)
    voters = "1@127.0.0.2:9093,2@127.0.0.3:9093,3@127.0.0.4:9093"
    for n in topology.nodes(CLUSTER, "kafka"):
        props = properties(Kafka(ctx, n).server_properties())
        assert props["node.id"] == str(n.index)
        assert props["controller.quorum.voters"] == voters
        assert "controller.quorum.bootstrap.servers" not in props
        assert props["listeners"] == f"PLAINTEXT://{n.address}:9092,CONTROLLER://{n.address}:9093"
        assert props["advertised.listeners"] == f"PLAINTEXT://{n.address}:9092"
        assert props["log.dirs"] == str(tmp_path / "data" / n.name)
        for key in ("offsets.topic", "transaction.state.log", "share.coordinator.state.topic"):
            assert props[f"{key}.replication.factor"] == "3"
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"


def test_cassandra_cluster_nodes_are_seeds_of_one_data_centre_with_evenly_spaced_tokens(tmp_path: Path) -> None:
    ctx = context(CLUSTER, tmp_path)
    confs = []
    for n in topology.nodes(CLUSTER, "cassandra"):
        node = Cassandra(ctx, n)
        conf = yaml.safe_load(node.yaml())
        assert conf["listen_address"] == conf["rpc_address"] == n.address
        assert (conf["native_transport_port"], conf["storage_port"]) == (9042, 7000)
        assert conf["endpoint_snitch"] == "GossipingPropertyFileSnitch"
        assert conf["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.2:7000,127.0.0.3:7000,127.0.0.4:7000"
        assert conf["hinted_handoff_enabled"] is True
        assert conf["data_file_directories"] == [str(tmp_path / "data" / n.name / "data")]
        assert properties(node.rackdc()) == {"dc": CLUSTER.cassandra_datacenter, "rack": "rack1"}
        confs.append(conf)
    tokens = [c["initial_token"] for c in confs]
    assert tokens == [initial_token(i, 3) for i in (1, 2, 3)] and tokens[0] == MURMUR3_MIN
    steps = {b - a for a, b in zip(tokens, [*tokens[1:], tokens[0] + 2**64], strict=True)}
    assert max(steps) - min(steps) <= 1  # a third of the ring each


def test_flink_cluster_runs_named_taskmanagers_and_spreads_slots(tmp_path: Path) -> None:
    flink = Flink(context(CLUSTER, tmp_path))
    specs = flink.processes()
    assert [p.name for p in specs] == ["flink-jobmanager", "flink-taskmanager-1", "flink-taskmanager-2"]
    for spec in specs[1:]:
        assert f"taskmanager.resource-id={spec.name}" in spec.argv  # the REST API's id is the process name
    conf = yaml.safe_load(flink.config_yaml())
    assert conf["taskmanager.load-balance.mode"] == "SLOTS"
    assert conf["heartbeat"] == {"interval": 2000, "timeout": 10000}
    assert "taskmanager.load-balance.mode" not in yaml.safe_load(Flink(context(SINGLE, tmp_path)).config_yaml())


def test_a_kafka_host_list_must_name_every_node() -> None:
    with pytest.raises(PlatformError, match="one host per node"):
        topology.nodes(CLUSTER.replace(kafka_host="k1,k2"), "kafka")


# ---------------------------------------------------------------- the state dir's topology
def test_the_topology_is_recorded_and_data_of_the_other_topology_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    paths = StatePaths(state)
    paths.ensure()
    assert topology.recorded(paths) is None
    topology.record(paths, "cluster")
    assert topology.recorded(paths) == "cluster"
    # Asked for single on cluster data: the platform is the cluster (so down/status act on what runs) ...
    platform = NativePlatform({"PLATFORM_STATE_DIR": str(state), "PLATFORM_TOPOLOGY": "single"})
    assert platform.topology == "cluster" and [s.name for s in platform.kafka_nodes][-1] == "kafka-3"
    with pytest.raises(PlatformError, match="several nodes"):
        _ = platform.kafka
    # ... and `up` refuses before touching anything, saying what to do.
    with pytest.raises(PlatformError, match=r"belongs to a cluster platform.*down --wipe"):
        platform.up()
    assert not list(paths.run.glob("*.pid"))
    topology.forget(paths)
    assert topology.recorded(paths) is None
    assert NativePlatform({"PLATFORM_STATE_DIR": str(state), "PLATFORM_TOPOLOGY": "single"}).refused is None


def test_data_from_before_topologies_were_recorded_is_a_single_platforms(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path)
    (paths.data / "cassandra" / "data").mkdir(parents=True)
    assert topology.recorded(paths) == "single"
    platform = NativePlatform({"PLATFORM_STATE_DIR": str(tmp_path), "PLATFORM_TOPOLOGY": "cluster"})
    assert platform.refused is not None and "PLATFORM_TOPOLOGY=cluster was requested" in platform.refused
    assert platform.kafka.name == "kafka" and platform.cassandra.name == "cassandra"
