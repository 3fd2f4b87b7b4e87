"""The bridge service: UDP sockets -> validation -> spool -> Kafka, plus HTTP metrics and health.

Two UDP inputs, each on its own socket so a datagram's kind follows from where it arrived: the
frame socket (protocol v1, ``BRIDGE_UDP_PORT``) and the DMG1 socket (the unmodified simulator's
motion datagrams, ``BRIDGE_DMG1_PORT``, 56236 as the simulator sends by default; 0 switches it
off). Threads: the socket loop (this module; never blocks on Kafka), the Kafka forwarder, the HTTP
server. SIGTERM/SIGINT stop the socket, forward and commit what is spooled (bounded wait), and
exit; anything not acknowledged by then stays in the spool for the next start.
"""

from __future__ import annotations

import json
import logging
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from p424.catalog import CATALOG
from p424.codec.frame import frame_size
from p424.config import Config
from p424.security.http import HttpAuth
from p424.sequence import SequenceTracker
from p424.status_http import serve_status
from unity_bridge.forwarder import Forwarder
from unity_bridge.intake import (
    SENDER_NOT_ALLOWED,
    Accepted,
    Address,
    Dmg1Adapter,
    Rejected,
    SenderFilter,
    address_text,
    classify_batch,
    classify_dmg1,
)
from unity_bridge.metrics import BridgeMetrics, PrometheusView, socket_drops
from unity_bridge.spool import (
    DEADLETTER_MAX_HEAD,
    KIND_DEADLETTER,
    KIND_FRAME,
    RECORD_HEAD,
    Spool,
    pack_deadletter,
)

log = logging.getLogger("unity_bridge")
INPUT_FRAMES, INPUT_DMG1 = "protocol_v1", "dmg1"  # the inputs, as metrics label them
LOGGED_SENDERS = 256  # dropped senders named in the log (once each), so a scan cannot flood it
SO_RCVBUFFORCE = 33  # Linux: like SO_RCVBUF but may exceed net.core.rmem_max (needs CAP_NET_ADMIN)
DRAIN_BATCH = 256  # datagrams handled before the spool is flushed to the forwarder
FULL_FRAME_RECORD = RECORD_HEAD.size + frame_size(len(CATALOG.payload_channels))


class JsonLogFormatter(logging.Formatter):
    _SKIP = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update({k: v for k, v in record.__dict__.items() if k not in self._SKIP})
        return json.dumps(doc, default=str)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("kafka").setLevel(logging.ERROR)


