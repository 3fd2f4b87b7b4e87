"""Tumbling-window statistics of whole frames, vectorised over the catalog's channels.

The smallest window is computed from its frames as one (frames x channels) block; every larger
window (a multiple of it) is merged from the smaller windows' statistics, which is exact for
min, max, mean (via sums and counts) and last.
"""

from __future__ import annotations

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
    present = ~np.isnan(values)
    counts = present.sum(axis=0).astype(np.int64)
    filled_lo = np.where(present, values, np.inf)
    filled_hi = np.where(present, values, -np.inf)
    mins = filled_lo.min(axis=0)
    maxs = filled_hi.max(axis=0)
    mins[counts == 0] = np.nan
    maxs[counts == 0] = np.nan
    sums = np.where(present, values, 0.0).sum(axis=0, dtype=np.float64)
    # Last present value per channel: index of the last True in each column.
    last_row = values.shape[0] - 1 - np.argmax(present[::-1], axis=0)
    lasts = values[last_row, np.arange(values.shape[1])]
    return WindowStats(
        window_ms=window_ms,
        index=index,
        lap=lap,
        frame_count=values.shape[0],
        mins=mins.astype(np.float32),
        maxs=maxs.astype(np.float32),
        sums=sums,
        counts=counts,
        lasts=lasts.astype(np.float32),
        last_sim_time=float(sim_times[-1]),
        last_lap_time=float(sim_times[-1] - lap_start),
        last_lap_distance=float(lap_distances[-1]),
    )


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
