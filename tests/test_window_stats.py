"""Packed window statistics: the blob every window row stores, and reading rows back."""

from __future__ import annotations

import numpy as np
import pytest

from p424.catalog import CATALOG, Catalog
from p424.processing.outputs import WindowRow
from p424.storage import window_stats, writes
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