class Bridge:
    def __init__(self, cfg: Config, spool_dir: Path | None = None) -> None:
        self.cfg = cfg
        self.metrics = BridgeMetrics()
        default_spool = (
            Path(cfg.bridge_spool_dir) if cfg.bridge_spool_dir else cfg.state_dir / "data" / "bridge" / "spool"
        )
        self.spool = Spool(spool_dir or default_spool, max_bytes=cfg.bridge_spool_max_bytes)
        self.forwarder = Forwarder(cfg, self.spool, self.metrics)
        self.dmg1 = Dmg1Adapter(car_id=cfg.bridge_car_id_dmg1)
        self.senders = SenderFilter(cfg.allowed_senders)
        self._logged_senders: set[str] = set()
        self.stopping = threading.Event()
        self.sock = self._open_socket(cfg.bridge_udp_port)
        self.port = self.sock.getsockname()[1]
        self.dmg1_sock = self._open_socket(cfg.bridge_dmg1_port) if cfg.bridge_dmg1_port else None
        self.dmg1_port = self.dmg1_sock.getsockname()[1] if self.dmg1_sock is not None else None
        self.http: ThreadingHTTPServer | None = None

    def _open_socket(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        wanted = self.cfg.bridge_socket_buffer_bytes
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, wanted)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
        got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2  # Linux reports double the usable size
        if got < wanted:
            log.warning(
                "UDP receive buffer smaller than configured; raise net.core.rmem_max to avoid drops under bursts",
                extra={"wanted": wanted, "got": got},
            )
        sock.bind((self.cfg.platform_bind_address, port))
        sock.setblocking(False)
        return sock

    # ---------- the socket loop ----------
    def handle_batch(self, datagrams: list[bytes], sources: list[Address], received_ns: list[int]) -> None:
        """Classify the datagrams of one frame-socket read, track their sessions, spool them."""
        self._spool_results(classify_batch(datagrams, CATALOG), datagrams, sources, received_ns)

    def handle_dmg1_batch(self, datagrams: list[bytes], sources: list[Address], received_ns: list[int]) -> None:
        """Wrap the datagrams of one DMG1-socket read into frames, track their sessions, spool them."""
        results = [classify_dmg1(d, s, self.dmg1) for d, s in zip(datagrams, sources, strict=True)]
        self._spool_results(results, datagrams, sources, received_ns)

    def _spool_results(
        self,
        results: list[Accepted | Rejected],
        datagrams: list[bytes],
        sources: list[Address],
        received_ns: list[int],
    ) -> None:
        m = self.metrics
        m.datagrams += len(datagrams)
        now = time.monotonic()
        spool = self.spool
        # One check per read while the spool has room for the whole batch; record by record near the bound.
        fits = spool.room() >= sum(map(len, datagrams)) + len(datagrams) * (RECORD_HEAD.size + DEADLETTER_MAX_HEAD)
        append: Callable[[int, int, bytes], bool | None] = spool.append if fits else spool.try_append
        by_catalog = m.accepted_by_catalog
        for result, data, source, received in zip(results, datagrams, sources, received_ns, strict=True):
            if isinstance(result, Accepted):
                ids = result.ids
                if append(KIND_FRAME, received, result.frame) is False:
                    m.refused_spool_full += 1
                    continue
                tracker = m.sessions.get(ids.session_id)
                if tracker is None:
                    tracker = m.sessions[ids.session_id] = SequenceTracker()
                    m.session_car[ids.session_id] = ids.car_id
                    m.session_source[ids.session_id] = address_text(source)
                    log.info(
                        "new session",
                        extra={
                            "session_id": ids.session_id,
                            "car_id": ids.car_id,
                            "source": m.session_source[ids.session_id],
                            "compat": result.compat,
                            "catalog": f"{ids.catalog_hash:08x}",
                        },
                    )
                m.session_last_seen[ids.session_id] = now
                tracker.observe(ids.sequence)
                m.accepted += 1
                by_catalog[ids.catalog_hash] += 1
                if result.compat:
                    m.accepted_dmg1 += 1
            else:
                self._reject(result, data, address_text(source), received, append)

    def _reject(
        self,
        result: Rejected,
        data: bytes,
        source: str,
        received_ns: int,
        append: Callable[[int, int, bytes], bool | None],
    ) -> None:
        m = self.metrics
        letter = pack_deadletter(result.reason.value, result.detail, source, data)
        if append(KIND_DEADLETTER, received_ns, letter) is False:
            m.refused_spool_full += 1
            return
        m.rejected[result.reason.value] += 1
        if sum(m.rejected.values()) % 1000 == 1:
            log.warning(
                "datagram rejected",
                extra={
                    "reason": result.reason.value,
                    "detail": result.detail,
                    "source": source,
                    "rejected_total": sum(m.rejected.values()),
                },
            )

    def drop_sender(self, kind: str, source: Address) -> None:
        """Count (and name once in the log) a datagram from outside BRIDGE_ALLOWED_SENDERS."""
        self.metrics.dropped[kind, SENDER_NOT_ALLOWED] += 1
        host = source[0]
        if host not in self._logged_senders and len(self._logged_senders) < LOGGED_SENDERS:
            self._logged_senders.add(host)
            log.warning(
                "datagram dropped: sender outside BRIDGE_ALLOWED_SENDERS",
                extra={"input": kind, "source": address_text(source), "allowed": self.cfg.bridge_allowed_senders},
            )

    def serve_socket(self) -> None:
        spool = self.spool
        handlers = {self.sock: self.handle_batch}
        kinds = {self.sock: INPUT_FRAMES}
        if self.dmg1_sock is not None:
            handlers[self.dmg1_sock] = self.handle_dmg1_batch
            kinds[self.dmg1_sock] = INPUT_DMG1
        allows = self.senders.allows
        sockets = list(handlers)
        last_sync = last_sweep = time.monotonic()
        while not self.stopping.is_set():
            ready, _, _ = select.select(sockets, [], [], 0.2)
            for sock in ready:
                datagrams: list[bytes] = []
                sources: list[Address] = []
                received: list[int] = []
                for _ in range(DRAIN_BATCH):
                    try:
                        data, addr = sock.recvfrom(2048)
                    except BlockingIOError:
                        break
                    if not allows(addr[0]):
                        self.drop_sender(kinds[sock], addr)
                        continue
                    received.append(time.time_ns())
                    datagrams.append(data)
                    sources.append(addr)
                if datagrams:
                    handlers[sock](datagrams, sources, received)
            spool.flush()
            now = time.monotonic()
            if now - last_sync > 1.0:
                spool.sync()
                last_sync = now
            if now - last_sweep > 60:
                self.metrics.forget_idle_sessions(600)
                last_sweep = now

    # ---------- HTTP: /metrics, /health, /sessions ----------
    def health(self) -> dict[str, Any]:
        m = self.metrics
        kafka = self.forwarder.connected
        forwarding = self.forwarder.is_alive()
        full = self.spool.room() < FULL_FRAME_RECORD  # the next frame of the current catalog would be refused
        status = "error" if not forwarding else "spool_full" if full else "ok" if kafka else "degraded"
        return {
            "status": status,
            "kafka_connected": kafka,
            "forwarder_alive": forwarding,
            "spool_backlog_bytes": self.spool.backlog_bytes(),
            "spool_max_bytes": self.spool.max_bytes,
            "spool_full": full,
            "refused_spool_full": m.refused_spool_full,
            "dropped": {f"{kind}/{reason}": n for (kind, reason), n in sorted(m.dropped.items())},
            "datagrams": m.datagrams,
            "accepted": m.accepted,
            "rejected": dict(m.rejected),
            "forwarded": m.forwarded,
            "sessions": len(m.sessions),
            "socket_drops": socket_drops(self.port),
            "ack_latency_ms": m.latency_ms(),
            "uptime_s": time.time() - m.started,
            "catalog_hash": CATALOG.hash_hex,
            "catalog_version": CATALOG.version,
            "accepted_by_catalog": m.catalog_counts(CATALOG),
            "udp_port": self.port,
            "dmg1_port": self.dmg1_port,
        }

    def health_response(self) -> tuple[int, dict[str, Any]]:
        """200 while the bridge works (Kafka down only delays frames; a full spool refuses new ones and
        says so, ``spool_full``), 503 once nothing can be forwarded (restarting may help)."""
        doc = self.health()
        return (503 if doc["status"] == "error" else 200), doc

    def start_http(self) -> None:
        registry = CollectorRegistry()
        registry.register(
            PrometheusView(
                self.metrics, self.spool.backlog_bytes, lambda: self.forwarder.connected, self.port, CATALOG
            )
        )
        self.http = serve_status(
            self.cfg.platform_bind_address,
            self.cfg.bridge_http_port,
            registry,
            {
                "/health": self.health_response,
                "/sessions": lambda: (200, [asdict(s) for s in self.metrics.session_stats()]),
            },
            auth=HttpAuth.of(self.cfg),
        )

    # ---------- lifecycle ----------
    def run(self) -> None:
        self.start_http()
        self.forwarder.start()
        log.info(
            "bridge listening",
            extra={
                "udp": f"{self.cfg.platform_bind_address}:{self.port}",
                "dmg1_udp": f"{self.cfg.platform_bind_address}:{self.dmg1_port}" if self.dmg1_port else "off",
                "http": self.cfg.bridge_http_url,
                "kafka": self.cfg.kafka_bootstrap,
                "spool_backlog_bytes": self.spool.backlog_bytes(),
                "catalog": CATALOG.hash_hex,
            },
        )
        try:
            self.serve_socket()
        finally:
            self.shutdown()

    def shutdown(self, drain_timeout: float = 20.0) -> None:
        self.sock.close()
        if self.dmg1_sock is not None:
            self.dmg1_sock.close()
        self.spool.flush()
        drained = self.forwarder.drain(drain_timeout) if self.forwarder.connected else False
        self.forwarder.stop()
        self.spool.close()
        if self.http is not None:
            self.http.shutdown()
        log.info(
            "bridge stopped",
            extra={
                "drained": drained,
                "spool_backlog_bytes": self.spool.backlog_bytes(),
                "datagrams": self.metrics.datagrams,
            },
        )

    def install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: object) -> None:
            log.info("signal received, flushing", extra={"signal": signal.Signals(signum).name})
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
