"""Packed window statistics: the blob every window row stores, and reading rows back."""

from __future__ import annotations

import numpy as np
import pytest

from p424.catalog import CATALOG, Catalog
from p424.processing.outputs import MathsStats, WindowRow
from p424.storage import maths_stats, window_stats, writes
from p424.storage.reader import check_known
from p424.storage.schema import window_stat_columns


def stats(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(CATALOG.payload_channels)
    out = [rng.normal(size=n).astype(np.float32) for _ in range(4)]
    out[2][3] = np.nan  # an absent channel
    return out


def test_pack_unpack_round_trip_in_catalog_order() -> None:
    mins, maxs, means, lasts = stats(1)
    blob = window_stats.pack(mins, maxs, means, lasts)
    assert len(blob) == 4 + 4 * 4 * len(CATALOG.payload_channels)
    matrix = window_stats.unpack(blob)
    np.testing.assert_array_equal(matrix[0], mins)
    np.testing.assert_array_equal(matrix[3], lasts)
    values = window_stats.row_values({"stats": blob}, window_stat_columns())
    first = CATALOG.payload_channels[0].name
    assert values[f"{first}_max"] == pytest.approx(float(maxs[0]))
    assert values[f"{CATALOG.payload_channels[3].name}_mean"] is None  # NaN reads as absent, like an unset column


def test_a_blob_from_a_catalog_never_registered_is_refused() -> None:
    other = Catalog(CATALOG.channels[:-1], "0.0.1")
    blob = window_stats.pack(*[np.zeros(len(other.payload_channels), np.float32)] * 4, catalog=other)
    with pytest.raises(ValueError, match=f"{other.hash_hex}, which is not registered"):
        window_stats.unpack(blob)


def test_rows_read_the_same_with_the_blob_or_with_columns_only() -> None:
    mins, maxs, means, lasts = stats(2)
    row = WindowRow(
        session_id=7, car_id=1, window_ms=100, lap=0, part=0, ts_ms=1_000, window_start=0.0, lap_time=0.1,
        lap_distance=5.0, frame_count=5, mins=mins, maxs=maxs, means=means, lasts=lasts, lap_energy_drawn_kwh=0.0,
        lap_energy_regen_kwh=0.0,
    )
    st = writes.Statements("ks")
    packed = dict(zip(st.window_columns, writes.window_params(row), strict=True))
    full_columns = [*st.window_columns, *window_stat_columns()]
    full = dict(zip(full_columns, writes.window_with_columns_params(row), strict=True))
    legacy = {k: v for k, v in full.items() if k != "stats"}  # written before the blob existed
    wanted = window_stat_columns()
    a, b, c = (window_stats.expand(r, wanted) for r in (packed, full, legacy))
    assert "stats" not in a
    for col in wanted:
        assert a[col] == b[col] == (None if c[col] is None else pytest.approx(c[col])), col


# ---------------------------------------------------------------- maths channels: a self-describing blob
def maths_stats_of(names: tuple[str, ...], seed: int) -> MathsStats:
    values = np.random.default_rng(seed).normal(size=(4, len(names))).astype(np.float32)
    values[2, 0] = np.nan  # absent in this window
    return MathsStats(names=names, units=tuple("kW" for _ in names), values=values)


def test_maths_blobs_name_their_channels_so_rows_survive_edits_of_the_file() -> None:
    old = maths_stats_of(("power_mgu_total", "removed_later", "slip_ratio_front"), 1)
    new = maths_stats_of(("slip_ratio_front", "power_mgu_total", "added_later"), 2)  # reordered, one gone, one new
    rows = [{"stats": None, "maths_stats": maths_stats.pack(m)} for m in (old, new)]
    wanted = ["power_mgu_total_max", "removed_later_last", "added_later_min", "slip_ratio_front_mean"]
    first, second = (window_stats.row_values(r, wanted) for r in rows)
    assert first == {
        "power_mgu_total_max": pytest.approx(float(old.values[1, 0])),
        "removed_later_last": pytest.approx(float(old.values[3, 1])),
        "added_later_min": None,  # not computed when this row was written
        "slip_ratio_front_mean": pytest.approx(float(old.values[2, 2])),
    }
    assert second["removed_later_last"] is None and second["slip_ratio_front_mean"] is None  # absent (NaN)
    assert second["added_later_min"] == pytest.approx(float(new.values[0, 2]))
    assert maths_stats.names_in(rows) == {"power_mgu_total", "removed_later", "slip_ratio_front", "added_later"}
    # A 1 s row written with columns only (or by a job whose blob is missing) reads from them.
    assert window_stats.row_values({"power_mgu_total_max": 7.5}, ["power_mgu_total_max"]) == {"power_mgu_total_max": 7.5}


def test_broken_maths_blobs_are_refused() -> None:
    blob = maths_stats.pack(maths_stats_of(("a", "b"), 3))
    assert blob is not None and maths_stats.pack(None) is None
    with pytest.raises(ValueError, match="cannot hold 2 channels"):
        maths_stats.unpack(blob[:-4])
    with pytest.raises(ValueError, match="format 9; this platform reads format 1"):
        maths_stats.unpack(bytes([9]) + blob[1:])
    with pytest.raises(ValueError, match="is not a <channel>_<stat> column"):
        window_stats.row_values({"maths_stats": blob}, ["a_median"])


def test_reading_an_unknown_channel_names_it() -> None:
    rows = [{"maths_stats": maths_stats.pack(maths_stats_of(("power_mgu_total",), 4))}]
    check_known(["speed_mean", "power_mgu_total_mean"], rows, set())
    with pytest.raises(ValueError, match=r"unknown channel 'sped': not in the catalog \(1\.1\.0\) nor a maths channel "
                                         r"of these windows \(they hold: power_mgu_total\)"):
        check_known(["sped_mean", "speed_max"], rows, set())
