"""The live path's librdkafka clients (p424.kafka.live) against the real broker of the native stack."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from kafka.admin import NewTopic

from p424.kafka import live
from p424.kafka.admin import admin_client
from tests.helpers import Stack

pytestmark = pytest.mark.platform


@pytest.fixture
def topic(stack: Stack) -> Iterator[str]:
    name = f"live.{uuid.uuid4().hex[:8]}"
    admin = admin_client(stack.cfg)
    admin.create_topics([NewTopic(name, 3, 1)])
    try:
        yield name
    finally:
        admin.delete_topics([name])
        admin.close()


def _joined_consumer(stack: Stack, topic: str) -> live.Consumer:
    """A consumer from the topic's start whose group has been assigned every partition."""
    consumer = live.consumer(stack.cfg, f"test-{uuid.uuid4().hex[:8]}", "test-live", True)
    assigned = threading.Event()
    consumer.subscribe([topic], on_assign=lambda _c, parts: assigned.set() if parts else None)
    deadline = time.monotonic() + 60
    while not assigned.is_set():  # the rebalance callback runs inside poll
        assert time.monotonic() < deadline, "the consumer group was not assigned the topic in 60 s"
        assert consumer.poll(0.2) is None, "the new topic should still be empty"
    return consumer


def test_delivery_callbacks_run_without_the_caller_polling(stack: Stack, topic: str) -> None:
    producer = live.producer(stack.cfg, "test-live", enable_idempotence=True)
    poller = live.DeliveryPoller(producer)
    poller.start()
    reports: list[tuple[live.KafkaError | None, int]] = []
    done = threading.Event()

    def delivered(err: live.KafkaError | None, msg: live.Message) -> None:
        reports.append((err, msg.partition() or 0))
        if len(reports) == 20:
            done.set()

    for i in range(20):
        live.produce(producer, topic, f"session-{i % 4}".encode(), f"v{i}".encode(), delivered)
    # Nothing here calls producer.poll(): the poller thread serves the callbacks.
    assert done.wait(30), f"{len(reports)} of 20 delivery reports"
    assert [err for err, _ in reports if err is not None] == []
    assert poller.stop(flush_timeout_s=10) == 0


def test_a_lone_record_is_returned_at_once_and_keys_keep_their_order(stack: Stack, topic: str) -> None:
    consumer = _joined_consumer(stack, topic)
    producer = live.producer(stack.cfg, "test-live")
    try:
        producer.produce(topic, key=b"car-7", value=b"alone")
        producer.flush(10)
        started = time.monotonic()
        # Asking for up to 500 records must not wait for 500: the first one comes back at once.
        got, errors = live.records(live.poll_batch(consumer, 500, timeout_s=20.0))
        waited = time.monotonic() - started
        assert errors == []
        assert [(r.key, r.value) for r in got] == [(b"car-7", b"alone")]
        assert waited < 10.0, f"poll_batch held a lone record for {waited:.1f} s"
        assert got[0].topic == topic and got[0].timestamp_ms > 0

        for i in range(50):
            producer.produce(topic, key=f"s{i % 2}".encode(), value=f"{i}".encode())
        producer.flush(10)
        seen: list[live.Record] = []
        deadline = time.monotonic() + 30
        while len(seen) < 50 and time.monotonic() < deadline:
            seen.extend(live.records(live.poll_batch(consumer, 20, 0.5))[0])
        assert len(seen) == 50
        for key in (b"s0", b"s1"):
            values = [int(r.value) for r in seen if r.key == key]
            assert values == sorted(values) and len(values) == 25
    finally:
        consumer.close()
