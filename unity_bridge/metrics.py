"""Bridge counters, latency samples, and their Prometheus and JSON views.

Hot-path counters are plain integers (the socket loop runs tens of thousands of times a
second); the Prometheus collector reads them when scraped.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from p424.catalog import Catalog
from p424.sequence import SequenceTracker

LATENCY_SAMPLES = 100_000


@dataclass(frozen=True, kw_only=True)
class SessionCounts:
    """What the bridge has seen of one session (``/sessions``, per-session Prometheus counters)."""

    session_id: int
    car_id: int
    source: str  # host:port of the sender
    received: int
    lost: int
    duplicated: int
    out_of_order: int
    too_old: int
    first_seq: int
    highest_seq: int


class BridgeMetrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.datagrams = 0
        self.accepted = 0
        self.accepted_dmg1 = 0
        self.accepted_by_catalog: Counter[int] = Counter()  # catalog hash -> frames accepted
        self.refused_spool_full = 0  # datagrams refused because the spool reached BRIDGE_SPOOL_MAX_BYTES
        self.dropped: Counter[tuple[str, str]] = Counter()  # (input, reason) -> datagrams dropped unread
        self.rejected: Counter[str] = Counter()
        self.forwarded = 0
        self.kafka_errors = 0
        self.rewinds = 0
        self.committed_offset = 0
        self.sessions: dict[int, SequenceTracker] = {}
        self.session_car: dict[int, int] = {}
        self.session_source: dict[int, str] = {}  # host:port of the session's sender
        self.session_last_seen: dict[int, float] = {}
        self._latency = np.zeros(LATENCY_SAMPLES, dtype=np.int64)
        self._latency_n = 0
        self._lock = threading.Lock()

    def observe_latencies(self, ns: np.ndarray) -> None:
        """Add receive-to-ack latencies to a ring of the most recent; written by the forwarder only."""
        ns = ns[-LATENCY_SAMPLES:]
        start = self._latency_n % LATENCY_SAMPLES
        first = min(len(ns), LATENCY_SAMPLES - start)
        self._latency[start : start + first] = ns[:first]
        self._latency[: len(ns) - first] = ns[first:]
        self._latency_n += len(ns)

    def latency_ms(self) -> dict[str, float]:
        n = min(self._latency_n, LATENCY_SAMPLES)
        if n == 0:
            return {}
        ms = self._latency[:n] / 1e6
        return {
            "p50": float(np.percentile(ms, 50)),
            "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max()),
            "samples": float(n),
        }

    def catalog_counts(self, catalog: Catalog) -> dict[str, int]:
        """Accepted frames per sender catalog, as ``<hash> (<version>)``."""
        out = {}
        for chash, n in sorted(self.accepted_by_catalog.items()):
            known = catalog.known(chash)
            out[f"{chash:08x} ({known.version if known else '?'})"] = n
        return out

    def reset_latency(self) -> None:
        self._latency_n = 0

    def session_stats(self) -> list[SessionCounts]:
        out = []
        for sid, tracker in list(self.sessions.items()):
            s = tracker.stats
            out.append(
                SessionCounts(
                    session_id=sid,
                    car_id=self.session_car.get(sid, 0),
                    source=self.session_source.get(sid, ""),
                    received=s.received,
                    lost=s.lost,
                    duplicated=s.duplicated,
                    out_of_order=s.out_of_order,
                    too_old=s.too_old,
                    first_seq=s.first,
                    highest_seq=s.highest,
                )
            )
        return out

    def forget_idle_sessions(self, idle_s: float) -> None:
        cutoff = time.monotonic() - idle_s
        for sid, seen in list(self.session_last_seen.items()):
            if seen < cutoff:
                self.sessions.pop(sid, None)
                self.session_car.pop(sid, None)
                self.session_source.pop(sid, None)
                self.session_last_seen.pop(sid, None)


def socket_drops(port: int) -> int | None:
    """Datagrams the kernel dropped on our UDP socket (the 'drops' column of /proc/net/udp)."""
    total = None
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                total = (total or 0) + int(fields[-1])
    return total


class PrometheusView(Collector):
    def __init__(
        self,
        metrics: BridgeMetrics,
        spool_backlog: Callable[[], int],
        kafka_up: Callable[[], bool],
        udp_port: int,
        catalog: Catalog,
    ) -> None:
        self.catalog = catalog
        self.m = metrics
        self.backlog = spool_backlog
        self.kafka_up = kafka_up
        self.port = udp_port

    def collect(self) -> Iterator[Metric]:
        m = self.m
        c = CounterMetricFamily("p424_bridge_datagrams", "UDP datagrams received")
        c.add_metric([], m.datagrams)
        yield c
        c = CounterMetricFamily("p424_bridge_frames_accepted", "Datagrams accepted as frames", labels=["input"])
        c.add_metric(["protocol_v1"], m.accepted - m.accepted_dmg1)
        c.add_metric(["dmg1"], m.accepted_dmg1)
        yield c
        c = CounterMetricFamily(
            "p424_bridge_frames_by_catalog",
            "Frames accepted per sender catalog version (an older registered catalog is read by name)",
            labels=["catalog", "version", "current"],
        )
        for chash, n in sorted(m.accepted_by_catalog.items()):
            known = self.catalog.known(chash)
            version = known.version if known is not None else "unknown"
            c.add_metric([f"{chash:08x}", version, str(chash == self.catalog.hash).lower()], n)
        yield c
        c = CounterMetricFamily(
            "p424_bridge_frames_rejected", "Datagrams rejected and dead-lettered", labels=["reason"]
        )
        for reason, n in sorted(m.rejected.items()):
            c.add_metric([reason], n)
        yield c
        c = CounterMetricFamily(
            "p424_bridge_frames_refused", "Datagrams refused before the spool (they are lost)", labels=["reason"]
        )
        c.add_metric(["spool_full"], m.refused_spool_full)
        yield c
        c = CounterMetricFamily(
            "p424_bridge_datagrams_dropped",
            "Datagrams dropped unread, neither spooled nor dead-lettered (sender outside BRIDGE_ALLOWED_SENDERS)",
            labels=["input", "reason"],
        )
        for (kind, reason), n in sorted(m.dropped.items()):
            c.add_metric([kind, reason], n)
        yield c
        c = CounterMetricFamily("p424_bridge_records_forwarded", "Spool records handed to the Kafka producer")
        c.add_metric([], m.forwarded)
        yield c
        c = CounterMetricFamily("p424_bridge_kafka_errors", "Kafka connection failures (frames spooled meanwhile)")
        c.add_metric([], m.kafka_errors)
        yield c
        g = GaugeMetricFamily("p424_bridge_spool_backlog_bytes", "Spooled bytes not yet acknowledged by Kafka")
        g.add_metric([], self.backlog())
        yield g
        g = GaugeMetricFamily("p424_bridge_kafka_connected", "1 when the forwarder is connected to Kafka")
        g.add_metric([], 1 if self.kafka_up() else 0)
        yield g
        drops = socket_drops(self.port)
        if drops is not None:
            c = CounterMetricFamily("p424_bridge_socket_drops", "Datagrams dropped by the kernel on the bridge socket")
            c.add_metric([], drops)
            yield c
        lat = m.latency_ms()
        g = GaugeMetricFamily(
            "p424_bridge_ack_latency_ms", "UDP receive to Kafka acknowledgement, recent samples", labels=["quantile"]
        )
        for q in ("p50", "p95", "p99"):
            if q in lat:
                g.add_metric([q], lat[q])
        yield g
        per = {
            "lost": "p424_bridge_session_frames_lost",
            "duplicated": "p424_bridge_session_frames_duplicated",
            "out_of_order": "p424_bridge_session_frames_out_of_order",
            "received": "p424_bridge_session_frames_received",
        }
        stats = m.session_stats()
        for key, name in per.items():
            c = CounterMetricFamily(name, f"Frames {key.replace('_', ' ')} per session", labels=["car", "session"])
            for s in stats:
                c.add_metric([str(s.car_id), str(s.session_id)], getattr(s, key))
            yield c
