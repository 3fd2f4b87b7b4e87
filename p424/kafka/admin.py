"""Kafka administration: readiness, idempotent topic creation (kafka-python), cluster metadata (librdkafka).

Metadata of a cluster with a node down comes from librdkafka: it asks any broker it can reach and
retries within the timeout, where kafka-python's admin client fails on the first dead broker it
picks.
"""

from __future__ import annotations

import contextlib

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._metadata import ClusterMetadata
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from p424.config import Config
from p424.kafka import auth
from p424.kafka.topics import platform_topics


def admin_client(cfg: Config, timeout_ms: int = 3000, bootstrap: str | None = None) -> KafkaAdminClient:
    """An admin client logged in as ``cfg``'s Kafka user, to every broker or to ``bootstrap``."""
    return KafkaAdminClient(
        bootstrap_servers=bootstrap or cfg.kafka_bootstrap,
        client_id="p424-admin",
        request_timeout_ms=timeout_ms,
        **auth.kafka_python(cfg),
    )


def broker_ready(cfg: Config, bootstrap: str, node_id: int | None = None) -> bool:
    """True once a broker answers metadata requests (its controller quorum has a leader).

    With ``node_id``: once that broker is among the cluster's live brokers, which metadata lists only
    when the controller has registered and unfenced it.
    """
    if node_id is not None:
        try:
            return node_id in cluster_metadata(cfg, 2.0, bootstrap).brokers
        except KafkaException:
            return False
    try:
        admin = admin_client(cfg, 2000, bootstrap)
    except KafkaError:
        return False
    try:
        admin.list_topics()
        return True
    except KafkaError:
        return False
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def cluster_metadata(cfg: Config, timeout_s: float = 5.0, bootstrap: str | None = None) -> ClusterMetadata:
    """Live brokers (registered, not fenced) and every topic's partitions: leader, replicas, in-sync replicas."""
    client = AdminClient(
        {"bootstrap.servers": bootstrap or cfg.kafka_bootstrap, "log_level": 0, **auth.librdkafka(cfg)}
    )
    return client.list_topics(timeout=timeout_s)


def ensure_topics(cfg: Config) -> list[str]:
    """Create missing platform topics; returns the names created (existing ones are left alone)."""
    admin = admin_client(cfg, 10000)
    try:
        existing = set(admin.list_topics())
        wanted = [t for t in platform_topics(cfg) if t.name not in existing]
        created: list[str] = []
        for t in wanted:
            try:
                admin.create_topics([NewTopic(t.name, t.partitions, t.replicas, topic_configs=t.config)])
                created.append(t.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()
