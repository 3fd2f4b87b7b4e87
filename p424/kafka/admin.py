"""Kafka administration with kafka-python: readiness and idempotent topic creation."""

from __future__ import annotations

import contextlib

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from p424.config import Config
from p424.kafka.topics import platform_topics


def admin_client(bootstrap: str, timeout_ms: int = 3000) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="p424-admin", request_timeout_ms=timeout_ms)


def broker_ready(bootstrap: str, node_id: int | None = None) -> bool:
    """True once a broker answers metadata requests (its controller quorum has a leader).

    With ``node_id``: once that broker is among the cluster's live brokers, which metadata lists only
    when the controller has registered and unfenced it.
    """
    try:
        admin = admin_client(bootstrap, 2000)
    except KafkaError:
        return False
    try:
        if node_id is None:
            admin.list_topics()
            return True
        return node_id in live_brokers(admin)
    except KafkaError:
        return False
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def live_brokers(admin: KafkaAdminClient) -> set[int]:
    """Node ids of the registered brokers the controller has not fenced (fenced: stopped, or silent too long)."""
    return {int(b["broker_id"]) for b in admin.describe_cluster()["brokers"] if not b.get("is_fenced")}


def ensure_topics(cfg: Config) -> list[str]:
    """Create missing platform topics; returns the names created (existing ones are left alone)."""
    admin = admin_client(cfg.kafka_bootstrap, 10000)
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
