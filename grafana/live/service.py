"""The Grafana Live pusher service: Kafka (windows, predictions) -> Grafana Live, with /health and /metrics.

Always starts at the end of its partitions (group ``p424-grafana-live``, no committed offsets): a
live view has no use for a backlog, and a restart must not replay history into the panels. The
Kafka loop only decodes and offers lines to the pusher's bounded buffer, so a slow or absent
Grafana never holds it up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from kafka import ConsumerRebalanceListener
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from grafana.live.lines import prediction_lines, window_lines
from grafana.live.pusher import Pusher, PushSettings, push_url
from p424.config import Config
from p424.kafka import auth as kafka_auth
from p424.kafka.messages import PredictionMessage, WindowMessage
from p424.security.http import HttpAuth
from p424.security.kafka import GRAFANA_LIVE_GROUP
from p424.status_http import serve_status

log = logging.getLogger("p424.grafana.live")
CONSUMER_GROUP = GRAFANA_LIVE_GROUP  # defined with the group ACLs that grant it
BOOTSTRAP_TIMEOUT_MS = 2000  # per attempt to reach Kafka (kafka-python 3 bootstrap_timeout_ms)


def http_port(cfg: Config) -> int:
    return cfg.grafana_live_http_port


@dataclass
class ConsumeStats:
    records: int = 0
    decode_errors: int = 0
    kafka_errors: int = 0
    connected: bool = False
    lag: int = 0  # records behind the end of the assigned partitions


def decode(topic: str, value: bytes, cfg: Config) -> list[str]:
    """One Kafka record -> its lines (raises ValueError/TypeError/KeyError on a malformed record)."""
    if topic == cfg.kafka_topic_windows:
        return window_lines(WindowMessage.from_json(value))
    if topic == cfg.kafka_topic_predictions:
        return prediction_lines(PredictionMessage.from_json(value))
    return []


class LiveMetrics(Collector):
    def __init__(self, pusher: Pusher, consume: ConsumeStats) -> None:
        self.pusher = pusher
        self.consume = consume

    def collect(self) -> Iterator[Metric]:
        st, c = self.pusher.stats, self.consume
        counters = {
            "p424_grafana_live_records_consumed": ("Kafka records consumed", c.records),
            "p424_grafana_live_decode_errors": ("Kafka records that could not be decoded", c.decode_errors),
            "p424_grafana_live_kafka_errors": ("Kafka connection failures", c.kafka_errors),
            "p424_grafana_live_lines_offered": ("Lines offered to the push buffer", st.offered),
            "p424_grafana_live_lines_dropped": ("Lines evicted from the full push buffer (drop-oldest)", st.dropped),
            "p424_grafana_live_lines_pushed": ("Lines accepted by Grafana Live", st.pushed),
            "p424_grafana_live_lines_failed": ("Lines in failed pushes (dropped, not retried)", st.failed),
            "p424_grafana_live_lines_oversized": ("Lines longer than a whole push request (dropped)", st.oversized),
            "p424_grafana_live_push_requests": ("Push requests sent", st.requests),
            "p424_grafana_live_push_errors": ("Push requests that failed", st.request_errors),
        }
        for name, (doc, value) in counters.items():
            m = CounterMetricFamily(name, doc)
            m.add_metric([], value)
            yield m
        gauges: dict[str, tuple[str, float]] = {
            "p424_grafana_live_buffer_lines": ("Lines waiting in the push buffer", len(self.pusher.buffer)),
            "p424_grafana_live_backoff_seconds": ("Current back-off after failed pushes", st.backoff_s),
            "p424_grafana_live_last_push_timestamp_seconds": ("Wall clock of the last accepted push", st.last_ok),
            "p424_grafana_live_consumer_lag": ("Records behind the end of the consumed partitions", c.lag),
            "p424_grafana_live_kafka_connected": ("1 when the Kafka consumer is connected", int(c.connected)),
        }
        for name, (doc, level) in gauges.items():
            g = GaugeMetricFamily(name, doc)
            g.add_metric([], level)
            yield g


class _SeekToEnd(ConsumerRebalanceListener):  # type: ignore[misc]
    """Newly assigned partitions start at their end: only windows from now on are live."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer

    def on_partitions_revoked(self, revoked: Any) -> None:
        return

    def on_partitions_assigned(self, assigned: Any) -> None:
        if assigned:
            self.consumer.seek_to_end(*assigned)


