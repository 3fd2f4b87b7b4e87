"""Window statistics packed into one blob: how every window row stores its channels.

A 100 ms window row holding each payload channel as four float columns costs Cassandra and the
driver ~230 cells per row, which capped the pipeline near 500 frames/s. The canonical form is
therefore one ``stats`` blob per row: the catalog hash (uint32) followed by float32 values,
stat-major (every channel's min, then max, mean, last) in catalog payload order, NaN where a
channel was absent. A blob packed under an older registered catalog unpacks into the current
catalog's order, its missing channels NaN. Window sizes listed in ``WINDOW_COLUMNS_MS`` also get the per-channel
columns, for CQL readers (Grafana, ad-hoc queries) that cannot unpack a blob.

``pack`` and ``unpack`` are pure; readers go through ``row_values`` so rows written with only
columns (before the blob existed) read the same. Maths channels have a blob of their own
(``p424.storage.maths_stats``); ``row_values`` reads a ``<maths>_<stat>`` column from it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.storage import maths_stats
from p424.storage.schema import WINDOW_STATS

HEADER = struct.Struct("<I")
BLOB_COLUMN = "stats"


def pack(
    mins: npt.NDArray[np.float32],
    maxs: npt.NDArray[np.float32],
    means: npt.NDArray[np.float32],
    lasts: npt.NDArray[np.float32],
    catalog: Catalog = CATALOG,
) -> bytes:
    values = np.concatenate((mins, maxs, means, lasts)).astype("<f4", copy=False)
    return HEADER.pack(catalog.hash) + values.tobytes()


def unpack(blob: bytes, catalog: Catalog = CATALOG) -> npt.NDArray[np.float32]:
    """The (stat, channel) matrix of a blob in ``catalog``'s payload order, whichever registered
    catalog version packed it; ValueError for a catalog this platform never knew."""
    (catalog_hash,) = HEADER.unpack_from(blob)
    packed_with = catalog.known(catalog_hash)
    if packed_with is None:
        raise ValueError(f"window stats packed for catalog {catalog_hash:08x}, which is not registered")
    n = len(packed_with.payload_channels)
    if len(blob) != HEADER.size + 4 * len(WINDOW_STATS) * n:
        raise ValueError(f"a {len(blob)}-byte window stats blob cannot hold catalog {catalog_hash:08x}'s {n} channels")
    matrix = np.frombuffer(blob, dtype="<f4", offset=HEADER.size).reshape(len(WINDOW_STATS), n)
    return catalog.from_payload(matrix, packed_with)


def column_index(catalog: Catalog = CATALOG) -> dict[str, tuple[int, int]]:
    """``<channel>_<stat>`` column -> (stat row, channel column) in the unpacked matrix."""
    return {
        f"{c.name}_{stat}": (s, i)
        for i, c in enumerate(catalog.payload_channels)
        for s, stat in enumerate(WINDOW_STATS)
    }


_INDEX = column_index()


def row_values(row: Mapping[str, Any], columns: Iterable[str], catalog: Catalog = CATALOG) -> dict[str, float | None]:
    """The requested ``<channel>_<stat>`` values of a stored window row (None where absent); columns
    of maths channels come from the row's maths blob."""
    index = _INDEX if catalog is CATALOG else column_index(catalog)
    wanted = list(columns)
    maths = [c for c in wanted if c not in index]
    out: dict[str, float | None] = {}
    blob = row.get(BLOB_COLUMN)
    if not blob:
        out.update({c: row.get(c) for c in wanted if c in index})
    else:
        matrix = unpack(blob, catalog)
        for col in wanted:
            if col in index:
                v = float(matrix[index[col]])
                out[col] = None if math.isnan(v) else v
    if maths:
        out.update(maths_stats.row_values(row, maths))
    return out


def expand(row: Mapping[str, Any], columns: Iterable[str], catalog: Catalog = CATALOG) -> dict[str, Any]:
    """A stored window row as readers use it: the blobs replaced by the requested stat columns."""
    out = {k: v for k, v in row.items() if k not in (BLOB_COLUMN, maths_stats.BLOB_COLUMN)}
    out.update(row_values(row, columns, catalog))
    return out


def stat_matrix(blobs: Sequence[bytes], stat: str, catalog: Catalog = CATALOG) -> npt.NDArray[np.float32]:
    """One statistic of every payload channel for many blobs at once: (blobs, channels) in ``catalog``'s
    order, NaN where absent. A lap's ~3,000 windows unpack in one numpy pass instead of a dict per row."""
    out = np.full((len(blobs), len(catalog.payload_channels)), np.nan, dtype=np.float32)
    s = WINDOW_STATS.index(stat)
    by_hash: dict[int, list[int]] = {}
    for i, blob in enumerate(blobs):
        by_hash.setdefault(HEADER.unpack_from(blob)[0], []).append(i)
    for catalog_hash, rows in by_hash.items():
        packed_with = catalog.known(catalog_hash)
        if packed_with is None:
            raise ValueError(f"window stats packed for catalog {catalog_hash:08x}, which is not registered")
        n = len(packed_with.payload_channels)
        width = HEADER.size + 4 * len(WINDOW_STATS) * n
        joined = b"".join(blobs[i] for i in rows)
        if len(joined) != width * len(rows):
            raise ValueError(f"window stats blobs of catalog {catalog_hash:08x} are not all {width} bytes")
        # Each blob is its 4-byte hash and then float32 values: one float32 slot per hash.
        matrix = np.frombuffer(joined, dtype="<f4").reshape(len(rows), width // 4)[:, 1:]
        values = matrix.reshape(len(rows), len(WINDOW_STATS), n)[:, s, :]
        out[rows] = catalog.from_payload(values, packed_with)
    return out
