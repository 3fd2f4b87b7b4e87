"""Mini-sectors on real laps, processed as the stream job processes them, against pandas.

The laps are the real fixture and the real excerpt of today's export (tests/analysis_reference.py),
each replayed as a stint whose laps are driven a little differently, through the stream job's own
per-session core (``SessionProcessor``, no services). Its lap rows and distance profile are what
Cassandra stores; ``p424.analysis.minisectors`` turns them into mini-sector times, bests, colours and
the theoretical best, which must equal what pandas computes from the frames themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from p424.analysis import minisectors as ms
from p424.analysis.minisectors import Layout, MiniSectorSettings, Status
from p424.config import Config
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from tests import analysis_reference as ref

T0_MS = 1_790_000_000_000


def processed(frames: list[bytes], session_id: int, car_id: int) -> Outputs:
    proc = SessionProcessor(session_id, car_id)
    out = Outputs()
    for i, raw in enumerate(frames):
        out.extend(proc.on_frame(raw, T0_MS + 20 * i))
    out.extend(proc.flush())
    return out


def as_stored(out: Outputs) -> tuple[pd.DataFrame, dict[tuple[int, int], pd.DataFrame]]:
    """The lap table and profiles as the analysis API reads them back (the last row per key wins)."""
    laps = {}
    for lap in out.laps:
        laps[lap.lap] = {
            "SessionId": lap.session_id,
            "LapNumber": lap.lap,
            "CarId": lap.car_id,
            "LapTimeSeconds": lap.lap_time,
            "Distance": lap.distance,
            "Complete": lap.complete,
            "Invalidated": lap.invalidated,
        }
    points: dict[tuple[int, int], dict[int, float]] = {}
    for p in out.profile:
        points.setdefault((p.session_id, p.lap), {})[p.distance] = p.elapsed
    profiles = {
        key: pd.DataFrame({"distance": list(v), "elapsed": list(v.values())}).sort_values("distance")
        for key, v in points.items()
    }
    return pd.DataFrame(list(laps.values())), profiles


@pytest.fixture(scope="module", params=["fixture", "excerpt"])
def real(request: pytest.FixtureRequest) -> ref.RealLap:
    return ref.fixture_lap() if request.param == "fixture" else ref.excerpt_lap()


def two_cars(real: ref.RealLap) -> list[tuple[int, int, pd.DataFrame, Outputs]]:
    """Car 1: three laps; car 2: two laps, in another session. Each lap warped its own way."""
    out = []
    for sid, car, shapes in (
        (501, 1, [(0.02, 0.0), (-0.015, 1.0), (0.01, 2.5)]),
        (502, 2, [(-0.02, 0.5), (0.03, 4.0)]),
    ):
        frames, df = ref.stint_frames([ref.warped(real, a, p) for a, p in shapes], sid, car)
        out.append((sid, car, df, processed(frames, sid, car)))
    return out


def test_layout_by_count_puts_boundaries_on_the_profile_grid() -> None:
    cuts = ms.layout(20_832.0, MiniSectorSettings(count=30))
    assert cuts.count == 30 and cuts.edges[0] == 0 and cuts.edges[-1] == 20_832.0
    inner = np.array(cuts.edges[1:-1])
    assert np.all(inner % 10 == 0) and np.all(np.diff(cuts.edges) > 0)
    np.testing.assert_allclose(np.diff(cuts.edges), 20_832 / 30, atol=10)


def test_layout_by_length_joins_a_short_remainder_to_the_last_mini_sector() -> None:
    cuts = ms.layout(1_225.0, MiniSectorSettings(length_m=200))
    assert cuts.edges == (0.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1225.0)
    assert ms.layout(1_350.0, MiniSectorSettings(length_m=200)).edges[-2:] == (1200.0, 1350.0)


@pytest.mark.parametrize(
    ("length", "settings", "message"),
    [
        (0.0, MiniSectorSettings(count=10), "must be positive"),
        (200.0, MiniSectorSettings(count=30), "shorter than the distance profile's 10 m step"),
        (2000.0, MiniSectorSettings(length_m=5), "MINI_SECTOR_LENGTH_M=5 is shorter"),
    ],
)
def test_bad_layouts_say_what_is_wrong(length: float, settings: MiniSectorSettings, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ms.layout(length, settings)


def test_settings_come_from_the_configuration() -> None:
    assert MiniSectorSettings.from_config(Config()) == MiniSectorSettings(count=30, length_m=0.0)
    assert MiniSectorSettings.from_config(Config(mini_sector_length_m=500)).length_m == 500
    with pytest.raises(ValueError, match="MINI_SECTORS must be at least 1"):
        MiniSectorSettings(count=0)


def test_elapsed_at_runs_from_the_start_to_the_finish_and_holds_the_lap_time_beyond() -> None:
    d, t = np.array([10.0, 20.0, 30.0]), np.array([1.0, 1.5, 2.5])
    got = ms.elapsed_at(d, t, 35.0, 3.0, np.array([0.0, 5.0, 15.0, 32.5, 35.0, 99.0]))
    np.testing.assert_allclose(got, [0.0, 0.5, 1.25, 2.75, 3.0, 3.0])
    assert np.isnan(ms.elapsed_at(np.array([]), np.array([]), 35.0, 3.0, np.array([1.0]))).all()


@pytest.mark.parametrize("count", [7, 30])
def test_mini_sector_times_bests_and_colours_match_pandas(real: ref.RealLap, count: int) -> None:
    cars = two_cars(real)
    tables, profiles = [], {}
    for _, _, _, out in cars:
        laps, prof = as_stored(out)
        tables.append(laps)
        profiles.update(prof)
    laps = pd.concat(tables, ignore_index=True)
    length = ms.track_length(laps[laps["Complete"]]["Distance"])
    cuts = ms.layout(length, MiniSectorSettings(count=count))
    got = ms.classify(ms.mini_sector_times(laps, profiles, cuts))

    lengths = [v for _, _, df, _ in cars for v in ref.lap_lengths(df).values()]
    assert length == pytest.approx(float(np.median(lengths)), abs=1e-6)
    expected_edges = ref.edges(float(np.median(lengths)), count)
    np.testing.assert_allclose(cuts.edges, expected_edges, atol=1e-6)
    want = ref.classified(
        pd.concat([ref.mini_sector_times(df, expected_edges, sid, car) for sid, car, df, _ in cars], ignore_index=True)
    )
    key = ["SessionId", "LapNumber", "MiniSector"]
    merged = got.merge(want, on=key, suffixes=("", "_ref"), validate="one_to_one")
    assert len(merged) == len(want) == 5 * count
    np.testing.assert_allclose(merged["Time"], merged["Time_ref"], atol=2e-6)
    assert (merged["Status"].astype(str) == merged["Status_ref"]).all()
    # Every lap's mini-sectors add up to its lap time, and all three colours occur.
    per_lap = got.groupby(["SessionId", "LapNumber"])["Time"].sum()
    for (sid, lap), total in per_lap.items():
        assert total == pytest.approx(
            float(laps.set_index(["SessionId", "LapNumber"]).loc[(sid, lap), "LapTimeSeconds"])
        )
    assert set(got["Status"].astype(str)) == {"session_best", "personal_best", "slower"}

    best = ms.theoretical_best(got)
    assert best.lap_time == pytest.approx(ref.theoretical_best(want), abs=1e-5)
    fastest = min((t, sid, n) for sid, _, df, _ in cars for n, t in ref.lap_times(df).items())
    assert (best.fastest_lap_time, best.fastest) == (pytest.approx(fastest[0], abs=1e-6), (fastest[1], fastest[2]))
    assert 0 < best.gain < 1.0
    counts = ms.status_counts(got)
    assert (counts.sum(axis=1) == count).all()
    assert counts["session_best"].sum() >= count  # each mini-sector has at least one purple


def test_an_invalidated_lap_is_timed_but_sets_no_best() -> None:
    times = pd.DataFrame(
        {
            "SessionId": [1, 1, 1, 1],
            "LapNumber": [1, 1, 2, 2],
            "CarId": [7, 7, 7, 7],
            "Invalidated": [False, False, True, True],
            "MiniSector": [1, 2, 1, 2],
            "StartDistance": [0.0, 500.0, 0.0, 500.0],
            "EndDistance": [500.0, 1000.0, 500.0, 1000.0],
            "Time": [10.0, 12.0, 9.0, 13.0],
        }
    )
    got = ms.classify(times)
    assert list(got["Status"].astype(str)) == ["session_best", "session_best", "invalidated", "invalidated"]
    assert list(got["SessionBest"]) == [10.0, 12.0, 10.0, 12.0]
    best = ms.theoretical_best(got)
    assert (best.lap_time, best.fastest) == (22.0, (1, 1))


def test_incomplete_laps_are_not_timed_and_no_lap_means_no_theoretical_best() -> None:
    laps = pd.DataFrame(
        [
            {
                "SessionId": 1,
                "LapNumber": 1,
                "CarId": 1,
                "LapTimeSeconds": 5.0,
                "Distance": 100.0,
                "Complete": False,
                "Invalidated": False,
            }
        ]
    )
    empty = ms.classify(ms.mini_sector_times(laps, {}, Layout(edges=(0.0, 50.0, 100.0))))
    assert empty.empty and list(empty.columns) == [*ms.TIME_COLUMNS, *ms.CLASS_COLUMNS]
    with pytest.raises(ValueError, match="no complete, valid lap"):
        ms.theoretical_best(empty)
    assert Status.SESSION_BEST.value in {s.value for s in ms.COLOURS}


def test_an_open_lap_is_timed_in_the_mini_sectors_it_has_driven_through() -> None:
    profile = pd.DataFrame({"distance": [10.0, 20.0, 30.0, 40.0, 50.0], "elapsed": [1.0, 2.0, 3.0, 4.0, 5.0]})
    got = ms.open_lap_mini_sector_times(profile, Layout(edges=(0.0, 20.0, 40.0, 60.0, 80.0)))
    np.testing.assert_allclose(got[:2], [2.0, 2.0])
    assert np.isnan(got[2:]).all()
