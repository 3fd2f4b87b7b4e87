"""Maths-channel window statistics in one self-describing blob per window row (``maths_stats``).

The maths file changes more often than the catalog and is not versioned in the repository the way
catalog versions are, so each blob names what it holds::

    uint8  format (1)
    uint16 M, the number of maths channels
    M x (uint8 length, UTF-8 name), then M x (uint8 length, UTF-8 unit)
    float32[4][M] little-endian: every channel's min, then max, mean, last (WINDOW_STATS order)

A reader finds a channel by name, so rows written before a channel was added simply lack it,
rows of a removed channel keep it, and a reordered file changes nothing; a renamed channel is a
new one. The layout (everything before the values) is the same for every row a job writes and is
built once; it is ~16 bytes per channel, which Cassandra's block compression shares between rows.
Window sizes in ``WINDOW_COLUMNS_MS`` also get ``<name>_<stat>`` columns (added by the migrator
for the configured file), for CQL readers such as Grafana.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from p424.processing.outputs import MathsStats
from p424.storage.schema import WINDOW_STATS

BLOB_COLUMN = "maths_stats"
FORMAT = 1
_HEAD = struct.Struct("<BH")


@lru_cache(maxsize=16)
def layout_bytes(names: tuple[str, ...], units: tuple[str, ...]) -> bytes:
    """The blob's header for a set of maths channels (built once per set)."""
    parts = [_HEAD.pack(FORMAT, len(names))]
    for text in (*names, *units):
        raw = text.encode()
        if len(raw) > 255:
            raise ValueError(f"maths channel name or unit {text!r} is longer than 255 bytes")
        parts.append(bytes([len(raw)]) + raw)
    return b"".join(parts)


def pack(maths: MathsStats | None) -> bytes | None:
    """The blob of a window's maths statistics (None, so nothing is written, without maths channels)."""
    if maths is None or not maths.names:
        return None
    values = np.ascontiguousarray(maths.values, dtype="<f4")
    return layout_bytes(maths.names, maths.units) + values.tobytes()


def _layout_end(blob: bytes, n: int) -> int:
    pos = _HEAD.size
    for _ in range(2 * n):
        if pos >= len(blob):
            raise ValueError("a maths stats blob cut short inside its layout")
        pos += 1 + blob[pos]
    return pos


@lru_cache(maxsize=64)
def _decode_layout(head: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    fmt, n = _HEAD.unpack_from(head)
    if fmt != FORMAT:
        raise ValueError(f"maths stats blob of format {fmt}; this platform reads format {FORMAT}")
    pos = _HEAD.size
    texts = []
    for _ in range(2 * n):
        size = head[pos]
        texts.append(head[pos + 1 : pos + 1 + size].decode())
        pos += 1 + size
    return tuple(texts[:n]), tuple(texts[n:])


def unpack(blob: bytes) -> MathsStats:
    """A blob's channels and their (statistic x channel) values; ValueError if it is not one."""
    if len(blob) < _HEAD.size:
        raise ValueError("a maths stats blob shorter than its header")
    _, n = _HEAD.unpack_from(blob)
    end = _layout_end(blob, n)
    names, units = _decode_layout(bytes(blob[:end]))
    expected = end + 4 * len(WINDOW_STATS) * n
    if len(blob) != expected:
        raise ValueError(f"a {len(blob)}-byte maths stats blob cannot hold {n} channels ({expected} bytes)")
    values = np.frombuffer(blob, dtype="<f4", offset=end).reshape(len(WINDOW_STATS), n)
    return MathsStats(names=names, units=units, values=values)


def row_values(row: Mapping[str, Any], columns: Iterable[str]) -> dict[str, float | None]:
    """``<maths>_<stat>`` values of a stored window row: from its blob, else from its columns."""
    blob = row.get(BLOB_COLUMN)
    stats = unpack(blob) if blob else None
    index = {name: j for j, name in enumerate(stats.names)} if stats is not None else {}
    out: dict[str, float | None] = {}
    for col in columns:
        name, stat = split_column(col)
        if stats is not None and name in index:
            v = float(stats.values[_STAT_ROW[stat], index[name]])
            out[col] = None if math.isnan(v) else v
        else:
            out[col] = row.get(col)
    return out


def names_in(rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Every maths channel the rows' blobs hold."""
    out: set[str] = set()
    for r in rows:
        blob = r.get(BLOB_COLUMN)
        if blob:
            out |= set(unpack(blob).names)
    return out


def split_column(column: str) -> tuple[str, str]:
    """``power_mgu_total_mean`` -> (``power_mgu_total``, ``mean``)."""
    name, _, stat = column.rpartition("_")
    if stat not in _STAT_ROW or not name:
        raise ValueError(f"{column!r} is not a <channel>_<stat> column (stats: {', '.join(WINDOW_STATS)})")
    return name, stat


_STAT_ROW = {s: i for i, s in enumerate(WINDOW_STATS)}
