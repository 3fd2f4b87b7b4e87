"""The baselines a model must beat: what an engineer on the pit wall predicts without one (pure numpy).

- ``pace`` (extrapolation): the rest of the lap goes like the lap so far. Lap time = elapsed time x
  lap length / distance so far; net energy = energy so far x lap length / distance so far. The lap
  length is the median length of the training laps, carried by the model.
- ``reference`` (the pit wall's standard predicted lap time): time so far plus the reference lap's
  time still to go at this distance; net energy likewise, energy so far plus the reference lap's
  energy still to go at this distance. The reference lap is the best (fastest) complete lap so far on
  the track; its energy is that same lap's.

"So far" respects time order in training too: a lap's reference is the fastest qualifying lap of its
track whose end (start + lap time, session wall clock) is no later than the lap's start, whichever
fold or session it comes from (``reference_choices``). No lap is predicted with a lap driven after
it, and none with itself. A lap with no earlier lap on its track has no reference baseline; it is
compared with the pace baseline only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from p424.ml.dataset import LAP_LENGTH_COLUMN, TARGET_COLUMNS
from p424.ml.features import MIN_DISTANCE_M

F64 = npt.NDArray[np.float64]
PACE = "pace"
REFERENCE = "reference"
BASELINES = (PACE, REFERENCE)
BASELINE_TITLES = {PACE: "pace-extrapolation", REFERENCE: "reference-lap"}
LapId = tuple[int, int]  # (session id, lap)


def extrapolate(
    elapsed_s: F64 | float, distance_m: F64 | float, energy_kwh: F64 | float, lap_length_m: float
) -> tuple[F64, F64]:
    """(lap time s, net energy kWh) extrapolated from the lap so far; vectorised."""
    if lap_length_m <= 0:
        raise ValueError(f"lap length must be positive, got {lap_length_m}")
    d = np.maximum(np.asarray(distance_m, dtype=np.float64), MIN_DISTANCE_M)
    scale = lap_length_m / d
    # Past the reference length the lap is nearly done: what has happened is the best guess.
    scale = np.maximum(scale, 1.0)
    return np.asarray(elapsed_s, dtype=np.float64) * scale, np.asarray(energy_kwh, dtype=np.float64) * scale


@dataclass(frozen=True, kw_only=True)
class LapTiming:
    """When a lap ran and how fast: all the reference choice needs."""

    session_id: int
    lap: int
    start_ms: int
    lap_time: float

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.lap_time * 1000.0


def reference_choices(laps: Sequence[LapTiming]) -> dict[LapId, LapId | None]:
    """For each lap, the fastest of the given laps that had ended when it started (None if none had).

    Ties on lap time go to the lap that ended first."""
    by_end = sorted(laps, key=lambda x: (x.end_ms, x.session_id, x.lap))
    out: dict[LapId, LapId | None] = {}
    best: LapTiming | None = None
    i = 0
    for lap in sorted(laps, key=lambda x: (x.start_ms, x.session_id, x.lap)):
        while i < len(by_end) and by_end[i].end_ms <= lap.start_ms:
            if best is None or by_end[i].lap_time < best.lap_time:
                best = by_end[i]
            i += 1
        out[(lap.session_id, lap.lap)] = None if best is None else (best.session_id, best.lap)
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class ReferenceLap:
    """A reference lap's elapsed time and energy used by lap distance, from the line to its full length."""

    distance: F64  # non-decreasing, 0 .. lap length
    elapsed: F64
    energy: F64
    lap_time: float
    energy_kwh: float

    @classmethod
    def from_profile(
        cls,
        *,
        distance: F64,
        elapsed: F64,
        energy: F64,
        lap_time: float,
        energy_kwh: float,
        length_m: float,
    ) -> ReferenceLap:
        """From the lap's so-far points (window ends) and its outcome; the line (0, 0, 0) and the
        finish (length, lap time, lap energy) close the profile at both ends."""
        d = np.maximum.accumulate(np.concatenate(([0.0], np.asarray(distance, dtype=np.float64), [length_m])))
        return cls(
            distance=d,
            elapsed=np.concatenate(([0.0], np.asarray(elapsed, dtype=np.float64), [lap_time])),
            energy=np.concatenate(([0.0], np.asarray(energy, dtype=np.float64), [energy_kwh])),
            lap_time=lap_time,
            energy_kwh=energy_kwh,
        )

    def to_go(self, distance_m: F64) -> tuple[F64, F64]:
        """(time s, energy kWh) the reference lap still had to go at these distances (0 past its end)."""
        d = np.asarray(distance_m, dtype=np.float64)
        t = self.lap_time - np.interp(d, self.distance, self.elapsed)
        e = self.energy_kwh - np.interp(d, self.distance, self.energy)
        return np.maximum(t, 0.0), e


def from_reference(elapsed_s: F64, distance_m: F64, energy_kwh: F64, ref: ReferenceLap) -> tuple[F64, F64]:
    """(lap time s, net energy kWh): so far plus the reference lap's still to go at this distance."""
    t, e = ref.to_go(distance_m)
    return np.asarray(elapsed_s, dtype=np.float64) + t, np.asarray(energy_kwh, dtype=np.float64) + e


def reference_predictions(rows: pd.DataFrame, laps: pd.DataFrame, choices: Mapping[LapId, LapId | None]) -> F64:
    """The reference baseline for every row of ``rows`` (feature rows with ``session_id`` and ``lap``),
    shape (n, 2) in (lap time, energy) order; NaN for laps without a reference lap.

    ``laps`` holds every lap a reference may come from (feature rows with their targets): a reference
    lap's profile is its own windows' elapsed time and energy so far by distance."""
    out = np.full((len(rows), 2), np.nan)
    profiles: dict[LapId, ReferenceLap] = {}
    grouped = laps.groupby(["session_id", "lap"], sort=False)
    keys = rows[["session_id", "lap"]].to_numpy(dtype=np.int64)
    for key in {(int(s), int(lap)) for s, lap in keys}:
        ref_id = choices.get(key)
        if ref_id is None:
            continue
        ref = profiles.get(ref_id)
        if ref is None:
            r = grouped.get_group(ref_id)
            ref = profiles[ref_id] = ReferenceLap.from_profile(
                distance=r["distance_m"].to_numpy(dtype=np.float64),
                elapsed=r["elapsed_s"].to_numpy(dtype=np.float64),
                energy=r["energy_kwh"].to_numpy(dtype=np.float64),
                lap_time=float(r[TARGET_COLUMNS[0]].iloc[0]),
                energy_kwh=float(r[TARGET_COLUMNS[1]].iloc[0]),
                length_m=float(r[LAP_LENGTH_COLUMN].iloc[0]),
            )
        mask = (keys[:, 0] == key[0]) & (keys[:, 1] == key[1])
        sel = rows[mask]
        t, e = from_reference(
            sel["elapsed_s"].to_numpy(dtype=np.float64),
            sel["distance_m"].to_numpy(dtype=np.float64),
            sel["energy_kwh"].to_numpy(dtype=np.float64),
            ref,
        )
        out[mask] = np.column_stack((t, e))
    return out
