"""Lap detection and lap summaries, fed with blocks of in-order frames.

A lap starts at the first frame of a session, and a new lap at a start-line marker (bit 3), a
time or distance reset marker (bits 0, 1), a lap-number change, or the lap distance dropping by
more than 100 m, provided the current lap has run at least ``min_lap_s`` (the simulator marks a
few consecutive samples at the line). A lap is complete when it started at the line and ended at
the next boundary. Its time is the session-clock difference between the first frames of the two
laps, so lap time, distance and energy all cover exactly the same span.

Energy is the trapezoidal integral of total electrical power (kW) over the session clock, split
into drawn (power > 0) and regenerated (power < 0), in kWh; net = drawn - regenerated.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.markers import (
    MARKER_DISTANCE_RESET,
    MARKER_REPOSITION,
    MARKER_SECTOR_LINE,
    MARKER_START_LINE,
    MARKER_TIME_RESET,
)
from p424.storage.schema import PROFILE_STEP_M
from p424.units import KWS_PER_KWH

LAP_START_MARKERS = MARKER_START_LINE | MARKER_TIME_RESET | MARKER_DISTANCE_RESET
DISTANCE_RESET_M = 100.0

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(kw_only=True)
class LapPoint:
    """The last frame seen in a lap, kept to integrate across block and lap boundaries."""

    sim_time: float
    lap_distance: float
    power: float  # NaN when absent
    channels: F32  # profile channels at this frame


@dataclass(kw_only=True)
class LapState:
    number: int
    header_lap: int
    start_sim_time: float
    start_ts_ms: int
    started_at_line: bool
    frames: int = 0
    distance: float = 0.0
    drawn_kws: float = 0.0
    regen_kws: float = 0.0
    power_seen: bool = False
    invalidated: bool = False
    sector_marks: list[float] = field(default_factory=list)
    mins: F32 | None = None
    maxs: F32 | None = None
    speed_sum: float = 0.0
    speed_count: int = 0
    next_profile_m: int = 0
    last: LapPoint | None = None
    last_sim_time: float = 0.0


def is_lap_boundary(
    lap: LapState,
    markers: int,
    header_lap: int,
    lap_distance: float,
    sim_time: float,
    last_distance: float,
    min_lap_s: float,
) -> bool:
    if sim_time - lap.start_sim_time < min_lap_s:
        return False
    return (
        bool(markers & LAP_START_MARKERS)
        or header_lap != lap.header_lap
        or lap_distance < last_distance - DISTANCE_RESET_M
    )


def starts_at_line(markers: int, lap_distance: float) -> bool:
    return bool(markers & LAP_START_MARKERS) or lap_distance < 1.0


def _segment_kws(t: F64, p: F64) -> tuple[F64, F64]:
    """Trapezoid energy of the positive and of the negative part of power over each span between
    consecutive frames (kW*s, both >= 0); 0 for a span with power absent at either end."""
    # Both parts in one array: a block is a handful of frames, so the number of numpy calls, not
    # their size, is the cost.
    parts = np.stack((np.maximum(p, 0.0), np.minimum(p, 0.0)))
    spans = np.nan_to_num((parts[:, 1:] + parts[:, :-1]) * (0.5 * np.diff(t)), nan=0.0)
    return spans[0], -spans[1]


def _segments_kws(t: F64, p: F64) -> tuple[float, float]:
    """Trapezoid integrals of the positive and the negative part of power (kW*s), NaN-safe."""
    drawn, regen = _segment_kws(t, p)
    return float(drawn.sum()), float(regen.sum())


def _distance_increments(d: F64) -> F64:
    step = np.diff(d)
    # A reset to the line: the distance travelled is the new lap distance.
    return np.where(step < -DISTANCE_RESET_M, d[1:], np.maximum(step, 0.0))


@dataclass(frozen=True, kw_only=True)
class LapSummary:
    lap_time: float
    distance: float
    frames: int
    invalidated: bool
    max_speed: float | None
    mean_speed: float | None
    energy_drawn_kwh: float | None
    energy_regen_kwh: float | None
    energy_net_kwh: float | None
    sector_times: list[float]
    mins: F32  # key channels, catalog order
    maxs: F32


class LapAccumulator:
    """Running lap statistics; all work is done per block of frames, vectorised."""

    def __init__(self, profile_step_m: int = PROFILE_STEP_M, catalog: Catalog = CATALOG) -> None:
        self.step = profile_step_m
        self.catalog = catalog
        idx = catalog.payload_index
        self.i_speed = idx.get("speed")
        self.i_power = idx.get("power_electrical_total")
        self.i_sector = idx.get("sector")
        self.key_idx = np.array([idx[c.name] for c in catalog.key_channels()], dtype=np.int64)
        self.profile_names = ("speed", "throttle", "brake_pressure", "power_electrical_total")
        self.profile_idx = [idx.get(n) for n in self.profile_names]
        self._profile_take = (
            np.array(self.profile_idx, dtype=np.int64) if all(i is not None for i in self.profile_idx) else None
        )

    def start(
        self, number: int, header_lap: int, sim_time: float, ts_ms: int, at_line: bool, lap_distance: float
    ) -> LapState:
        first_bin = int(np.floor(lap_distance / self.step)) + 1 if lap_distance > 0 else 0
        return LapState(
            number=number,
            header_lap=header_lap,
            start_sim_time=sim_time,
            start_ts_ms=ts_ms,
            started_at_line=at_line,
            next_profile_m=first_bin * self.step,
            last_sim_time=sim_time,
        )

    def _profile_channels(self, values: F32) -> F32:
        if self._profile_take is not None:
            return values[:, self._profile_take]  # every profile channel in the catalog: one gather
        out = np.full((values.shape[0], len(self.profile_idx)), np.nan, dtype=np.float32)
        for j, i in enumerate(self.profile_idx):
            if i is not None:
                out[:, j] = values[:, i]
        return out

    def add_block(
        self, lap: LapState, sim_times: F64, lap_distances: F64, markers: npt.NDArray[np.int64], values: F32
    ) -> list[tuple[int, float, F32]]:
        """Fold in-order frames of one lap; returns distance-profile points (distance, elapsed, channels)."""
        return self.add_windows(lap, sim_times, lap_distances, markers, values, np.zeros(1, dtype=np.int64))[0]

    def add_windows(
        self,
        lap: LapState,
        sim_times: F64,
        lap_distances: F64,
        markers: npt.NDArray[np.int64],
        values: F32,
        starts: npt.NDArray[np.int64],
    ) -> tuple[list[tuple[int, float, F32]], list[tuple[float, float]]]:
        """``add_block`` for consecutive windows at once (window ``k`` is rows ``starts[k]`` up to the
        next start): the lap's energy, distance and speed sums are reduced per window and folded in
        window order, so the lap's figures are the same as adding the windows one at a time. Returns
        the profile points and the lap's energy (drawn, regen kW*s) as it stood after each window."""
        n = len(sim_times)
        power = values[:, self.i_power].astype(np.float64) if self.i_power is not None else np.full(n, np.nan)
        prof = self._profile_channels(values)
        last = lap.last
        if last is not None:
            t = np.concatenate(([last.sim_time], sim_times))
            d = np.concatenate(([last.lap_distance], lap_distances))
            p = np.concatenate(([last.power], power))
            ch = np.vstack([last.channels[None, :], prof])
        else:
            t, d, p, ch = sim_times, lap_distances, power, prof
        lap.frames += n
        energy: list[tuple[float, float]] = []
        if len(t) > 1:
            # Each span between consecutive frames belongs to the window of the frame it ends at.
            drawn, regen = _segment_kws(t, p)
            step = _distance_increments(d)
            if last is None:  # the lap's first frame ends no span
                drawn, regen, step = (np.concatenate(([0.0], x)) for x in (drawn, regen, step))
            by_window = np.add.reduceat(np.stack((drawn, regen, step)), starts, axis=1)
            for k_drawn, k_regen, k_step in by_window.T.tolist():
                lap.drawn_kws += k_drawn
                lap.regen_kws += k_regen
                lap.distance += k_step
                energy.append((lap.drawn_kws, lap.regen_kws))
        else:
            energy.append((lap.drawn_kws, lap.regen_kws))
        lap.power_seen |= bool(np.isfinite(power).any())
        lap.invalidated |= bool((markers & MARKER_REPOSITION).any())
        sector_hits = sim_times[(markers & MARKER_SECTOR_LINE) != 0]
        lap.sector_marks.extend(float(x) for x in sector_hits if x > lap.start_sim_time)
        # NaN where a key channel is absent from every frame so far (fmin/fmax skip NaN).
        key = values[:, self.key_idx]
        lo, hi = np.fmin.reduce(key, axis=0), np.fmax.reduce(key, axis=0)
        lap.mins = lo if lap.mins is None else np.fmin(lap.mins, lo)
        lap.maxs = hi if lap.maxs is None else np.fmax(lap.maxs, hi)
        if self.i_speed is not None:
            s = values[:, self.i_speed]
            ok = ~np.isnan(s)
            for k_sum in np.add.reduceat(np.where(ok, s, np.float32(0.0)), starts).tolist():
                lap.speed_sum += k_sum
            lap.speed_count += int(np.count_nonzero(ok))
        points = self._profile(lap, t, d, ch)
        lap.last = LapPoint(
            sim_time=float(sim_times[-1]),
            lap_distance=float(lap_distances[-1]),
            power=float(power[-1]),
            channels=prof[-1].copy(),
        )
        lap.last_sim_time = float(sim_times[-1])
        return points, energy

    def _profile(self, lap: LapState, t: F64, d: F64, ch: F32) -> list[tuple[int, float, F32]]:
        """Crossings of every ``step`` metres, linearly interpolated between consecutive frames."""
        points: list[tuple[int, float, F32]] = []
        if d[-1] < lap.next_profile_m:
            return points
        for k in range(1, len(d)):
            while d[k] >= lap.next_profile_m and d[k] >= d[k - 1]:
                target = lap.next_profile_m
                span = d[k] - d[k - 1]
                w = 0.0 if span <= 0 else (target - d[k - 1]) / span
                w = min(max(w, 0.0), 1.0)
                elapsed = float(t[k - 1] + w * (t[k] - t[k - 1]) - lap.start_sim_time)
                values = (ch[k - 1] + w * (ch[k] - ch[k - 1])).astype(np.float32)
                points.append((target, elapsed, values))
                lap.next_profile_m += self.step
        return points

    def close_boundary(self, lap: LapState, next_sim_time: float, next_distance: float, next_power: float) -> None:
        """Attribute the span from the lap's last frame to the next lap's first frame to this lap."""
        if lap.last is None:
            return
        drawn, regen = _segments_kws(
            np.array([lap.last.sim_time, next_sim_time]), np.array([lap.last.power, next_power])
        )
        lap.drawn_kws += drawn
        lap.regen_kws += regen
        lap.distance += float(_distance_increments(np.array([lap.last.lap_distance, next_distance])).sum())

    def summary(self, lap: LapState, end_sim_time: float, complete: bool) -> LapSummary:
        n_key = len(self.key_idx)
        nan = np.full(n_key, np.nan, dtype=np.float32)
        mins = np.where(np.isinf(lap.mins), np.nan, lap.mins).astype(np.float32) if lap.mins is not None else nan
        maxs = np.where(np.isinf(lap.maxs), np.nan, lap.maxs).astype(np.float32) if lap.maxs is not None else nan
        speed_i = [c.name for c in self.catalog.key_channels()].index("speed") if self.i_speed is not None else None
        max_speed = float(maxs[speed_i]) if speed_i is not None and np.isfinite(maxs[speed_i]) else None
        marks = [lap.start_sim_time, *lap.sector_marks, end_sim_time] if complete and lap.sector_marks else []
        return LapSummary(
            lap_time=end_sim_time - lap.start_sim_time,
            distance=lap.distance,
            frames=lap.frames,
            invalidated=lap.invalidated,
            max_speed=max_speed,
            mean_speed=lap.speed_sum / lap.speed_count if lap.speed_count else None,
            energy_drawn_kwh=lap.drawn_kws / KWS_PER_KWH if lap.power_seen else None,
            energy_regen_kwh=lap.regen_kws / KWS_PER_KWH if lap.power_seen else None,
            energy_net_kwh=(lap.drawn_kws - lap.regen_kws) / KWS_PER_KWH if lap.power_seen else None,
            sector_times=[b - a for a, b in itertools.pairwise(marks)],
            mins=mins,
            maxs=maxs,
        )
