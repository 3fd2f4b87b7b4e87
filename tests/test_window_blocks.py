"""Window statistics of many rows unpacked at once (``window_stats.stat_matrix``, the analysis API's
window read) against the one-row ``unpack``, for blobs of two catalog versions in one lap."""

from __future__ import annotations

import numpy as np
import pytest

from p424.catalog import CATALOG, Catalog
from p424.storage import window_stats
from p424.storage.schema import WINDOW_STATS

V1 = CATALOG.known(0xB512F2CA)  # catalog 1.0.0


def blobs(seed: int) -> list[bytes]:
    assert V1 is not None
    rng = np.random.default_rng(seed)
    out = []
    for i in range(40):
        catalog = CATALOG if i % 3 else V1  # a sender switching catalog versions mid-lap
        stats = [rng.normal(size=len(catalog.payload_channels)).astype(np.float32) for _ in WINDOW_STATS]
        stats[2][i % len(catalog.payload_channels)] = np.nan  # an absent channel
        out.append(window_stats.pack(*stats, catalog=catalog))
    return out


@pytest.mark.parametrize("stat", WINDOW_STATS)
def test_many_blobs_unpack_as_each_one_does(stat: str) -> None:
    rows = blobs(3)
    got = window_stats.stat_matrix(rows, stat)
    want = np.vstack([window_stats.unpack(b)[WINDOW_STATS.index(stat)] for b in rows])
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[0, CATALOG.payload_index["position_x"]])  # not in 1.0.0
    assert window_stats.stat_matrix([], stat).shape == (0, len(CATALOG.payload_channels))


def test_unregistered_or_truncated_blobs_are_refused() -> None:
    other = Catalog(CATALOG.channels[:-1], "0.0.1")
    unknown = window_stats.pack(*[np.zeros(len(other.payload_channels), np.float32)] * 4, catalog=other)
    with pytest.raises(ValueError, match=f"{other.hash_hex}, which is not registered"):
        window_stats.stat_matrix([*blobs(1)[:2], unknown], "mean")
    with pytest.raises(ValueError, match="are not all"):
        window_stats.stat_matrix([blobs(1)[1][:-4]], "last")
