"""The UDP bridge against the real Kafka of the native stack."""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from p424.analysis import get_session
from p424.catalog import CATALOG
from p424.codec.dmg1 import DMG1_CHANNELS, encode_dmg1
from p424.codec.frame import OFFSET, FrameEncoder, FrameHeader, decode_header, session_key
from p424.config import Config
from p424.security.http import bearer_headers
from tests.helpers import Stack, unique_session_id, wait_for
from unity_bridge.forwarder import DELIVERY_TIMEOUT_MS
from unity_bridge.lapfile import lap_frames, read_lap_file
from unity_bridge.sender import FrameSender
from unity_bridge.server import Bridge
from unity_bridge.streams import replay_lap_file

pytestmark = pytest.mark.platform


def bridge_health(stack: Stack) -> dict[str, Any]:
    return requests.get(f"{stack.cfg.bridge_http_url}/health", timeout=5).json()  # type: ignore[no-any-return]


def drained(stack: Stack) -> bool:
    h = bridge_health(stack)
    return bool(h["kafka_connected"] and h["spool_backlog_bytes"] == 0)


def frames_for(stack: Stack, start: Any, key: bytes, count: int, timeout: float = 60) -> list[Any]:
    return stack.records_since(stack.cfg.kafka_topic_frames, start, until_count=count, timeout=timeout, key=key)


def test_replaying_the_fixture_puts_one_record_per_frame_in_order(stack: Stack, fixture_csv: Path) -> None:
    start = stack.end_offsets(stack.cfg.kafka_topic_frames)
    sid = unique_session_id()
    result = replay_lap_file(
        fixture_csv,
        stack.cfg.host_of("bridge"),
        stack.cfg.bridge_udp_port,
        speed=None,
        laps=2,
        car_id=9,
        session_id=sid,
        quiet=True,
    )
    assert result.frames_sent == 2 * 1101 + 1  # two laps and the crossing that closes the second
    wait_for(lambda: drained(stack), 30, "the bridge to forward everything")
    key = (9).to_bytes(2, "little") + sid.to_bytes(8, "little", signed=True)
    records = frames_for(stack, start, key, result.frames_sent)
    assert len(records) == result.frames_sent  # exactly one record per frame
    assert len({r.partition for r in records}) == 1  # keyed by car and session: one partition, so ordered
    assert [decode_header(r.value).sequence for r in records] == list(range(result.frames_sent))
    assert all(session_key(r.value) == r.key for r in records)
    sessions = {s["session_id"]: s for s in requests.get(f"{stack.cfg.bridge_http_url}/sessions", headers=bearer_headers(stack.cfg), timeout=5).json()}
    assert sessions[sid]["received"] == result.frames_sent and sessions[sid]["lost"] == 0


def test_loss_duplicates_and_out_of_order_are_counted(stack: Stack) -> None:
    sid = unique_session_id()
    enc = FrameEncoder()
    values = np.zeros(len(enc.present), dtype=np.float32)
    order = [s for s in range(200) if s not in (50, 51, 52, 120)] + [10, 11, 150]  # 4 lost, 3 duplicates
    order[100], order[101] = order[101], order[100]  # one swap: out of order
    with FrameSender(stack.cfg.host_of("bridge"), stack.cfg.bridge_udp_port) as tx:
        for seq in order:
            tx.send(enc.encode(FrameHeader(3, sid, seq, seq * 0.02), values))

    def stats() -> dict[str, int] | None:
        rows = requests.get(f"{stack.cfg.bridge_http_url}/sessions", headers=bearer_headers(stack.cfg), timeout=5).json()
        # Every datagram accounted for, the three trailing duplicates included.
        return next((r for r in rows if r["session_id"] == sid and r["received"] + r["duplicated"] == len(order)), None)

    s = wait_for(stats, 20, "the bridge to account for every datagram of the session")
    assert s["received"] == 196
    assert (s["lost"], s["duplicated"], s["out_of_order"]) == (4, 3, 1)
    metrics = requests.get(f"{stack.cfg.bridge_http_url}/metrics", headers=bearer_headers(stack.cfg), timeout=5).text
    assert f'p424_bridge_session_frames_lost_total{{car="3",session="{sid}"}} 4.0' in metrics


