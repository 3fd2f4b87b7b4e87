"""The platform's Kafka topics: names come from configuration, shapes are fixed here."""

from __future__ import annotations

from dataclasses import dataclass

from p424.config import Config


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]
    purpose: str


def platform_topics(cfg: Config) -> list[TopicSpec]:
    retention = str(cfg.kafka_retention_hours * 3600 * 1000)
    base = {"retention.ms": retention, "compression.type": "producer"}
    return [
        TopicSpec(
            cfg.kafka_topic_frames,
            cfg.kafka_partitions,
            base,
            "protocol-v1 frames, one record per frame, keyed by car and session",
        ),
        TopicSpec(cfg.kafka_topic_deadletter, 1, base, "rejected datagrams with the reason in the record headers"),
        TopicSpec(
            cfg.kafka_topic_windows,
            cfg.kafka_partitions,
            base,
            "closed per-session channel windows (JSON), for live consumers",
        ),
        TopicSpec(cfg.kafka_topic_laps, 1, base, "lap summaries (JSON), one per completed or abandoned lap"),
        TopicSpec(cfg.kafka_topic_predictions, 1, base, "live lap-time and energy predictions (JSON)"),
        TopicSpec(
            cfg.kafka_topic_alerts,
            1,
            base,
            "alarm raises and clears (JSON), one per transition, keyed by session (ALARMS_FILE)",
        ),
    ]