class LiveService:
    def __init__(self, cfg: Config, pusher: Pusher | None = None) -> None:
        self.cfg = cfg
        settings = PushSettings(push_url(cfg.grafana_url, cfg.grafana_live_stream), cfg.grafana_token)
        self.pusher = pusher or Pusher(settings)
        self.consume = ConsumeStats()
        self.registry = CollectorRegistry()
        self.registry.register(LiveMetrics(self.pusher, self.consume))
        self._stop = threading.Event()
        self.http: ThreadingHTTPServer | None = None

    # ---------- health ----------
    def health(self) -> dict[str, Any]:
        st = self.pusher.stats
        return {
            "status": "ok" if self.pusher.alive else "stopped",
            "grafana_url": self.cfg.grafana_url,
            "stream": self.cfg.grafana_live_stream,
            "kafka_connected": self.consume.connected,
            "records": self.consume.records,
            "lag": self.consume.lag,
            "buffer_lines": len(self.pusher.buffer),
            "dropped": st.dropped,
            "pushed": st.pushed,
            "failed": st.failed,
            "last_push_ok": st.last_ok,
            "last_error": st.last_error,
            "backoff_s": st.backoff_s,
        }

    def start_http(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        bind = host if host is not None else self.cfg.platform_bind_address
        self.http = serve_status(
            bind,
            http_port(self.cfg) if port is None else port,
            self.registry,
            {"/health": lambda: (200 if self.pusher.alive else 503, self.health())},
            auth=HttpAuth.of(self.cfg),
        )
        addr = self.http.server_address
        return str(addr[0]), int(addr[1])

    # ---------- Kafka loop ----------
    def handle(self, topic: str, value: bytes) -> None:
        self.consume.records += 1
        try:
            lines = decode(topic, value, self.cfg)
        except (ValueError, TypeError, KeyError) as err:
            self.consume.decode_errors += 1
            if self.consume.decode_errors == 1 or self.consume.decode_errors % 1000 == 0:
                log.warning("undecodable record on %s (%d so far): %s", topic, self.consume.decode_errors, err)
            return
        self.pusher.buffer.offer(lines)

    def run(self) -> None:
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        self.pusher.start()
        topics = [self.cfg.kafka_topic_windows, self.cfg.kafka_topic_predictions]
        delay = 1.0
        while not self._stop.is_set():
            try:
                consumer = KafkaConsumer(
                    bootstrap_servers=self.cfg.kafka_bootstrap,
                    group_id=CONSUMER_GROUP,
                    client_id="p424-grafana-live",
                    auto_offset_reset="latest",
                    enable_auto_commit=False,
                    # The constructor blocks until it reaches a broker (30 s by default): a stop waits at
                    # most this long while Kafka is unreachable, and this loop retries with backoff.
                    bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
                    **kafka_auth.kafka_python(self.cfg),
                )
                consumer.subscribe(topics, listener=_SeekToEnd(consumer))
            except KafkaError as err:
                self.consume.kafka_errors += 1
                log.warning("kafka unavailable (%s); retrying in %.0f s", type(err).__name__, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            self.consume.connected = True
            log.info("consuming %s, pushing to %s", ", ".join(topics), self.pusher.settings.url)
            try:
                self._consume(consumer)
            except KafkaError as err:
                self.consume.kafka_errors += 1
                log.warning("kafka consumer failed (%s); reconnecting", type(err).__name__)
            finally:
                self.consume.connected = False
                consumer.close()
        self.pusher.stop()

    def _consume(self, consumer: Any) -> None:
        last: dict[Any, int] = {}
        next_lag = 0.0
        while not self._stop.is_set():
            batch = consumer.poll(timeout_ms=200, max_records=2000)
            for tp, records in batch.items():
                for r in records:
                    self.handle(r.topic, r.value)
                if records:
                    last[tp] = records[-1].offset + 1
            if time.monotonic() >= next_lag:
                next_lag = time.monotonic() + 5.0
                self.consume.lag = sum(max(0, (consumer.highwater(tp) or pos) - pos) for tp, pos in last.items())

    def stop(self) -> None:
        self._stop.set()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
            self.http = None
