"""The analysis API, the CLI and export on the real stack, against pandas on the frames sent.

Three sessions of real laps (tests/analysis_reference.py) go through the bridge, Kafka and Flink
into Cassandra, each lap driven a little differently:
- A: the real fixture (2021 export) as 3 laps, car 41, track "fixture track";
- B: the same lap as 2 laps by another car (42), same track, another session;
- C: the real excerpt of today's export as 2 laps, car 43, track "excerpt track".
What the API reads back (laps, windows, frames, profiles) must be what pandas computes from the
frames that were sent; mini-sectors, the theoretical best, lap comparison by distance and export
are checked the same way. Only these sessions are read or written.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from launcher.cli import main as launcher_main
from p424.analysis import (
    MiniSectorSettings,
    TrackMismatchError,
    compare,
    compare_laps,
    delta_time,
    get_session,
    list_sessions,
    mini_sectors,
)
from p424.analysis import minisectors as ms
from p424.catalog import CATALOG
from p424.export.session import ExportRequest, export_session
from tests import analysis_reference as ref
from tests.helpers import Stack, unique_session_id, wait_for
from tests.reference import reference_windows
from tests.test_export import replayed_laps
from unity_bridge.sender import FrameSender

pytestmark = pytest.mark.platform

COUNT = 12  # mini-sectors of the 1.2 km fixture lap: ~100 m each


def send(stack: Stack, frames: list[bytes], rate: float = 4000.0) -> None:
    with FrameSender(stack.cfg.host_of("bridge"), stack.cfg.bridge_udp_port) as tx:
        t0 = time.perf_counter()
        for i, raw in enumerate(frames):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            tx.send(raw)


@pytest.fixture(scope="module")
def sessions(stack: Stack) -> dict[str, tuple[int, pd.DataFrame]]:
    fixture, excerpt = ref.fixture_lap(), ref.excerpt_lap()
    plan = {
        "A": (41, "fixture track", [ref.warped(fixture, a, p) for a, p in ((0.02, 0.0), (-0.015, 1.0), (0.01, 2.5))]),
        "B": (42, "fixture track", [ref.warped(fixture, a, p) for a, p in ((-0.02, 0.5), (0.03, 4.0))]),
        "C": (43, "excerpt track", [ref.warped(excerpt, a, p) for a, p in ((0.01, 0.0), (-0.01, 2.0))]),
    }
    out = {}
    for name, (car, track, laps) in plan.items():
        sid = unique_session_id()
        frames, df = ref.stint_frames(laps, sid, car)
        send(stack, frames)
        stack.store.describe_session(sid, car_id=car, source="test", track=track)
        out[name] = (sid, df, len(frames), len(laps))
    for name, (sid, _, n, laps) in out.items():

        def stored(sid: int = sid, n: int = n, laps: int = laps) -> bool:
            done = (stack.store.quality(sid) or {}).get("frames_received") == n
            return done and sum(bool(r["complete"]) for r in stack.store.laps(sid)) == laps

        wait_for(stored, 300, f"session {name} ({sid}) in Cassandra")
    return {name: (sid, df) for name, (sid, df, _, _) in out.items()}


def test_sessions_laps_windows_and_frames_read_back_as_sent(
    stack: Stack, sessions: dict[str, tuple[int, pd.DataFrame]]
) -> None:
    sid, df = sessions["A"]
    assert sid in set(list_sessions(stack.store)["session_id"])
    session = get_session(sid, stack.store)
    assert session.track == "fixture track"
    laps = session.laps.pick_complete()
    for n, t in ref.lap_times(df).items():
        row = laps[laps["LapNumber"] == n].iloc[0]
        assert row["LapTimeSeconds"] == pytest.approx(t, abs=1e-6)
        assert row["Distance"] == pytest.approx(ref.lap_lengths(df)[n], rel=1e-6)
    assert session.laps.pick_fastest()["LapNumber"] == min(ref.lap_times(df), key=ref.lap_times(df).get)
    lap = session.laps.pick_lap(2)
    tel = lap.get_telemetry(["speed", "power_electrical_total"])
    want = reference_windows(df, 100).loc[2]
    np.testing.assert_allclose(tel["speed"], want["mean"], rtol=1e-5)
    np.testing.assert_allclose(tel["power_electrical_total"], want["mean_power"], rtol=1e-5)
    sent = ref.lap_spans(df)[2]
    frames = lap.get_frames(["speed", "motor_rpm_front"])
    np.testing.assert_array_equal(frames["Sequence"], sent["seq"])
    np.testing.assert_array_equal(frames["Markers"], sent["markers"])
    np.testing.assert_allclose(frames["SessionTime"], sent["sim_time"])
    np.testing.assert_allclose(frames["speed"], sent["speed"], rtol=1e-7)
    raw = lap.get_telemetry(["speed"], source="raw")
    np.testing.assert_allclose(raw["Distance"], sent["lap_distance"])


def test_mini_sectors_and_the_theoretical_best_match_pandas(
    stack: Stack, sessions: dict[str, tuple[int, pd.DataFrame]]
) -> None:
    settings = MiniSectorSettings(count=COUNT)
    (sa, da), (sb, db) = sessions["A"], sessions["B"]
    a = get_session(sa, stack.store)
    got = a.laps.mini_sectors(settings)
    length = float(np.median(list(ref.lap_lengths(da).values())))
    want = ref.classified(ref.mini_sector_times(da, ref.edges(length, COUNT), sa, 41))
    merged = got.merge(want, on=["SessionId", "LapNumber", "MiniSector"], suffixes=("", "_ref"), validate="one_to_one")
    assert len(merged) == 3 * COUNT
    np.testing.assert_allclose(merged["Time"], merged["Time_ref"], atol=2e-6)
    assert (merged["Status"].astype(str) == merged["Status_ref"]).all()
    assert a.theoretical_best(settings).lap_time == pytest.approx(ref.theoretical_best(want), abs=1e-5)

    # Across sessions and cars: session bests are everyone's, personal bests each car's.
    b = get_session(sb, stack.store)
    laps = [lap for s in (a, b) for _, lap in s.laps.pick_complete().iterlaps()]
    both = mini_sectors(laps, settings)
    lengths = [*ref.lap_lengths(da).values(), *ref.lap_lengths(db).values()]
    cuts = ref.edges(float(np.median(lengths)), COUNT)
    want = ref.classified(
        pd.concat([ref.mini_sector_times(da, cuts, sa, 41), ref.mini_sector_times(db, cuts, sb, 42)], ignore_index=True)
    )
    merged = both.merge(want, on=["SessionId", "LapNumber", "MiniSector"], suffixes=("", "_ref"), validate="one_to_one")
    assert len(merged) == 5 * COUNT
    np.testing.assert_allclose(merged["Time"], merged["Time_ref"], atol=2e-6)
    assert (merged["Status"].astype(str) == merged["Status_ref"]).all()
    assert {"session_best", "personal_best", "slower"} <= set(merged["Status_ref"])
    assert ms.theoretical_best(both).lap_time == pytest.approx(ref.theoretical_best(want), abs=1e-5)


def test_compare_matches_pandas_by_distance(stack: Stack, sessions: dict[str, tuple[int, pd.DataFrame]]) -> None:
    (sa, da), (sb, db) = sessions["A"], sessions["B"]
    a, b = get_session(sa, stack.store), get_session(sb, stack.store)
    fastest = int(a.laps.pick_fastest()["LapNumber"])
    laps = [a.laps.pick_lap(1), a.laps.pick_lap(3), b.laps.pick_lap(2)]
    settings = MiniSectorSettings(count=COUNT)
    channels = ["speed", "power_electrical_total"]
    for source in ("raw", "windows"):
        cmp = compare(laps, channels=channels, source=source, settings=settings)
        assert str(cmp.reference) == f"{sa}:{fastest}"
        grid = cmp.time.index.to_numpy()
        ref_t = ref.elapsed_by_distance(da, fastest, grid)
        for lap, df, n in ((f"{sa}:1", da, 1), (f"{sa}:3", da, 3), (f"{sb}:2", db, 2)):
            np.testing.assert_allclose(cmp.delta[lap], ref.elapsed_by_distance(df, n, grid) - ref_t, atol=2e-6)
        if source == "raw":
            sent = ref.lap_spans(db)[2]
            s = pd.Series(sent["speed"].to_numpy(), index=sent["lap_distance"].to_numpy())
            want = s.reindex(s.index.union(grid)).interpolate(method="index", limit_area="inside").reindex(grid)
            np.testing.assert_allclose(cmp.channel("speed")[f"{sb}:2"], want, rtol=1e-6, equal_nan=True)
        else:
            assert cmp.channel("speed")[f"{sb}:2"].notna().mean() > 0.9
        per_sector = cmp.mini_sectors.pivot(index="MiniSector", columns="Lap", values="Delta")
        lengths = ref.lap_lengths(da)
        cuts = ref.edges(lengths[fastest], COUNT)
        r = ref.mini_sector_times(da, cuts, sa, 41).query("LapNumber == @fastest")["Time"].to_numpy()
        o = ref.mini_sector_times(db, cuts, sb, 42).query("LapNumber == 2")["Time"].to_numpy()
        np.testing.assert_allclose(per_sector[f"{sb}:2"], o - r, atol=2e-6)


def test_other_tracks_are_refused_unless_forced(stack: Stack, sessions: dict[str, tuple[int, pd.DataFrame]]) -> None:
    a = get_session(sessions["A"][0], stack.store)
    c = get_session(sessions["C"][0], stack.store)
    with pytest.raises(TrackMismatchError, match=r"different tracks.*'fixture track'.*'excerpt track'"):
        compare([c.laps.pick_lap(1)], reference=a.laps.pick_lap(1), channels=["speed"])
    forced = compare([c.laps.pick_lap(1)], reference=a.laps.pick_lap(1), channels=["speed"], force=True)
    assert len(forced.laps) == 2


def test_the_two_lap_comparison_of_the_first_api_still_answers(
    stack: Stack, sessions: dict[str, tuple[int, pd.DataFrame]]
) -> None:
    sid, df = sessions["A"]
    laps = get_session(sid, stack.store).laps
    both = compare_laps(laps.pick_lap(1), laps.pick_lap(2))
    d = both["Distance"].to_numpy(dtype=float)
    want = ref.elapsed_by_distance(df, 2, d) - ref.elapsed_by_distance(df, 1, d)
    np.testing.assert_allclose(both["Delta"], want, atol=2e-6)
    np.testing.assert_allclose(delta_time(laps.pick_lap(1), laps.pick_lap(2))["Delta"], want, atol=2e-6)


def test_export_writes_what_was_sent(
    stack: Stack, sessions: dict[str, tuple[int, pd.DataFrame]], tmp_path: Path
) -> None:
    sid, df = sessions["C"]
    session = get_session(sid, stack.store)
    lines: list[str] = []
    written = export_session(session, ExportRequest(session_id=sid, fmt="csv", out=tmp_path / "csv"), lines.append)
    assert [w.laps for w in written] == [(1,), (2,)] and len(lines) == 2
    for w in written:
        (n,) = w.laps
        sent = ref.lap_spans(df)[n]
        text = w.path.read_bytes().decode()
        back = pd.read_csv(io.StringIO(text), header=0, skiprows=[1])  # as upstream's own tools read it
        np.testing.assert_allclose(back["TotalTime"], sent["sim_time"], atol=1e-5)
        np.testing.assert_allclose(back["Distance"], sent["lap_distance"], atol=1e-5)
        np.testing.assert_allclose(back["Speed"], sent["speed"] * 3.6, atol=1e-5)
        np.testing.assert_allclose(back["AccelerationLat"], -sent["accel_lateral"] / 9.80665, atol=1e-5)
        assert Path(f"{w.path}.metadata").exists()
    parquet_path = tmp_path / "c.parquet"
    export_session(session, ExportRequest(session_id=sid, fmt="parquet", out=parquet_path), lines.append)
    table = pq.read_table(parquet_path)
    assert table.schema.metadata[b"p424.catalog_version"] == CATALOG.version.encode()
    assert table.schema.metadata[b"p424.track"] == b"excerpt track"
    frame = table.to_pandas()
    sent = pd.concat(ref.lap_spans(df).values())
    np.testing.assert_allclose(frame["SessionTime"], sent["sim_time"])
    np.testing.assert_allclose(frame["speed"], sent["speed"], rtol=1e-7)
    windows = tmp_path / "w.parquet"
    export_session(session, ExportRequest(session_id=sid, fmt="parquet", source="windows", out=windows), lines.append)
    w = pq.read_table(windows).to_pandas()
    lap1 = df[df["lap"] == 1]
    want = lap1.groupby(np.floor(lap1["sim_time"] * 10).astype(int))["speed"].mean()  # 100 ms windows
    np.testing.assert_allclose(w[w["LapNumber"] == 1]["speed_mean"], want, rtol=1e-5)


def test_the_command_line_prints_mini_sectors_compares_and_exports(
    stack: Stack, sessions: dict[str, tuple[int, pd.DataFrame]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sa, da), (sb, _) = sessions["A"], sessions["B"]
    settings = ["--set", f"MINI_SECTORS={COUNT}"]
    assert launcher_main([*settings, "laps", "--session", str(sa), "--mini-sectors"]) == 0
    out = capsys.readouterr().out
    length = float(np.median(list(ref.lap_lengths(da).values())))
    best = ref.theoretical_best(ref.mini_sector_times(da, ref.edges(length, COUNT), sa, 41))
    minutes, seconds = divmod(best, 60)
    assert f"theoretical best {int(minutes)}:{seconds:06.3f}" in out
    assert out.count(" P") >= COUNT  # a purple in every mini-sector
    png = tmp_path / "cmp.png"
    assert launcher_main([*settings, "compare", "--laps", f"{sa}:1", f"{sb}:2", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"{sb}:2" in out and "delta to the reference at the end of each mini-sector" in out
    assert png.stat().st_size > 10_000
    assert launcher_main(["export", "--session", str(sb), "--format", "csv", "--out", str(tmp_path / "x")]) == 0
    assert len(list((tmp_path / "x").glob("*.csv"))) == 2
    assert launcher_main(["compare", "--laps", "nonsense"]) == 1


def test_an_exported_lap_replays_to_its_stored_lap_row(
    stack: Stack, sessions: dict[str, tuple[int, pd.DataFrame]], tmp_path: Path
) -> None:
    sid, _ = sessions["A"]
    session = get_session(sid, stack.store)
    written = export_session(session, ExportRequest(session_id=sid, fmt="csv", laps=(1, 2), out=tmp_path), print)
    stored = {r["lap"]: r for r in stack.store.laps(sid)}
    for w in written:
        (number,) = w.laps
        (replayed,) = replayed_laps(w.path, unique_session_id())
        row = stored[number]
        assert replayed.lap_time == pytest.approx(row["lap_time"], abs=2e-5)
        assert replayed.distance == pytest.approx(row["distance"], abs=1e-4)
        for energy in ("energy_drawn_kwh", "energy_regen_kwh", "energy_net_kwh"):
            assert getattr(replayed, energy) == pytest.approx(row[energy], rel=1e-5)
        assert replayed.max_speed == pytest.approx(row["max_speed"], rel=1e-6)


def test_todays_export_reads_back_with_positions_and_mini_sectors(
    stack: Stack, sessions: dict[str, tuple[int, pd.DataFrame]]
) -> None:
    sid, df = sessions["C"]
    session = get_session(sid, stack.store)
    lap = session.laps.pick_lap(1)
    sent = ref.lap_spans(df)[1]
    pos = lap.get_pos_data()
    np.testing.assert_allclose(pos["X"], sent["position_x"], rtol=1e-6)
    np.testing.assert_allclose(pos["Y"], sent["position_z"], rtol=1e-6)  # Unity's y is up: the map is x against z
    np.testing.assert_allclose(pos["Z"], sent["position_y"], rtol=1e-6)
    got = session.laps.mini_sectors(MiniSectorSettings(count=COUNT))
    length = float(np.median(list(ref.lap_lengths(df).values())))
    want = ref.classified(ref.mini_sector_times(df, ref.edges(length, COUNT), sid, 43))
    merged = got.merge(want, on=["SessionId", "LapNumber", "MiniSector"], suffixes=("", "_ref"), validate="one_to_one")
    assert len(merged) == 2 * COUNT
    np.testing.assert_allclose(merged["Time"], merged["Time_ref"], atol=2e-6)
    assert (merged["Status"].astype(str) == merged["Status_ref"]).all()
