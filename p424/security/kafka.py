"""Kafka principals, one per component, each allowed only the topics and group it needs.

Topic names come from the configuration (``KAFKA_TOPIC_*``), so the ACLs follow a renamed topic.
Every principal authenticates with SASL/SCRAM-SHA-512.
"""

from __future__ import annotations

from dataclasses import dataclass

from p424.config import Config

SCRAM_MECHANISM = "SCRAM-SHA-512"
# The consumer groups of the services that are not configured by a setting (the Live pusher uses this
# one; the predictor's default group_id in p424/ml/live/service.py is held equal by tests/test_k8s.py);
# the Flink job's group is FLINK_JOB_NAME.
PREDICTOR_GROUP = "p424-predictor"
GRAFANA_LIVE_GROUP = "p424-grafana-live"


@dataclass(frozen=True, kw_only=True)
class KafkaPrincipal:
    """A SCRAM user: the topics it reads and writes, the consumer group it may use."""

    user: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    group: str | None = None
    admin: bool = False  # provisioning: creates and alters topics, reads the cluster
    purpose: str = ""


def kafka_principals(cfg: Config) -> tuple[KafkaPrincipal, ...]:
    """The platform's Kafka users."""
    return (
        KafkaPrincipal(
            user="p424-bridge",
            writes=(cfg.kafka_topic_frames, cfg.kafka_topic_deadletter),
            purpose="UDP bridge: accepted frames and dead letters",
        ),
        KafkaPrincipal(
            user="p424-flink",
            reads=(cfg.kafka_topic_frames,),
            writes=(cfg.kafka_topic_windows, cfg.kafka_topic_laps, cfg.kafka_topic_alerts),
            group=cfg.flink_job_name,
            purpose="the telemetry job: frames in, live windows, laps and alarms out",
        ),
        KafkaPrincipal(
            user="p424-predictor",
            reads=(cfg.kafka_topic_windows, cfg.kafka_topic_laps),
            writes=(cfg.kafka_topic_predictions,),
            group=PREDICTOR_GROUP,
            purpose="live predictor",
        ),
        KafkaPrincipal(
            user="p424-grafana-live",
            reads=(cfg.kafka_topic_windows, cfg.kafka_topic_laps, cfg.kafka_topic_predictions),
            group=GRAFANA_LIVE_GROUP,
            purpose="Grafana Live pusher",
        ),
        KafkaPrincipal(user="p424-admin", admin=True, purpose="provisioning: topics and their settings"),
    )


@dataclass(frozen=True, kw_only=True)
class Acl:
    """One ALLOW rule in Kafka's terms: a resource (topic, group, cluster) and the operations on it."""

    resource_type: str  # topic | group | cluster
    name: str  # empty for the cluster
    operations: tuple[str, ...]


def acls(principal: KafkaPrincipal) -> tuple[Acl, ...]:
    """The least rules that let ``principal`` do its job, in Kafka's operation names."""
    rules: list[Acl] = []
    for topic in principal.reads:
        rules.append(Acl(resource_type="topic", name=topic, operations=("Read", "Describe")))
    for topic in principal.writes:
        # Write on a topic also allows idempotent producing since Kafka 3.0 (KIP-679): no cluster rule.
        rules.append(Acl(resource_type="topic", name=topic, operations=("Write", "Describe")))
    if principal.group:
        rules.append(Acl(resource_type="group", name=principal.group, operations=("Read",)))
    if principal.admin:
        rules.append(Acl(resource_type="topic", name="*", operations=("Create", "Alter", "AlterConfigs", "Describe",
                                                                        "DescribeConfigs")))
        rules.append(Acl(resource_type="cluster", name="", operations=("Describe", "DescribeConfigs")))
    return tuple(rules)
