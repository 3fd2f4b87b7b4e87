"""Issue 4 end to end: bridge -> Kafka -> Flink -> Cassandra on the real native stack.

What Cassandra holds is compared with an independent pandas computation on the same input
(tests/reference.py), and with what was injected (loss, duplicates). The last test kills the
Flink TaskManager mid-stream and checks the restored job leaves Cassandra complete and
duplicate-free.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable

from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder, FrameHeader
from p424.sim import CarSimulator
from p424.storage.cluster import RECONNECT_MAX_DELAY_S
from tests.helpers import Stack, unique_session_id, wait_for
from tests.reference import reference_laps, reference_windows
from unity_bridge.lapfile import lap_frames, read_lap_file
from unity_bridge.sender import FrameSender

pytestmark = pytest.mark.platform


def stint(csv: Path, sid: int, laps: int, car: int = 1) -> tuple[list[bytes], pd.DataFrame]:
    lap = read_lap_file(csv)
    samples = list(lap_frames(lap, laps, car, sid))
    enc = FrameEncoder(~np.isnan(samples[0][1]))
    df = pd.DataFrame([v for _, v in samples], columns=list(CATALOG.payload_names)).astype("float64")
    df.insert(0, "sim_time", [h.sim_time for h, _ in samples])
    df.insert(1, "lap", [h.lap for h, _ in samples])
    df.insert(2, "lap_distance", [h.lap_distance for h, _ in samples])
    return [enc.encode(h, v) for h, v in samples], df


def send(stack: Stack, frames: list[bytes], rate: float | None = 5000.0) -> None:
    with FrameSender(stack.cfg.host_of("bridge"), stack.cfg.bridge_udp_port) as tx:
        t0 = time.perf_counter()
        for i, raw in enumerate(frames):
            if rate is not None:
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            tx.send(raw)


def stored_quality(stack: Stack, sid: int, received: int) -> dict[str, Any] | None:
    try:
        q = stack.store.quality(sid)
    except (DriverException, NoHostAvailable):  # the driver still reconnecting after a Cassandra restart
        return None
    return q if q and q["frames_received"] >= received else None


def laps_when(stack: Stack, sid: int, count: int) -> list[dict[str, Any]] | None:
    rows = stack.store.laps(sid)
    return rows if len(rows) >= count else None


def test_fixture_replay_is_stored_as_pandas_computes_it(stack: Stack, fixture_csv: Path) -> None:
    sid = unique_session_id()
    frames, df = stint(fixture_csv, sid, laps=3)
    send(stack, frames)
    wait_for(lambda: stored_quality(stack, sid, len(frames)), 300, "every frame to reach Cassandra")
    rows = {r["lap"]: r for r in wait_for(lambda: laps_when(stack, sid, 3), 60, "three lap rows")}
    ref = reference_laps(df)
    for lap, r in ref.iterrows():
        got = rows[lap]
        assert got["complete"] == r["complete"]
        assert got["lap_time"] == pytest.approx(r["lap_time"], abs=1e-6)  # to the sample
        assert got["distance"] == pytest.approx(r["distance"], rel=5e-3)
        assert got["energy_drawn_kwh"] == pytest.approx(r["drawn"], rel=5e-3)
        assert got["energy_regen_kwh"] == pytest.approx(r["regen"], rel=5e-3)
        assert got["energy_net_kwh"] == pytest.approx(r["drawn"] - r["regen"], rel=5e-3)
        assert got["max_speed"] == pytest.approx(r["max_speed"], rel=1e-6)
    assert stack.store.frame_count(sid, float(df["sim_time"].max())) == len(frames)
    session = stack.store.session_row(sid)
    assert session is not None and session["frames"] == len(frames) and session["catalog_hash"] == CATALOG.hash_hex
    for window_ms in (100, 1000):
        ref_w = reference_windows(df, window_ms)
        for lap in (1, 2):
            stored = stack.store.windows(
                sid,
                lap,
                window_ms,
                ["speed_min", "speed_max", "speed_mean", "speed_last", "power_electrical_total_mean"],
            )
            expect = ref_w.loc[lap]
            assert len(stored) == len(expect)
            assert [w["frame_count"] for w in stored] == list(expect["count"])
            np.testing.assert_allclose([w["speed_mean"] for w in stored], expect["mean"], rtol=1e-5)
            np.testing.assert_allclose([w["speed_max"] for w in stored], expect["max"], rtol=1e-6)
            np.testing.assert_allclose([w["speed_last"] for w in stored], expect["last"], rtol=1e-6)
            np.testing.assert_allclose(
                [w["power_electrical_total_mean"] for w in stored], expect["mean_power"], rtol=1e-5
            )


def test_a_simulated_multi_lap_session_is_stored_lap_by_lap(stack: Stack) -> None:
    sim = CarSimulator(car_id=21, session_id=unique_session_id(), seed=11, rate_hz=20, laps=3)
    block = sim.run()
    enc = FrameEncoder()
    frames = [enc.encode(block.header(i), block.values[i]) for i in range(len(block))]
    send(stack, frames, rate=6000)
    sid = sim.session_id
    wait_for(lambda: stored_quality(stack, sid, len(frames)), 300, "the simulated session in Cassandra")
    rows = {r["lap"]: r for r in wait_for(lambda: laps_when(stack, sid, 3), 60, "three lap rows")}
    t = block.sim_time
    p = block.column("power_electrical_total").astype(np.float64)
    # the session ends with the line crossing that closes lap 3: all three laps are complete
    for lap in (1, 2, 3):
        span = np.flatnonzero((block.lap == lap) | (np.arange(len(block)) == np.flatnonzero(block.lap == lap + 1)[0]))
        tt, pp = t[span], p[span]
        drawn = np.trapezoid(np.clip(pp, 0, None), tt) / 3600
        regen = -np.trapezoid(np.clip(pp, None, 0), tt) / 3600
        got = rows[lap]
        assert got["complete"] and not got["invalidated"]
        assert got["lap_time"] == pytest.approx(tt[-1] - tt[0], abs=1e-6)
        assert got["lap_time"] == pytest.approx(sim.lap_summaries[lap - 1].lap_time, abs=0.1)
        assert got["energy_drawn_kwh"] == pytest.approx(drawn, rel=5e-3)
        assert got["energy_regen_kwh"] == pytest.approx(regen, rel=5e-3)
        assert got["distance"] == pytest.approx(20_680, rel=5e-3)
        assert len(got["sector_times"]) == 3
    assert sorted(rows) == [1, 2, 3]  # the closing crossing's single frame of lap 4 is not a lap
    profile = stack.store.profile(sid, 1)
    assert len(profile) >= 2060 and all(b["elapsed"] > a["elapsed"] for a, b in itertools.pairwise(profile))


def test_injected_loss_and_duplicates_are_what_session_quality_reports(stack: Stack) -> None:
    sid = unique_session_id()
    enc = FrameEncoder()
    values = np.zeros(len(CATALOG.payload_channels), dtype=np.float32)
    lost = {7, 8, 9, 300, 301, 555}
    dupes = [20, 21, 22, 23]
    order = [s for s in range(1000) if s not in lost] + dupes
    frames = [enc.encode(FrameHeader(5, sid, s, s * 0.02, lap=1, lap_distance=s * 1.0), values) for s in order]
    send(stack, frames, rate=2000)
    q = wait_for(lambda: stored_quality(stack, sid, 1000 - len(lost)), 120, "the session's quality row")

    def settled() -> dict[str, Any] | None:
        row = stack.store.quality(sid)
        return row if row and row["frames_duplicated"] == len(dupes) else None

    q = wait_for(settled, 60, "the duplicates to be counted")
    assert q["frames_received"] == 1000 - len(lost)
    assert q["frames_lost"] == len(lost)
    assert q["frames_duplicated"] == len(dupes)
    assert q["frames_late"] == 0


@pytest.mark.slow
def test_killing_the_taskmanager_mid_stream_leaves_cassandra_complete_and_duplicate_free(
    stack: Stack, fixture_csv: Path
) -> None:
    sid = unique_session_id()
    frames, df = stint(fixture_csv, sid, laps=6)  # 6606 frames at 300/s: 22 s of streaming
    sender = threading.Thread(target=send, args=(stack, frames, 300.0))
    sender.start()
    sup = stack.platform.ctx.supervisor
    time.sleep(9)  # at least one checkpoint (5 s interval) of this session's state exists by now
    pid = sup.pid("flink-taskmanager")
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # the TaskManager and its Python workers die mid-stream
    wait_for(lambda: not sup.running("flink-taskmanager"), 20, "the TaskManager to be gone")
    sup.stop("flink-taskmanager")
    for spec in stack.platform.flink.processes():
        if spec.name == "flink-taskmanager":
            sup.start(spec)
    sender.join()
    wait_for(lambda: stored_quality(stack, sid, len(frames)), 300, "the restored job to catch up")
    rows = {r["lap"]: r for r in wait_for(lambda: laps_when(stack, sid, 6), 120, "six lap rows")}
    ref = reference_laps(df)
    for lap, r in ref.iterrows():
        assert rows[lap]["lap_time"] == pytest.approx(r["lap_time"], abs=1e-6)
        assert rows[lap]["energy_net_kwh"] == pytest.approx(r["drawn"] - r["regen"], rel=5e-3)
        assert rows[lap]["frames"] == (df["lap"] == lap).sum()  # nothing counted twice after the restore
    q = stack.store.quality(sid)
    assert q is not None and q["frames_received"] == len(frames) and q["frames_lost"] == 0
    assert stack.store.frame_count(sid, float(df["sim_time"].max())) == len(frames)
    ref_w = reference_windows(df, 100)
    for lap in range(1, 7):
        stored = stack.store.windows(sid, lap, 100)
        assert [w["frame_count"] for w in stored] == list(ref_w.loc[lap]["count"])
    info = stack.platform.flink_jobs().active(stack.cfg.flink_job_name)
    assert info is not None and info.state == "RUNNING"


@pytest.mark.slow
def test_a_cassandra_outage_longer_than_the_sink_retries_delays_data_and_loses_nothing(
    stack: Stack, fixture_csv: Path
) -> None:
    """README "Guarantees": an outage of Cassandra only delays data. Cassandra is stopped mid-stream for
    longer than the sink's retry budget (8 attempts, back-off up to 10 s: about 25 s), so the job fails,
    restarts from its checkpoint and replays from Kafka once Cassandra is back."""
    sid = unique_session_id()
    frames, df = stint(fixture_csv, sid, laps=6)
    sender = threading.Thread(target=send, args=(stack, frames, 300.0))
    sender.start()
    cassandra = stack.platform.cassandra
    time.sleep(6)
    assert cassandra.stop()
    try:
        sender.join()
        time.sleep(45)  # frames keep arriving in Kafka meanwhile; the sink's retries run out
    finally:
        cassandra.start()
        cassandra.wait_healthy()
    store = stack.store  # the driver reconnects by itself, within its longest back-off (p424.storage.cluster)
    wait_for(lambda: all(h.is_up for h in store.session.cluster.metadata.all_hosts()),
             RECONNECT_MAX_DELAY_S * 1.15 + 10, "the store's session to see Cassandra back")
    wait_for(lambda: stored_quality(stack, sid, len(frames)), 420, "the restarted job to catch up after Cassandra")
    rows = {r["lap"]: r for r in wait_for(lambda: laps_when(stack, sid, 6), 120, "six lap rows")}
    ref = reference_laps(df)
    for lap, r in ref.iterrows():
        assert rows[lap]["complete"] == r["complete"]
        assert rows[lap]["lap_time"] == pytest.approx(r["lap_time"], abs=1e-6)
        assert rows[lap]["frames"] == (df["lap"] == lap).sum()  # nothing counted twice after the replay
    q = store.quality(sid)
    assert q is not None and q["frames_received"] == len(frames) and q["frames_lost"] == 0
    assert q["frames_duplicated"] == 0  # Kafka replay after the restore is deduplicated by the job's state
    assert store.frame_count(sid, float(df["sim_time"].max())) == len(frames)
    ref_w = reference_windows(df, 100)
    for lap in range(1, 7):
        stored = store.windows(sid, lap, 100)
        assert [w["frame_count"] for w in stored] == list(ref_w.loc[lap]["count"])
    info = stack.platform.flink_jobs().active(stack.cfg.flink_job_name)
    assert info is not None and info.state == "RUNNING"