def test_bad_datagrams_are_counted_dead_lettered_and_the_bridge_keeps_running(stack: Stack) -> None:
    start = stack.end_offsets(stack.cfg.kafka_topic_deadletter)
    before = bridge_health(stack)["rejected"]
    good = FrameEncoder().encode(
        FrameHeader(1, unique_session_id(), 0, 0.0), np.zeros(len(CATALOG.payload_channels), dtype=np.float32)
    )
    bad = {
        "truncated": good[:30],
        "bad_magic": b"NOPE" + good[4:],
        "unsupported_version": good[:4] + b"\x07" + good[5:],
        "unknown_catalog": good[: OFFSET["catalog_hash"]] + b"\x00\x00\x00\x00" + good[OFFSET["catalog_hash"] + 4 :],
        "non_finite": good[:-4] + struct.pack("<f", float("inf")),
        "oversized": good + bytes(2000),
    }
    with FrameSender(stack.cfg.host_of("bridge"), stack.cfg.bridge_udp_port) as tx:
        for raw in bad.values():
            tx.send(raw)
        tx.send(good)
    records = stack.records_since(stack.cfg.kafka_topic_deadletter, start, until_count=len(bad), timeout=30)
    reasons = sorted(dict(r.headers)["reason"].decode() for r in records)
    assert reasons == sorted(bad)
    by_reason = {dict(r.headers)["reason"].decode(): r for r in records}
    assert by_reason["bad_magic"].value == bad["bad_magic"]  # the original datagram is kept for inspection
    after = bridge_health(stack)
    assert after["status"] == "ok"
    for reason in bad:
        assert after["rejected"].get(reason, 0) == before.get(reason, 0) + 1


