"""Session processing on in-memory frames (no Kafka, no Flink), checked against pandas.

The reference computations here use only pandas/numpy on the lap file, not p424.processing.
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder, FrameHeader
from p424.processing.outputs import Outputs
from p424.processing.session import ProcessingSettings, SessionProcessor
from p424.sim import CarSimulator
from p424.storage.schema import PROFILE_STEP_M
from tests.reference import reference_laps, reference_windows
from unity_bridge.lapfile import lap_frames, read_lap_file

T0_MS = 1_790_000_000_000
LAPS = 3


def encode_stint(
    csv: Path, laps: int = LAPS, session_id: int = 77
) -> tuple[list[bytes], list[FrameHeader], pd.DataFrame]:
    lap = read_lap_file(csv)
    samples = list(lap_frames(lap, laps, 1, session_id))
    enc = FrameEncoder(~np.isnan(samples[0][1]))
    raws = [enc.encode(h, v) for h, v in samples]
    df = pd.DataFrame([v for _, v in samples], columns=list(CATALOG.payload_names)).astype("float64")
    df.insert(0, "sim_time", [h.sim_time for h, _ in samples])
    df.insert(1, "lap", [h.lap for h, _ in samples])
    df.insert(2, "lap_distance", [h.lap_distance for h, _ in samples])
    return raws, [h for h, _ in samples], df


def run(proc: SessionProcessor, raws: list[bytes]) -> Outputs:
    out = Outputs()
    for i, raw in enumerate(raws):
        out.extend(proc.on_frame(raw, T0_MS + i * 20))
    out.extend(proc.flush())
    return out


def test_lap_summaries_match_pandas(fixture_csv: Path) -> None:
    raws, _, df = encode_stint(fixture_csv)
    out = run(SessionProcessor(77, 1), raws)
    ref = reference_laps(df)
    got = {lap.lap: lap for lap in out.laps}
    assert sorted(got) == [1, 2, 3]
    for number, r in ref.iterrows():
        lap = got[number]
        assert lap.complete == r["complete"]
        assert lap.lap_time == pytest.approx(r["lap_time"], abs=1e-9)  # to the sample
        assert lap.distance == pytest.approx(r["distance"], rel=5e-3)
        assert lap.energy_drawn_kwh == pytest.approx(r["drawn"], rel=5e-3)
        assert lap.energy_regen_kwh == pytest.approx(r["regen"], rel=5e-3)
        assert lap.energy_net_kwh == pytest.approx(r["drawn"] - r["regen"], rel=5e-3)
        assert lap.max_speed == pytest.approx(r["max_speed"], rel=1e-6)
    assert got[1].lap_time == pytest.approx(read_lap_file(fixture_csv).duration, abs=1e-9)


@pytest.mark.parametrize("window_ms", [100, 1000])
def test_windows_match_pandas(fixture_csv: Path, window_ms: int) -> None:
    raws, _, df = encode_stint(fixture_csv, laps=2)
    out = run(SessionProcessor(77, 1), raws)
    ref = reference_windows(df, window_ms)
    rows = {
        (w.lap, w.ts_ms - (T0_MS - round(df["sim_time"].iloc[0] * 1000))): w
        for w in out.windows
        if w.window_ms == window_ms
    }
    got = {(lap, ts // window_ms): w for (lap, ts), w in rows.items()}
    assert set(got) == set(ref.index)
    s, p = CATALOG.payload_index["speed"], CATALOG.payload_index["power_electrical_total"]
    for key, r in ref.iterrows():
        w = got[key]
        assert w.frame_count == r["count"]
        np.testing.assert_allclose(
            [w.mins[s], w.maxs[s], w.means[s], w.lasts[s]], [r["min"], r["max"], r["mean"], r["last"]], rtol=1e-6
        )
        np.testing.assert_allclose(
            [w.mins[p], w.maxs[p], w.means[p], w.lasts[p]],
            [r["min_power"], r["max_power"], r["mean_power"], r["last_power"]],
            rtol=1e-6,
        )
    # Channels absent from the lap file are absent (NaN) in every window, never zero.
    throttle = CATALOG.payload_index["throttle"]
    assert all(np.isnan(w.means[throttle]) for w in out.windows)


def test_a_replayed_stint_of_n_laps_ends_with_n_complete_laps(fixture_csv: Path) -> None:
    """Regression: `replay --laps 2` stored one complete lap, the second never saw its closing line."""
    raws, _, _ = encode_stint(fixture_csv, laps=2)
    out = run(SessionProcessor(77, 1), raws)
    assert [(lap.lap, lap.complete) for lap in out.laps] == [(1, True), (2, True)]
    assert out.sessions[-1].laps == 2  # the closing crossing alone does not open a third lap


def test_a_stream_that_stops_mid_lap_shows_that_lap_incomplete(fixture_csv: Path) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=2)
    out = run(SessionProcessor(77, 1), raws[: len(raws) * 3 // 4])
    laps = {lap.lap: lap for lap in out.laps}
    assert laps[1].complete and not laps[2].complete
    assert laps[2].frames == len(raws) * 3 // 4 - laps[1].frames


def comparable(out: Outputs) -> tuple[list[tuple[int, int, float, int]], list[tuple[int, float, float]]]:
    # Compared by session time: the wall-clock anchor depends on which frame happened to arrive first.
    windows = sorted((w.window_ms, w.lap, round(w.window_start, 3), w.frame_count) for w in out.windows)
    laps = [(lap.lap, round(lap.lap_time, 9), round(lap.energy_net_kwh or 0, 9)) for lap in out.laps if lap.complete]
    return windows, laps


def test_out_of_order_within_the_bound_changes_nothing(fixture_csv: Path) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=2)
    shuffled = list(raws)
    rng = random.Random(1)
    for i in range(0, len(shuffled) - 5, 5):
        block = shuffled[i : i + 5]  # 5 frames = 100 ms, inside the 200 ms bound
        rng.shuffle(block)
        shuffled[i : i + 5] = block
    a, b = SessionProcessor(77, 1), SessionProcessor(77, 1)
    assert comparable(run(a, raws)) == comparable(run(b, shuffled))
    assert b.quality().frames_out_of_order > 0 and b.quality().frames_late == 0


def test_late_duplicate_and_lost_frames_are_counted(fixture_csv: Path) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=1)
    lost = set(range(100, 110))
    late = {300, 301, 302}
    stream = [r for i, r in enumerate(raws) if i not in lost and i not in late]
    stream.insert(600, raws[300])
    stream.insert(601, raws[301])  # 300 frames (6 s) behind: past the 200 ms bound
    stream.insert(602, raws[302])
    stream += [raws[5], raws[6]]  # duplicates
    proc = SessionProcessor(77, 1)
    out = run(proc, stream)
    q = proc.quality()
    assert (q.frames_lost, q.frames_late, q.frames_duplicated) == (10, 3, 2)
    assert q.frames_received == len(raws) - len(lost)
    # Late frames are still stored raw (once); duplicates are not written twice.
    seqs = [f.seq for f in out.frames]
    assert len(seqs) == len(set(seqs)) == len(raws) - len(lost)
    assert sum(w.frame_count for w in out.windows if w.window_ms == 100) == len(raws) - len(lost) - len(late)


def test_checkpoint_restore_mid_stream_gives_identical_results(fixture_csv: Path) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=2)
    whole = run(SessionProcessor(77, 1), raws)
    first = SessionProcessor(77, 1)
    out = Outputs()
    for i, raw in enumerate(raws[:1234]):
        out.extend(first.on_frame(raw, T0_MS + i * 20))
    restored: SessionProcessor = pickle.loads(pickle.dumps(first))  # what Flink's keyed state does
    for i, raw in enumerate(raws[1234:], start=1234):
        out.extend(restored.on_frame(raw, T0_MS + i * 20))
    out.extend(restored.flush())
    assert comparable(out) == comparable(whole)


def test_state_stays_small(fixture_csv: Path) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=1)
    proc = SessionProcessor(77, 1)
    for i, raw in enumerate(raws):
        proc.on_frame(raw, T0_MS + i * 20)
    assert len(pickle.dumps(proc)) < 64_000


def test_simulated_multi_lap_session_matches_the_simulator() -> None:
    sim = CarSimulator(car_id=4, session_id=99, seed=3, rate_hz=50, laps=2)
    block = sim.run()
    enc = FrameEncoder()
    proc = SessionProcessor(99, 4, ProcessingSettings())
    out = Outputs()
    for i in range(len(block)):
        out.extend(proc.on_frame(enc.encode(block.header(i), block.values[i]), T0_MS + i * 20))
    out.extend(proc.flush())
    laps = {lap.lap: lap for lap in out.laps}
    # the session ends with the line crossing that closes lap 2 (one frame of lap 3, not a lap of its own)
    assert sorted(laps) == [1, 2] and laps[1].complete and laps[2].complete
    t = block.sim_time
    for lap, truth in zip((1, 2), sim.lap_summaries, strict=True):
        first, next_first = t[block.lap == lap][0], t[block.lap == lap + 1][0]
        assert laps[lap].lap_time == pytest.approx(next_first - first, abs=1e-9)
        assert laps[lap].lap_time == pytest.approx(truth.lap_time, abs=0.05)
        assert laps[lap].distance == pytest.approx(20_680, rel=5e-3)
        assert len(laps[lap].sector_times) == 3 and sum(laps[lap].sector_times) == pytest.approx(laps[lap].lap_time)
    distances = [p.distance for p in out.profile if p.lap == 1]
    assert distances == list(range(distances[0], distances[-1] + PROFILE_STEP_M, PROFILE_STEP_M))  # none skipped
    assert distances[0] <= PROFILE_STEP_M and distances[-1] >= 20_660


def upserted(out: Outputs) -> tuple[dict[tuple[int, int, int, int], tuple[int, float]], dict[int, tuple[bool, float]]]:
    """What Cassandra ends up holding: the last write per primary key wins."""
    speed = CATALOG.payload_index["speed"]
    windows = {(w.window_ms, w.lap, w.part, w.ts_ms): (w.frame_count, float(w.means[speed])) for w in out.windows}
    laps = {lap.lap: (lap.complete, round(lap.lap_time, 9)) for lap in out.laps}
    return windows, laps


def test_a_misjudged_idle_flush_mid_stream_is_overwritten_by_the_complete_rows(fixture_csv: Path) -> None:
    # Regression: while a backlog drains unevenly across Kafka partitions a session can look silent;
    # its provisional rows must not leave partial windows behind once its frames resume.
    raws, _, _ = encode_stint(fixture_csv, laps=2)
    whole = run(SessionProcessor(77, 1), raws)
    proc = SessionProcessor(77, 1)
    out = Outputs()
    for i, raw in enumerate(raws):
        out.extend(proc.on_frame(raw, T0_MS + i * 20))
        if i in (333, 1100, 1500):
            out.extend(proc.flush())
    out.extend(proc.flush())
    assert upserted(out) == upserted(whole)
