"""Tumbling-window statistics of whole frames, vectorised over the catalog's channels.

The smallest window is computed from its frames as one (frames x channels) block; every larger
window (a multiple of it) is merged from the smaller windows' statistics, which is exact for
min, max, mean (via sums and counts) and last.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(kw_only=True)
class WindowStats:
    window_ms: int
    index: int  # aligned window number: floor(sim_time_ms / window_ms)
    lap: int
    frame_count: int
    mins: F32
    maxs: F32
    sums: F64
    counts: I64  # frames in which each channel was present
    lasts: F32
    last_sim_time: float
    last_lap_time: float
    last_lap_distance: float

    @property
    def start(self) -> float:
        return self.index * self.window_ms / 1000.0

    @property
    def means(self) -> F32:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.sums / self.counts).astype(np.float32)


def block_stats(
    window_ms: int,
    index: int,
    lap: int,
    values: F32,
    sim_times: F64,
    lap_start: float,
    lap_distances: F64,
) -> WindowStats:
    """Statistics of one smallest window from its frames (rows in time order; NaN = absent)."""
    starts = np.zeros(1, dtype=np.int64)
    return windows_stats(window_ms, [index], lap, values, sim_times, lap_start, lap_distances, starts)[0]


def windows_stats(
    window_ms: int,
    indices: Sequence[int],
    lap: int,
    values: F32,
    sim_times: F64,
    lap_start: float,
    lap_distances: F64,
    starts: I64,
) -> list[WindowStats]:
    """Statistics of consecutive smallest windows of one lap from their frames in one pass: window
    ``k`` is rows ``starts[k]`` up to the next start. Each window's figures are reduced from its own
    rows only (segment reductions), so they are the same however many windows are computed at once.
    """
    present = ~np.isnan(values)
    counts = np.add.reduceat(present, starts, axis=0, dtype=np.int64)
    # fmin/fmax skip NaN and give NaN only where a channel is absent in every frame of the window.
    mins = np.fmin.reduceat(values, starts, axis=0)
    maxs = np.fmax.reduceat(values, starts, axis=0)
    sums = np.add.reduceat(np.where(present, values, 0.0), starts, axis=0, dtype=np.float64)
    # Last present value per channel and window: the highest row index holding one.
    rows = np.where(present, _rows(values.shape[0])[:, None], -1)
    last_row = np.maximum.reduceat(rows, starts, axis=0)
    lasts = values[np.maximum(last_row, 0), _columns(values.shape[1])]
    lasts[last_row < 0] = np.nan
    ends = [*starts[1:].tolist(), values.shape[0]]
    return [
        WindowStats(
            window_ms=window_ms,
            index=index,
            lap=lap,
            frame_count=end - start,
            mins=mins[k],
            maxs=maxs[k],
            sums=sums[k],
            counts=counts[k],
            lasts=lasts[k],
            last_sim_time=float(sim_times[end - 1]),
            last_lap_time=float(sim_times[end - 1] - lap_start),
            last_lap_distance=float(lap_distances[end - 1]),
        )
        for k, (index, start, end) in enumerate(zip(indices, starts.tolist(), ends, strict=True))
    ]


@functools.cache
def _columns(n: int) -> I64:
    """0..n-1, built once per width (one per catalog and maths set)."""
    return np.arange(n)


@functools.cache
def _rows(n: int) -> I64:
    return np.arange(n)


def merge_into(parent: WindowStats | None, child: WindowStats, window_ms: int) -> WindowStats:
    """Fold a smaller window into the larger window that contains it (children arrive in order)."""
    if parent is None:
        return WindowStats(
            window_ms=window_ms,
            index=child.index * child.window_ms // window_ms,
            lap=child.lap,
            frame_count=child.frame_count,
            mins=child.mins.copy(),
            maxs=child.maxs.copy(),
            sums=child.sums.copy(),
            counts=child.counts.copy(),
            lasts=child.lasts.copy(),
            last_sim_time=child.last_sim_time,
            last_lap_time=child.last_lap_time,
            last_lap_distance=child.last_lap_distance,
        )
    parent.frame_count += child.frame_count
    parent.mins = np.fmin(parent.mins, child.mins)
    parent.maxs = np.fmax(parent.maxs, child.maxs)
    parent.sums += child.sums
    parent.counts += child.counts
    parent.lasts = np.where(np.isnan(child.lasts), parent.lasts, child.lasts)
    parent.last_sim_time = child.last_sim_time
    parent.last_lap_time = child.last_lap_time
    parent.last_lap_distance = child.last_lap_distance
    return parent


def parent_index(child: WindowStats, window_ms: int) -> int:
    return child.index * child.window_ms // window_ms