def test_an_unmodified_simulators_dmg1_output_becomes_a_stored_session(stack: Stack) -> None:
    """What the simulator sends to 127.0.0.1:56236 with no change to it (its DynismaMotionPlatform
    output: nine float64, no header) reaches Cassandra as a session of the DMG1 channels."""
    assert stack.cfg.bridge_dmg1_port == 56236  # the simulator's default destination
    n, rate = 300, 150.0  # the simulator sends at most 150 datagrams/s
    speeds = [40.0 + 0.1 * i for i in range(n)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sim:
        sim.bind(("127.0.0.1", 0))
        source = f"127.0.0.1:{sim.getsockname()[1]}"
        for i in range(n):
            values = dict.fromkeys(DMG1_CHANNELS, 0.5)
            values["speed"] = speeds[i]
            sim.sendto(encode_dmg1(100.0 + i / rate, values), (stack.cfg.host_of("bridge"), stack.cfg.bridge_dmg1_port))
            time.sleep(1 / rate)

    def ours() -> dict[str, Any] | None:
        rows = requests.get(f"{stack.cfg.bridge_http_url}/sessions", headers=bearer_headers(stack.cfg), timeout=5).json()
        return next((r for r in rows if r["source"] == source and r["received"] == n), None)

    session = wait_for(ours, 20, "the bridge to take every DMG1 datagram as one session")
    sid = int(session["session_id"])
    assert session["car_id"] == stack.cfg.bridge_car_id_dmg1 and session["lost"] == 0
    wait_for(lambda: (stack.store.quality(sid) or {}).get("frames_received") == n, 120, "the session in Cassandra")
    stored = get_session(sid, stack.store)
    assert stored.info["catalog_hash"] == CATALOG.hash_hex
    (lap,) = [stored.laps.pick_lap(int(number)) for number in stored.laps["LapNumber"]]
    assert not lap["Complete"]  # DMG1 carries no lap data: one open lap
    raw = lap.get_telemetry(channels=["speed", "accel_lateral", "throttle"], source="raw")
    assert len(raw) == n
    np.testing.assert_allclose(raw["speed"], speeds, rtol=1e-6)
    assert (raw["accel_lateral"] == 0.5).all() and raw["throttle"].isna().all()  # no powertrain or driver data
    windows = lap.get_telemetry(channels=["speed"])
    assert windows["speed"].notna().all() and len(windows) >= n / rate / 0.1 - 2  # 100 ms windows over 2 s


def _send_paced(stack: Stack, frames: list[bytes], rate: float, stop_at: threading.Event | None = None) -> None:
    with FrameSender(stack.cfg.host_of("bridge"), stack.cfg.bridge_udp_port) as tx:
        t0 = time.perf_counter()
        for i, raw in enumerate(frames):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            tx.send(raw)


def _stint(fixture_csv: Path, sid: int, laps: int, car: int) -> list[bytes]:
    lap = read_lap_file(fixture_csv)
    samples = list(lap_frames(lap, laps, car, sid))
    enc = FrameEncoder(~np.isnan(samples[0][1]))
    return [enc.encode(h, v) for h, v in samples]


@pytest.mark.slow
def test_a_broker_outage_mid_replay_loses_nothing(stack: Stack, fixture_csv: Path) -> None:
    sid, car = unique_session_id(), 11
    frames = _stint(fixture_csv, sid, 4, car)  # 4404 frames at 400/s: 11 s
    start = stack.end_offsets(stack.cfg.kafka_topic_frames)
    sender = threading.Thread(target=_send_paced, args=(stack, frames, 400.0))
    sender.start()
    time.sleep(2)
    kafka = stack.platform.kafka
    try:
        assert kafka.stop()  # the broker goes away mid-replay
        wait_for(
            lambda: not bridge_health(stack)["kafka_connected"] or bridge_health(stack)["spool_backlog_bytes"] > 0,
            30,
            "the bridge to notice the outage",
        )
        # Longer than the producer's delivery timeout: records expire in the client, the forwarder
        # must rewind to a fresh producer (a CI run once caught it wedged here).
        time.sleep(DELIVERY_TIMEOUT_MS / 1000 + 5)
    finally:
        kafka.start()
        kafka.wait_healthy()
    sender.join()
    wait_for(lambda: drained(stack), 120, "the bridge to drain its spool into Kafka")
    key = car.to_bytes(2, "little") + sid.to_bytes(8, "little", signed=True)
    records = frames_for(stack, start, key, len(frames), timeout=90)
    seqs = [decode_header(r.value).sequence for r in records]
    assert set(seqs) == set(range(len(frames)))  # every sequence number arrived
    assert bridge_health(stack)["socket_drops"] == 0


@pytest.mark.slow
def test_spooled_frames_survive_a_bridge_restart_while_kafka_is_down(stack: Stack, fixture_csv: Path) -> None:
    sid, car = unique_session_id(), 12
    frames = _stint(fixture_csv, sid, 1, car)
    start = stack.end_offsets(stack.cfg.kafka_topic_frames)
    kafka, bridge = stack.platform.kafka, stack.platform.bridge
    try:
        kafka.stop()
        _send_paced(stack, frames, 2000.0)
        wait_for(lambda: bridge_health(stack)["accepted"] >= len(frames), 20, "the bridge to accept the frames")
        bridge.stop()  # SIGTERM: cannot drain to Kafka, so the frames stay in the spool
        bridge.start()
        bridge.wait_healthy()
        assert bridge_health(stack)["spool_backlog_bytes"] > 0
    finally:
        kafka.start()
        kafka.wait_healthy()
    wait_for(lambda: drained(stack), 120, "the restarted bridge to drain its spool")
    key = car.to_bytes(2, "little") + sid.to_bytes(8, "little", signed=True)
    records = frames_for(stack, start, key, len(frames), timeout=60)
    seqs = [decode_header(r.value).sequence for r in records]
    assert seqs == list(range(len(frames)))  # all of them, in order


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_health_is_503_once_frames_cannot_be_forwarded(cfg: Config, tmp_path: Path) -> None:
    # A bridge whose forwarder thread is not running (as if it had died) still takes datagrams
    # into its spool, but health checks (status, compose) must see that nothing reaches Kafka.
    own = replace(cfg, bridge_udp_port=0, bridge_dmg1_port=0, bridge_http_port=_free_tcp_port())
    bridge = Bridge(own, spool_dir=tmp_path)
    try:
        bridge.start_http()
        response = requests.get(f"http://127.0.0.1:{own.bridge_http_port}/health", timeout=5)
        assert response.status_code == 503
        assert response.json()["status"] == "error" and response.json()["forwarder_alive"] is False
    finally:
        if bridge.http is not None:
            bridge.http.shutdown()
            bridge.http.server_close()
        bridge.sock.close()
        bridge.spool.close()
