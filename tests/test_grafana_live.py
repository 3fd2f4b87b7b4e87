"""Grafana Live path: line protocol (checked with a real parser), the non-blocking pusher against
real sockets (nothing listening, a slow endpoint, a recording endpoint), and the service end to end
with the running Kafka."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import line_protocol_parser as lpp
import pytest
import requests
from kafka import KafkaProducer

from grafana.live.lines import (
    MISSING,
    Layout,
    body,
    escape_key,
    escape_measurement,
    line,
    prediction_lines,
    quote_string,
    window_lines,
)
from grafana.live.pusher import MAX_BATCH_BYTES, Pusher, PushSettings, push_url
from grafana.live.service import LiveService
from p424.catalog import CATALOG, Kind, Transport
from p424.config import REPO_ROOT, Config
from p424.kafka import auth as kafka_auth
from p424.kafka.messages import ChannelStats, PredictionMessage, SessionQualitySnapshot, WindowMessage
from tests.helpers import Stack, environ_without_settings, unique_session_id, wait_for


def window(session_id: int = 253283429522628666, car_id: int = 7) -> WindowMessage:
    channels = {}
    for i, c in enumerate(CATALOG.payload_channels):
        mid = (c.lo + c.hi) / 2 + (c.hi - c.lo) * 0.01 * (i % 7)
        channels[c.name] = ChannelStats(min=c.lo, max=c.hi, mean=mid, last=c.lo + (c.hi - c.lo) * 0.25)
    return WindowMessage(
        session_id=session_id,
        car_id=car_id,
        window_ms=100,
        lap=3,
        window_start=412.3,
        ts_ms=1_763_868_108_439,
        lap_time=71.25,
        lap_distance=4321.5,
        frame_count=5,
        channels=channels,
        lap_energy_drawn_kwh=1.5,
        lap_energy_regen_kwh=0.25,
        quality=SessionQualitySnapshot(
            frames_received=995, frames_lost=5, frames_duplicated=1, frames_late=2, frames_out_of_order=3
        ),
    )


def prediction(session_id: int = 253283429522628666) -> PredictionMessage:
    return PredictionMessage(
        session_id=session_id,
        car_id=7,
        lap=3,
        ts_ms=1_763_868_108_500,
        window_start=412.4,
        lap_distance=4400.0,
        lap_time_so_far=72.0,
        predicted_lap_time=410.5,
        predicted_energy_kwh=9.75,
        baseline_lap_time=412.0,
        baseline_energy_kwh=10.0,
        model_name="p424_lap_outcome",
        model_version="3",
        latency_ms=4.2,
    )


# ---------------------------------------------------------------- line protocol
def test_window_line_carries_every_catalog_channel_in_display_units() -> None:
    msg = window()
    parsed = [lpp.parse_line(x) for x in window_lines(msg)]
    channels = next(p for p in parsed if p["measurement"] == Layout(7).channels)
    assert channels["time"] == msg.ts_ms * 1_000_000  # session wall clock, nanoseconds
    assert channels["tags"] == {}
    fields = channels["fields"]
    for c in CATALOG.channels:
        if c.name == "markers":  # frame-level bitmask: windows carry no markers (see README)
            continue
        assert c.name in fields, c.name
    for c in CATALOG.payload_channels:
        stats = msg.channels[c.name]
        raw = stats.last if c.kind is Kind.DISCRETE else stats.mean
        assert fields[c.name] == pytest.approx(raw * c.multiplier), c.name
    assert fields["speed"] == pytest.approx(msg.channels["speed"].mean * 3.6)
    assert fields["lap"] == 3.0
    assert fields["lap_distance"] == pytest.approx(4.3215)  # km
    assert fields["sim_time"] == pytest.approx(412.4)  # window end on the session clock
    assert fields["lap_energy_net_kwh"] == pytest.approx(1.25)
    assert fields["session"] == "253283429522628666"  # a string: beyond float64 precision


def test_quality_and_prediction_lines_parse() -> None:
    quality = next(lpp.parse_line(x) for x in window_lines(window()) if x.startswith("car_7_quality"))
    assert quality["fields"]["frames_lost"] == 5.0
    assert quality["fields"]["loss_pct"] == pytest.approx(0.5)
    (pred,) = (lpp.parse_line(x) for x in prediction_lines(prediction()))
    assert pred["measurement"] == "car_7_prediction"
    assert pred["fields"]["predicted_delta_s"] == pytest.approx(-1.5)
    assert pred["fields"]["lap_distance"] == pytest.approx(4.4)
    assert pred["fields"]["model"] == "p424_lap_outcome/3"
    assert pred["time"] == 1_763_868_108_500_000_000


def test_escaping_round_trips_through_a_real_parser() -> None:
    nasty = 'a "quoted", spaced=value \\ with\nnewline'
    text = line("cpu load,x", {"f k=1,x": 1.5, "s": nasty, "ok": True, "n": 3}, 42, tags={"t k": "v,=1 2", "empty": ""})
    assert text is not None and "\n" not in text
    p = lpp.parse_line(text)
    assert p["measurement"] == "cpu load,x"
    assert p["tags"] == {"t k": "v,=1 2"}
    assert p["fields"] == {"f k=1,x": 1.5, "s": nasty.replace("\n", " "), "ok": True, "n": 3.0}
    assert p["time"] == 42
    assert escape_measurement("a=b") == "a=b"  # '=' needs no escape in a measurement
    assert escape_key("a=b") == r"a\=b"
    assert quote_string('x"y\\') == '"x\\"y\\\\"'


def test_non_finite_values_are_pushed_as_the_null_marker() -> None:
    """Grafana's converter reads the string "NaN" as a null float (convert.go getFieldTypeAndValue),
    so the field stays in the frame: leaving it out would change the schema (see lines.py)."""
    text = line("m", {"a": float("nan"), "b": float("-inf"), "c": 1.0}, 1)
    assert lpp.parse_line(text)["fields"] == {"a": MISSING, "b": MISSING, "c": 1.0}
    with pytest.raises(ValueError, match="'m' needs at least one field"):
        line("m", {}, 1)


def test_every_window_line_carries_the_same_fields_in_the_same_order() -> None:
    """A NaN channel, a channel the window lacks, another lap or session: the field set stays, so
    Grafana keeps one schema per measurement and the panels keep their history."""
    msg = window()
    nan = ChannelStats(min=float("nan"), max=float("nan"), mean=float("nan"), last=float("nan"))
    lacking = {k: v for k, v in msg.channels.items() if k != "throttle"}
    variants = [
        msg,
        replace(msg, channels={**msg.channels, "speed": nan}),
        replace(msg, channels=lacking),
        replace(msg, quality=None, lap=4, session_id=1),
    ]
    # (Grafana's converter sorts each line's fields by name, so the set decides the schema)
    keys = [set(lpp.parse_line(window_lines(m)[0])["fields"]) for m in variants]
    assert all(k == keys[0] for k in keys)
    fields = [lpp.parse_line(window_lines(m)[0])["fields"] for m in variants]
    assert fields[1]["speed"] == MISSING and fields[2]["throttle"] == MISSING
    assert isinstance(fields[1]["throttle"], float) and isinstance(fields[2]["speed"], float)
    quality = [lpp.parse_line(x)["fields"] for m in variants[:3] for x in window_lines(m)[1:]]
    assert len({tuple(q) for q in quality}) == 1


def test_header_channels_come_from_the_window() -> None:
    header = {c.name for c in CATALOG.channels if c.transport is Transport.HEADER}
    fields = lpp.parse_line(window_lines(window())[0])["fields"]
    assert header - set(fields) == {"markers"}


# ---------------------------------------------------------------- pusher against real sockets
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder(BaseHTTPRequestHandler):
    received: list[tuple[float, str, dict[str, str], bytes]]
    delay_s: float = 0.0
    status: int = 200

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((time.monotonic(), self.path, dict(self.headers), data))
        if self.delay_s:
            time.sleep(self.delay_s)
        try:
            self.send_response(self.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:  # the client gave up waiting
            pass

    def log_message(self, fmt: str, *args: Any) -> None:
        return


def serve(delay_s: float = 0.0, status: int = 200) -> tuple[ThreadingHTTPServer, list[Any]]:
    received: list[Any] = []
    handler = type("H", (Recorder,), {"received": received, "delay_s": delay_s, "status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[Any]]]:
    server, received = serve()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def offer_burst(pusher: Pusher, n: int) -> float:
    """Offer n lines as the Kafka loop would; returns the seconds it took."""
    lines = window_lines(window())
    start = time.monotonic()
    for _ in range(n):
        pusher.buffer.offer(lines)
    return time.monotonic() - start


def test_pusher_with_nothing_listening_never_blocks_and_counts_drops() -> None:
    url = push_url(f"http://127.0.0.1:{free_port()}", "p424")
    pusher = Pusher(PushSettings(url, "t", max_buffer_lines=500, backoff_initial_s=0.2))
    pusher.start()
    try:
        took = offer_burst(pusher, 5000)  # 10,000 lines into a 500-line buffer
        assert took < 1.0
        assert len(pusher.buffer) <= 500
        wait_for(lambda: pusher.stats.request_errors >= 1, 10, "a refused push")
        st = pusher.stats
        assert st.dropped >= 10_000 - 500 - st.failed - len(pusher.buffer)
        assert st.dropped > 0 and st.pushed == 0 and st.backoff_s >= 0.2
        assert st.last_error == "ConnectionError"
    finally:
        stop = time.monotonic()
        pusher.stop()
        assert time.monotonic() - stop < 5 and not pusher.alive


def test_pusher_against_a_slow_grafana_keeps_the_producer_free() -> None:
    server, received = serve(delay_s=3.0)
    url = push_url(f"http://127.0.0.1:{server.server_address[1]}", "p424")
    pusher = Pusher(PushSettings(url, "t", max_buffer_lines=200, read_timeout_s=0.3, backoff_initial_s=0.2))
    pusher.start()
    try:
        took = offer_burst(pusher, 2000)
        assert took < 1.0  # the producer never waits for the slow request
        wait_for(lambda: pusher.stats.last_error == "ReadTimeout", 10, "a timed-out push")
        assert len(pusher.buffer) <= 200 and pusher.stats.dropped > 0
    finally:
        pusher.stop()
        server.shutdown()
        server.server_close()
    assert received  # the request did reach the server


def test_pusher_batches_rate_limits_and_authenticates(recorder: tuple[str, list[Any]]) -> None:
    base, received = recorder
    settings = PushSettings(push_url(base, "p424"), "sa-token", max_batch_lines=50, max_requests_per_s=5)
    pusher = Pusher(settings)
    pusher.start()
    try:
        for _ in range(150):  # 300 lines at once: at least 6 batches of <= 50
            pusher.buffer.offer(window_lines(window()))
        wait_for(lambda: pusher.stats.pushed == 300, 15, "all lines pushed")
    finally:
        pusher.stop()
    times = [r[0] for r in received]
    assert len(received) >= 6
    assert all(r[1] == "/api/live/push/p424" for r in received)
    assert all(r[2]["Authorization"] == "Bearer sa-token" for r in received)
    assert all(len(r[3].splitlines()) <= 50 for r in received)
    # 5 requests a second at most (send times are paced; arrivals jitter by one request at most)
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) <= 6
    for r in received:
        for text in r[3].decode().splitlines():
            assert lpp.parse_line(text)["measurement"] in ("car_7", "car_7_quality")


def test_pusher_caps_request_bodies_by_bytes(recorder: tuple[str, list[Any]]) -> None:
    """A catch-up backlog goes out in requests Grafana accepts: 1,000 lines of every channel are
    ~3 MB, Grafana's push handler reads at most 500 KiB (pusher.py)."""
    base, received = recorder
    lines = window_lines(window())
    assert MAX_BATCH_BYTES <= 500 * 1024 < len(body(lines * 500))  # the default cap matters
    cap = 20_000
    pusher = Pusher(PushSettings(push_url(base, "p424"), "t", max_batch_bytes=cap, max_requests_per_s=50))
    too_long = "m " + ",".join(f"f{i}=1.0" for i in range(cap // 6)) + " 1"
    pusher.buffer.offer([*lines * 20, too_long, *lines * 20])
    pusher.start()
    try:
        wait_for(lambda: pusher.stats.pushed == 80, 15, "every line that fits pushed")
    finally:
        pusher.stop()
    assert pusher.stats.oversized == 1 and pusher.stats.failed == 0
    assert all(len(r[3]) <= cap for r in received)
    assert max(len(r[3]) for r in received) > cap - len(body(lines))  # batches are filled up to the cap
    assert sum(len(r[3].splitlines()) for r in received) == 80


def test_rejected_pushes_back_off(recorder: tuple[str, list[Any]]) -> None:
    server, received = serve(status=401)
    pusher = Pusher(
        PushSettings(push_url(f"http://127.0.0.1:{server.server_address[1]}", "p424"), "", backoff_initial_s=0.3)
    )
    pusher.start()
    try:
        offer_burst(pusher, 10)
        wait_for(lambda: pusher.stats.request_errors >= 1, 10, "a rejected push")
        assert pusher.stats.last_error == "HTTP 401" and pusher.stats.status == {401: 1}
        assert "Authorization" not in received[0][2]
    finally:
        pusher.stop()
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- service
def test_service_health_metrics_and_bad_records() -> None:
    cfg = Config(grafana_url=f"http://127.0.0.1:{free_port()}", grafana_token="x")
    service = LiveService(cfg)
    service.pusher.start()
    host, port = service.start_http("127.0.0.1", 0)
    try:
        service.handle(cfg.kafka_topic_windows, b"{not json")
        service.handle(cfg.kafka_topic_windows, window().to_json())
        service.handle(cfg.kafka_topic_predictions, prediction().to_json())
        health = requests.get(f"http://{host}:{port}/health", timeout=5)
        assert health.status_code == 200
        doc = health.json()
        assert doc["status"] == "ok" and doc["records"] == 3
        metrics = requests.get(f"http://{host}:{port}/metrics", timeout=5).text
        assert "p424_grafana_live_decode_errors_total 1.0" in metrics
        assert "p424_grafana_live_lines_offered_total 3.0" in metrics
        assert "p424_grafana_live_lines_dropped_total" in metrics
    finally:
        service.stop()
        service.pusher.stop()


@pytest.mark.platform
def test_service_pushes_windows_from_the_real_kafka(stack: Stack, recorder: tuple[str, list[Any]]) -> None:
    base, received = recorder
    cfg = replace(stack.cfg, grafana_url=base, grafana_token="live-token")
    service = LiveService(cfg)
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    sid = unique_session_id()
    producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, **kafka_auth.kafka_python(cfg))
    try:
        wait_for(lambda: service.consume.connected, 30, "the consumer to connect")

        def seen() -> bool:
            # The consumer starts at the newest offsets once its partitions are assigned: keep sending.
            producer.send(
                cfg.kafka_topic_windows, key=str(sid).encode(), value=window(session_id=sid, car_id=424).to_json()
            )
            producer.flush()
            return any(f'session="{sid}"' in r[3].decode() for r in received)

        wait_for(seen, 90, "the window to reach the recording Grafana", interval=1.0)
        pushed = [lpp.parse_line(x) for r in received for x in r[3].decode().splitlines()]
        mine = [p for p in pushed if p["measurement"] == "car_424" and p["fields"]["session"] == str(sid)]
        assert mine and mine[0]["fields"]["speed"] == pytest.approx(window().channels["speed"].mean * 3.6)
        assert received[0][2]["Authorization"] == "Bearer live-token"
        assert json.loads(json.dumps(service.health()))["kafka_connected"] is True
    finally:
        producer.close()
        service.stop()
        runner.join(15)
    assert not runner.is_alive()


# ---------------------------------------------------------------- entry point and native service
def test_entry_point_serves_health_and_stops_on_sigterm(recorder: tuple[str, list[Any]], tmp_path: Path) -> None:
    port = free_port()
    # The pusher on settings of its own (auth off on loopback), whatever the test run was given, and with
    # no broker where it looks (a port nobody listens on): health and shutdown do not wait for Kafka.
    env = {**environ_without_settings(), "PLATFORM_STATE_DIR": str(tmp_path), "GRAFANA_URL": recorder[0],
           "GRAFANA_TOKEN": "t", "KAFKA_PORT": str(free_port())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "grafana.live", "--http-port", str(port)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def health() -> dict[str, Any] | None:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                return dict(r.json()) if r.status_code == 200 else None
            except requests.RequestException:
                return None

        doc = wait_for(health, 30, "the pusher's health endpoint")
        assert doc["status"] == "ok" and doc["grafana_url"] == recorder[0] and doc["stream"] == "p424"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        finally:
            if proc.poll() is None:
                proc.kill()
            assert proc.stderr is not None
            proc.stderr.close()
    assert code == 0


def test_entry_point_refuses_to_run_without_grafana_url(tmp_path: Path) -> None:
    env = {**environ_without_settings(), "PLATFORM_STATE_DIR": str(tmp_path), "GRAFANA_URL": ""}
    done = subprocess.run(
        [sys.executable, "-m", "grafana.live"], env=env, cwd=REPO_ROOT, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 2 and b"GRAFANA_URL is not set" in done.stderr


def test_native_service_runs_the_pusher_only_with_a_grafana_url(tmp_path: Path) -> None:
    from launcher.installers import Installer
    from launcher.paths import StatePaths
    from launcher.procs import Supervisor
    from launcher.services.base import Context
    from launcher.services.grafana_live import GrafanaLive

    def service(url: str) -> GrafanaLive:
        cfg = Config(platform_state_dir=str(tmp_path), grafana_url=url)
        paths = StatePaths.of(cfg)
        return GrafanaLive(Context(cfg, paths, Supervisor(paths.run, paths.logs), Installer(cfg, paths)))

    assert not service("").enabled
    live = service("http://grafana:3000")
    assert live.enabled and live.port == 9426
    (spec,) = live.processes()
    assert spec.argv[1:] == ["-m", "grafana.live"] and spec.argv[0].endswith("venvs/platform/bin/python")
    assert spec.env["PLATFORM_STATE_DIR"] == str(tmp_path)
    assert live.url.startswith("http://grafana:3000/api/live/push/p424")
    assert not live.healthy() or live.running()  # nothing of ours listens unless the service runs
