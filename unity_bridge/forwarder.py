"""Forwarding the spool to Kafka with kafka-python, in order, at least once.

One thread reads the spool from the committed offset and produces every record (frames keyed by
car and session to `telemetry.frames.v1`, rejects to `telemetry.deadletter.v1` with the reason in
headers). Acknowledgements advance the committed offset over the contiguous acknowledged prefix.

On any delivery failure the forwarder gives what is in flight a moment, discards the producer,
rewinds to the committed offset and resends with a fresh producer after a back-off: a broker outage
delays frames, it never drops them (records acknowledged just before a rewind may be sent twice).

Acknowledgements are tracked per read chunk (up to 1 MiB of spool, a few thousand records), not
per record: a callback on each partition's last record of the chunk tells when the chunk may be
done, then every record's future is checked before the chunk counts as delivered. Per-record
callbacks cost about a quarter of kafka-python's send path. The receive-to-ack latency of each
record is therefore measured up to the chunk's last acknowledgement: an upper bound, a few ms high.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2
from kafka.producer.future import FutureRecordMetadata

from p424.codec.frame import session_key
from p424.config import Config
from p424.kafka import auth as kafka_auth
from unity_bridge.metrics import BridgeMetrics
from unity_bridge.spool import KIND_FRAME, Spool, SpoolRecord, unpack_deadletter

log = logging.getLogger("unity_bridge.forwarder")
MAX_IN_FLIGHT = 50_000
COMMIT_EVERY_S = 0.05  # the committed offset is persisted at most this often (a crash resends <= 50 ms)
DELIVERY_TIMEOUT_MS = 30_000  # a record not acknowledged by then fails, and the forwarder rewinds
SETTLE_S = 5.0  # on a failure, how long in-flight records may still be acknowledged (fewer resends)


@dataclass
class _Batch:
    """Records read in one go; the batch is done when every record is acknowledged."""

    end: int
    futures: list[FutureRecordMetadata]
    received_ns: list[int]
    pending: int  # partitions whose last record of this batch is not acknowledged yet
    failed: bool = False
    acked_ns: int = 0  # wall clock of the latest partition acknowledgement
    checked: int = 0  # futures [0, checked) are known to have succeeded
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> bool | None:
        """True once every record succeeded, False if one failed, None while some are in flight."""
        with self.lock:
            if self.failed:
                return False
            if self.pending > 0:
                return None
        futures = self.futures
        while self.checked < len(futures):
            f = futures[self.checked]
            if not f.is_done:
                return None
            if f.exception is not None:
                return False
            self.checked += 1
        return True


class Forwarder(threading.Thread):
    def __init__(self, cfg: Config, spool: Spool, metrics: BridgeMetrics) -> None:
        super().__init__(name="kafka-forwarder", daemon=True)
        self.cfg = cfg
        self.spool = spool
        self.metrics = metrics
        self.stopping = threading.Event()
        self.producer: KafkaProducer | None = None
        self._batches: deque[_Batch] = deque()
        self._commit_lock = threading.Lock()
        self._acked_offset = spool.committed()
        self._last_commit = 0.0
        self._partitions: dict[str, int] = {}
        self._partition_of: dict[bytes, int] = {}
        self.connected = False
        self.next_offset = spool.committed()

    # ---------- Kafka ----------
    def _connect(self) -> KafkaProducer:
        c = self.cfg
        producer = KafkaProducer(
            bootstrap_servers=c.kafka_bootstrap,
            client_id="p424-bridge",
            acks="all",
            enable_idempotence=True,
            compression_type=c.bridge_compression or None,
            linger_ms=c.bridge_linger_ms,
            batch_size=c.bridge_batch_bytes,
            max_in_flight_requests_per_connection=5,
            retries=2**31 - 1,
            delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
            request_timeout_ms=10_000,
            max_block_ms=5_000,
            metrics_enabled=False,
            **kafka_auth.kafka_python(c),
        )
        for topic in (c.kafka_topic_frames, c.kafka_topic_deadletter):
            parts = producer.partitions_for(topic)
            if not parts:
                producer.close(timeout=1)
                raise KafkaError(f"topic {topic} does not exist; run ./launchcommand.sh up (it creates the topics)")
            self._partitions[topic] = len(parts)
        return producer

    def _partition(self, key: bytes) -> int:
        # The Java client's default partitioner (murmur2 of the key), cached per session.
        p = self._partition_of.get(key)
        if p is None:
            p = self._partition_of[key] = (murmur2(key) & 0x7FFFFFFF) % self._partitions[self.cfg.kafka_topic_frames]
        return p

    # ---------- acknowledgement bookkeeping (callbacks run on kafka-python's I/O thread) ----------
    def _partition_acked(self, batch: _Batch, _meta: Any) -> None:
        now = time.time_ns()
        with batch.lock:
            batch.pending -= 1
            batch.acked_ns = max(batch.acked_ns, now)

    def _failed(self, batch: _Batch, err: Exception) -> None:
        with batch.lock:
            batch.pending -= 1
            if not batch.failed:
                batch.failed = True
                log.warning("kafka delivery failed, will rewind and resend", extra={"error": repr(err)})

    def _commit_done(self, force: bool = False) -> bool:
        """Advance the committed offset over completed batches; False if one failed."""
        with self._commit_lock:
            return self._advance_commit(force)

    def _advance_commit(self, force: bool) -> bool:
        advanced = None
        while self._batches:
            b = self._batches[0]
            delivered = b.delivered()
            if delivered is None:
                break
            if not delivered:
                return False
            self._batches.popleft()
            self.metrics.observe_latencies(b.acked_ns - np.asarray(b.received_ns, dtype=np.int64))
            advanced = b.end
        if advanced is not None:
            self._acked_offset = advanced
        now = time.monotonic()
        if self._acked_offset > self.metrics.committed_offset and (force or now - self._last_commit >= COMMIT_EVERY_S):
            self.spool.commit(self._acked_offset)
            self.metrics.committed_offset = self._acked_offset
            self._last_commit = now
        return True

    def _send(self, producer: KafkaProducer, rec: SpoolRecord) -> tuple[FutureRecordMetadata, tuple[str, int]]:
        """Hand one record to the producer; returns its future and its topic partition."""
        ts_ms = rec.received_ns // 1_000_000
        if rec.kind == KIND_FRAME:
            topic, key = self.cfg.kafka_topic_frames, session_key(rec.body)
            partition = self._partition(key)
            fut = producer.send(topic, value=rec.body, key=key, partition=partition, timestamp_ms=ts_ms)
        else:
            reason, detail, source, raw = unpack_deadletter(rec.body)
            headers = [("reason", reason.encode()), ("detail", detail.encode()), ("source", source.encode())]
            topic, partition = self.cfg.kafka_topic_deadletter, 0
            fut = producer.send(topic, value=raw, partition=partition, timestamp_ms=ts_ms, headers=headers)
        return fut, (topic, partition)

    # ---------- main loop ----------
    def run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                if self.producer is None:
                    self.producer = self._connect()
                    self.connected = True
                    backoff = 0.5
                    log.info("connected to kafka", extra={"bootstrap": self.cfg.kafka_bootstrap})
                if self._pump(self.producer):
                    continue
            except KafkaError as err:
                self.metrics.kafka_errors += 1
                log.warning(
                    "kafka unavailable, spooling", extra={"error": repr(err), "backlog": self.spool.backlog_bytes()}
                )
            except Exception:  # the forwarder must outlive any client bug: frames wait in the spool
                self.metrics.kafka_errors += 1
                log.exception("forwarder error, will rewind and resend")
            self._rewind()
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _pump(self, producer: KafkaProducer) -> bool:
        """Send what the spool has; returns False when a delivery failed (rewind needed)."""
        if not self._commit_done():
            return False
        if not self.spool.wait_for_data(self.next_offset, timeout=0.05):
            return True
        if self.in_flight() > MAX_IN_FLIGHT:
            time.sleep(0.002)
            return True
        records = list(self.spool.read(self.next_offset, max_bytes=1 * 2**20))
        if not records:
            return True
        futures: list[FutureRecordMetadata] = []
        last_of_partition: dict[tuple[str, int], FutureRecordMetadata] = {}
        for rec in records:
            fut, topic_partition = self._send(producer, rec)
            futures.append(fut)
            last_of_partition[topic_partition] = fut
        batch = _Batch(
            end=records[-1].end,
            futures=futures,
            received_ns=[r.received_ns for r in records],
            pending=len(last_of_partition),
        )
        self._batches.append(batch)
        for fut in last_of_partition.values():
            fut.add_callback(self._partition_acked, batch)
            fut.add_errback(self._failed, batch)
        self.next_offset = batch.end
        self.metrics.forwarded += len(records)
        return True

    def in_flight(self) -> int:
        """Records handed to the producer whose batch is not yet committed."""
        return sum(len(b.futures) for b in self._batches)

    def _rewind(self) -> None:
        """Give in-flight sends a moment, discard the producer, resume at the commit point."""
        self.connected = False
        producer, self.producer = self.producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.flush(timeout=1 if self.stopping.is_set() else SETTLE_S)
            with contextlib.suppress(Exception):
                self._commit_done()
            close_producer(producer, timeout=1)
        self._commit_done(force=True)
        self._batches.clear()  # callbacks from the discarded producer only touch these orphans
        self.next_offset = self.spool.committed()
        self.metrics.rewinds += 1

    def drain(self, timeout: float) -> bool:
        """On shutdown: forward everything spooled, wait for the acknowledgements, commit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool.committed() >= self.spool.end_offset and not self._batches:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop quickly even when Kafka is unreachable: unacknowledged records stay in the spool."""
        self.stopping.set()
        producer = self.producer
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.flush(timeout=5 if self.connected else 0.5)
            # Closing aborts whatever is still queued, which also releases a flush blocked in _rewind.
            close_producer(producer, timeout=1)
        self.join(timeout=10)
        self._commit_done(force=True)


def close_producer(producer: KafkaProducer, timeout: float) -> None:
    """Close without waiting on records a dead broker will never acknowledge.

    kafka-python 3.0's ``close(timeout)`` raises from its internal flush when records are still
    pending and then leaves its sender thread running (retrying forever), so that case is forced.
    """
    try:
        producer.close(timeout=timeout)
    except Exception:
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
            sender.join(timeout)


def latency_percentiles(samples_ns: np.ndarray) -> dict[str, float]:
    if samples_ns.size == 0:
        return {}
    ms = samples_ns / 1e6
    return {f"p{q}": float(np.percentile(ms, q)) for q in (50, 95, 99)}
