"""Lap comparison by distance, no services: alignment of real samples against pandas' own
interpolation and as-of join, lap names, channel sources, the comparison's delta.

The comparison against stored laps (profiles, windows, raw frames, several sessions, the track
check) runs on the real stack in tests/test_analysis_platform.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from p424.analysis.compare import (
    CatalogChannels,
    Comparison,
    LapRef,
    align,
    distance_grid,
    forward_only,
    resolve,
)
from p424.analysis.core import Lap
from p424.catalog import Kind
from tests import analysis_reference as ref


def test_laps_are_named_session_colon_lap() -> None:
    assert LapRef.parse(" 253283429522628666:2 ") == LapRef(253283429522628666, 2)
    assert str(LapRef(7, 3)) == "7:3" and LapRef.parse(str(LapRef(7, 3))) == LapRef(7, 3)
    for bad in ("7", "7:x", "7:3:1", ""):
        with pytest.raises(ValueError, match="SESSION:LAP"):
            LapRef.parse(bad)


def test_a_real_laps_start_transient_is_left_out() -> None:
    # Today's export: LapDistance still reads the previous lap's end (0.27268 km) in the first row.
    table = pd.read_csv(ref.EXCERPT, header=0, skiprows=[1])
    d = table["LapDistance"].to_numpy() * 1000
    keep = forward_only(d)
    assert not keep[0] and keep[1:].all()
    np.testing.assert_array_equal(forward_only(np.array([0.0, 1.0, np.nan, 2.0, 0.5, 3.0, 0.2])), [1, 1, 0, 1, 0, 1, 0])


def test_continuous_channels_interpolate_as_pandas_does_by_index() -> None:
    lap = ref.fixture_lap()
    grid = distance_grid(float(lap.distance[-1]) + 5, 10.0)
    values = lap.channels[["speed", "power_electrical_total"]].to_numpy()
    got = align(lap.distance, values, [Kind.CONTINUOUS, Kind.CONTINUOUS], grid)
    for j, name in enumerate(["speed", "power_electrical_total"]):
        s = pd.Series(lap.channels[name].to_numpy(), index=lap.distance)
        union = s.reindex(s.index.union(grid)).interpolate(method="index", limit_area="inside")
        want = union.reindex(grid).to_numpy().copy()
        want[(grid < lap.distance[0]) | (grid > lap.distance[-1])] = np.nan
        np.testing.assert_allclose(got[:, j], want, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[0]).all() and np.isnan(got[-1]).all()  # before the first and after the last sample


def test_discrete_channels_hold_their_last_value_as_an_as_of_join() -> None:
    lap = ref.excerpt_lap()
    step = np.floor(lap.distance / 97.0) % 3  # a gear-like signal on the real lap's distances
    grid = distance_grid(float(lap.distance[-1]), 10.0)
    got = align(lap.distance, step[:, None], [Kind.DISCRETE], grid)[:, 0]
    samples = pd.DataFrame({"d": lap.distance, "v": step})
    at = pd.DataFrame({"d": grid})
    want = pd.merge_asof(at, samples, on="d", direction="backward")["v"].to_numpy().copy()
    want[grid < lap.distance[0]] = np.nan
    np.testing.assert_array_equal(got, want)
    assert set(np.unique(got[np.isfinite(got)])) <= {0.0, 1.0, 2.0}


def test_a_value_next_to_an_absent_sample_is_absent() -> None:
    d = np.array([0.0, 10.0, 20.0, 30.0])
    v = np.array([[1.0], [np.nan], [3.0], [4.0]])
    got = align(d, v, [Kind.CONTINUOUS], np.array([0.0, 5.0, 15.0, 25.0, 30.0]))[:, 0]
    np.testing.assert_array_equal(np.isnan(got), [False, True, True, False, False])
    assert got[3] == 3.5


def test_the_grid_ends_at_the_finish() -> None:
    grid = distance_grid(1227.3, 10.0)
    assert grid[0] == 0 and grid[-1] == 1227.3 and grid[-2] == 1220.0
    with pytest.raises(ValueError, match="no distance"):
        distance_grid(0.0)


class SpeedKmh:
    """A plugged-in source: one derived channel, computed from the catalog's samples."""

    def __init__(self) -> None:
        self.catalog = CatalogChannels()

    def offers(self) -> Sequence[str]:
        return ("speed_kmh",)

    def kind(self, name: str) -> Kind:
        return Kind.CONTINUOUS

    def unit(self, name: str) -> str:
        return "km/h"

    def samples(self, laps: Sequence[Lap], names: Sequence[str]) -> dict[LapRef, pd.DataFrame]:
        got = self.catalog.samples(laps, ["speed"])
        return {r: pd.DataFrame({"Distance": s["Distance"], "speed_kmh": s["speed"] * 3.6}) for r, s in got.items()}


def test_channels_resolve_to_the_first_source_that_offers_them() -> None:
    plugged, catalog = SpeedKmh(), CatalogChannels()
    got = resolve(["speed", "speed_kmh", "gear"], [plugged, catalog])
    assert got == {"speed": catalog, "speed_kmh": plugged, "gear": catalog}
    with pytest.raises(ValueError, match="unknown channel\\(s\\): spede, nope"):
        resolve(["spede", "speed", "nope"], [catalog])
    with pytest.raises(ValueError, match="source must be 'windows' or 'raw'"):
        CatalogChannels(source="frames")


def test_the_delta_is_each_laps_time_minus_the_references() -> None:
    grid = pd.Index([0.0, 10.0, 20.0], name="Distance")
    time = pd.DataFrame({"1:2": [0.0, 1.0, 2.0], "1:1": [0.0, 1.2, 2.1], "2:5": [0.0, 0.9, 2.3]}, index=grid)
    cmp = Comparison(reference=LapRef(1, 2), laps=(LapRef(1, 2), LapRef(1, 1), LapRef(2, 5)), lap_times={}, time=time)
    np.testing.assert_allclose(cmp.delta["1:1"], [0.0, 0.2, 0.1])
    np.testing.assert_allclose(cmp.delta["2:5"], [0.0, -0.1, 0.3])
    assert (cmp.delta["1:2"] == 0).all()
    with pytest.raises(KeyError, match="'speed' was not compared"):
        cmp.channel("speed")
