"""Window statistics recomputed from a lap's archived frames, as the stream job computes them.

The stream (``p424.processing.session``) cuts each lap's in-order frames into blocks of the
smallest window size (``floor(sim_time * 1000 / smallest)``), summarises each block with
``block_stats`` and folds the blocks into every larger window with ``merge_into``; frames that
arrived late are stored raw but left out. Doing the same with the same functions on a lap's silver
rows (late frames dropped, in session-time order) gives the windows Cassandra stored, bit for bit:
the training features and the analysis API's windows of an archived session are those of the
stream. Pure: arrays in, ``WindowStats`` out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.processing.windows import WindowStats, block_stats, merge_into, parent_index
from p424.storage.schema import WINDOW_STATS

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
_STAT_FIELDS = {"min": "mins", "max": "maxs", "mean": "means", "last": "lasts"}


def lap_windows(
    *,
    lap: int,
    lap_start: float,
    sim_times: F64,
    lap_distances: F64,
    values: F32,
    window_ms: int,
    smallest_ms: int,
) -> list[WindowStats]:
    """The lap's windows of ``window_ms`` (a multiple of ``smallest_ms``) from its frames.

    Rows must be the lap's aggregated frames (late ones left out) in session-time order.
    """
    if window_ms % smallest_ms:
        raise ValueError(f"window {window_ms} ms is not a multiple of the smallest window, {smallest_ms} ms")
    if len(sim_times) == 0:
        return []
    index = np.floor(sim_times * 1000 / smallest_ms).astype(np.int64)
    cuts = np.flatnonzero(np.diff(index)) + 1
    out: list[WindowStats] = []
    parent: WindowStats | None = None
    for lo, hi in zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [len(index)])), strict=True):
        child = block_stats(
            smallest_ms, int(index[lo]), lap, values[lo:hi], sim_times[lo:hi], lap_start, lap_distances[lo:hi]
        )
        if window_ms == smallest_ms:
            out.append(child)
            continue
        if parent is not None and parent.index != parent_index(child, window_ms):
            out.append(parent)
            parent = None
        parent = merge_into(parent, child, window_ms)
    if parent is not None:
        out.append(parent)
    return out


def window_rows(
    windows: list[WindowStats], anchor_ms: int, columns: list[str], catalog: Catalog = CATALOG
) -> list[dict[str, object]]:
    """Windows as ``TelemetryStore.windows`` returns Cassandra's rows: ts (naive UTC, as the driver
    gives it), window_start, lap_time, lap_distance, frame_count and the requested
    ``<channel>_<stat>`` values (None where the channel was absent)."""
    index = catalog.payload_index
    wanted: list[tuple[str, str, int]] = []
    for col in columns:
        channel, _, stat = col.rpartition("_")
        if stat not in WINDOW_STATS or channel not in index:
            raise ValueError(f"{col!r} is not a <channel>_<stat> window column of catalog {catalog.version}")
        wanted.append((col, _STAT_FIELDS[stat], index[channel]))
    epoch = datetime(1970, 1, 1)
    rows: list[dict[str, object]] = []
    for w in windows:
        vectors = {name: getattr(w, name) for name in {f for _, f, _ in wanted}}
        row: dict[str, object] = {
            "ts": epoch + timedelta(milliseconds=anchor_ms + w.index * w.window_ms),
            "window_start": w.start,
            "lap_time": w.last_lap_time,
            "lap_distance": w.last_lap_distance,
            "frame_count": w.frame_count,
        }
        for col, name, i in wanted:
            v = float(vectors[name][i])
            row[col] = None if np.isnan(v) else v
        rows.append(row)
    return rows
