"""The platform's Kafka topics: names come from configuration, shapes are fixed here."""

from __future__ import annotations

from dataclasses import dataclass

from p424.config import Config


@dataclass(frozen=True, kw_only=True)
class TopicSpec:
    name: str
    partitions: int
    replicas: int
    config: dict[str, str]
    purpose: str


def platform_topics(cfg: Config) -> list[TopicSpec]:
    # Replicated in a cluster: with acks=all a record is acknowledged once a majority of its replicas
    # (min.insync.replicas) has it, so losing one node of three loses no acknowledged record and
    # stops no producer.
    config = {
        "retention.ms": str(cfg.kafka_retention_hours * 3600 * 1000),
        "compression.type": "producer",
        "min.insync.replicas": str(cfg.min_insync_replicas),
    }

    def topic(name: str, partitions: int, purpose: str) -> TopicSpec:
        return TopicSpec(
            name=name, partitions=partitions, replicas=cfg.replication_factor, config=config, purpose=purpose
        )

    return [
        topic(
            cfg.kafka_topic_frames,
            cfg.kafka_partitions,
            "protocol-v1 frames, one record per frame, keyed by car and session",
        ),
        topic(cfg.kafka_topic_deadletter, 1, "rejected datagrams with the reason in the record headers"),
        topic(
            cfg.kafka_topic_windows,
            cfg.kafka_partitions,
            "closed per-session channel windows (JSON), for live consumers",
        ),
        topic(cfg.kafka_topic_laps, 1, "lap summaries (JSON), one per completed or abandoned lap"),
        topic(cfg.kafka_topic_predictions, 1, "live lap-time and energy predictions (JSON)"),
        topic(
            cfg.kafka_topic_alerts,
            1,
            "alarm raises and clears (JSON), one per transition, keyed by session (ALARMS_FILE)",
        ),
    ]
