"""Kafka clients for the live path (Flink sink -> windows -> predictor -> predictions), on librdkafka.

The live path is latency-bound and runs inside busy Python processes (the Flink worker, the
predictor). kafka-python does its fetching, batching and compression in Python threads that queue
for the GIL behind the busy thread; librdkafka (confluent-kafka) does all of it in C threads, so
hand-offs do not wait for the busy thread (measured: window-to-prediction p95 down to ~120 ms).
The bridge keeps kafka-python, as its issue specifies; its spool carries the delivery guarantee.

Delivery reports of a librdkafka producer are served by ``poll``; ``DeliveryPoller`` serves them
from a background thread so callers only see callbacks, as with kafka-python futures.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from p424.config import Config
from p424.kafka import auth

DeliveryCallback = Callable[[KafkaError | None, Message], None]


@dataclass(frozen=True)
class Record:
    """The parts of a consumed record the live consumers use (decoupled from the client library)."""

    topic: str
    key: bytes | None
    value: bytes
    timestamp_ms: int


def producer(cfg: Config, client_id: str, **overrides: Any) -> Producer:
    """A producer tuned for latency: 5 ms linger, lz4, acks=all unless overridden (dots or underscores);
    logged in as ``cfg``'s Kafka user when auth is on."""
    conf: dict[str, Any] = {
        "bootstrap.servers": cfg.kafka_bootstrap,
        **auth.librdkafka(cfg),
        "client.id": client_id,
        "linger.ms": 5,
        "compression.type": "lz4",
        "acks": "all",
    }
    conf.update({k.replace("_", "."): v for k, v in overrides.items()})
    return Producer(conf)


def consumer(cfg: Config, group_id: str, client_id: str, from_beginning: bool, **overrides: Any) -> Consumer:
    """A group consumer with auto-commit, fetching as soon as one record is available."""
    conf: dict[str, Any] = {
        "bootstrap.servers": cfg.kafka_bootstrap,
        **auth.librdkafka(cfg),
        "group.id": group_id,
        "client.id": client_id,
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "enable.auto.commit": True,
        "fetch.wait.max.ms": 10,
    }
    conf.update({k.replace("_", "."): v for k, v in overrides.items()})
    return Consumer(conf)


def poll_batch(c: Consumer, max_records: int, timeout_s: float) -> list[Message]:
    """Wait up to ``timeout_s`` for the first message, then take what else is already queued.

    ``Consumer.consume(n, timeout)`` waits for n messages or the timeout, whichever comes first,
    which would hold a lone window for the whole timeout.
    """
    first = c.poll(timeout_s)
    if first is None:
        return []
    return [first, *c.consume(max_records - 1, 0)] if max_records > 1 else [first]


def records(messages: list[Message]) -> tuple[list[Record], list[KafkaError]]:
    """Split consumed messages into records and errors (errors are reported, never raised here)."""
    out: list[Record] = []
    errors: list[KafkaError] = []
    for m in messages:
        err = m.error()
        if err is not None:
            errors.append(err)
            continue
        value = m.value()
        if value is None:
            continue
        out.append(Record(m.topic() or "", m.key(), value, m.timestamp()[1]))
    return out, errors


def produce(p: Producer, topic: str, key: bytes, value: bytes, on_delivery: DeliveryCallback) -> None:
    """Queue one record; when librdkafka's local queue is full, wait for it to drain (back-pressure)."""
    while True:
        try:
            p.produce(topic, value=value, key=key, on_delivery=on_delivery)
            return
        except BufferError:
            p.poll(0.05)


class DeliveryPoller(threading.Thread):
    """Serves a producer's delivery callbacks from a daemon thread (``poll`` releases the GIL)."""

    def __init__(self, p: Producer, name: str = "kafka-delivery") -> None:
        super().__init__(name=name, daemon=True)
        self.producer = p
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.producer.poll(0.05)

    def stop(self, flush_timeout_s: float) -> int:
        """Stop polling and flush; returns the number of records still undelivered."""
        self.stopping.set()
        self.join(timeout=1)
        return int(self.producer.flush(flush_timeout_s))


__all__ = [
    "Consumer",
    "DeliveryCallback",
    "DeliveryPoller",
    "KafkaError",
    "KafkaException",
    "Message",
    "Producer",
    "Record",
    "TopicPartition",
    "consumer",
    "poll_batch",
    "produce",
    "producer",
    "records",
]
