"""Mini-sectors, their times per lap, the bests, the theoretical best lap and F1-style colours: pure.

A lap is cut into mini-sectors at fixed distances from the start line: ``MINI_SECTORS`` of equal
length, or one every ``MINI_SECTOR_LENGTH_M`` metres (``p424/config.py``). The track length they
divide is the median distance of the laps compared. Interior boundaries are placed on the stored
distance profile's grid (``PROFILE_STEP_M``), so the time at each boundary is a stored profile
value; the last boundary is the finish line, crossed at the lap time.

A lap's time at a boundary is its elapsed time there, interpolated linearly in the profile
(``elapsed_at``), whose points are the lap's frames interpolated at every 10 m. A mini-sector's time
is the difference between its two boundaries, so a lap's mini-sector times add up to its lap time.
Only complete laps are timed: an incomplete lap may have started away from the line.

Classification, as the timing screens of F1 colour them (definitions used here):

- ``session_best`` (purple): the fastest time in that mini-sector of every valid lap compared (all
  cars; for one session, the session's best);
- ``personal_best`` (green): the fastest time in that mini-sector of that car (``CarId``) over the
  laps compared, when it is not the session best;
- ``slower`` (yellow): anything else;
- ``invalidated``: a lap with a reposition (``Invalidated``) is timed but sets no best.

Times within ``TIE_S`` of a best count as that best (replays of one lap file are equal laps).
The theoretical best lap is the sum of the session bests over all mini-sectors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd

from p424.config import Config
from p424.storage.reader import LapId
from p424.storage.schema import PROFILE_STEP_M

F64 = npt.NDArray[np.float64]
TIE_S = 1e-6  # times closer than this are equal (the profile stores elapsed time to the microsecond and below)


class Status(StrEnum):
    SESSION_BEST = "session_best"
    PERSONAL_BEST = "personal_best"
    SLOWER = "slower"
    INVALIDATED = "invalidated"


# The colours timing screens use, for the CLI and dashboards.
COLOURS: Mapping[Status, str] = {
    Status.SESSION_BEST: "purple",
    Status.PERSONAL_BEST: "green",
    Status.SLOWER: "yellow",
    Status.INVALIDATED: "grey",
}

# The long table of mini-sector times: one row per lap and mini-sector.
KEY_COLUMNS = ("SessionId", "LapNumber")
TIME_COLUMNS = (*KEY_COLUMNS, "CarId", "Invalidated", "MiniSector", "StartDistance", "EndDistance", "Time")
CLASS_COLUMNS = ("SessionBest", "PersonalBest", "Status")


@dataclass(frozen=True, kw_only=True)
class MiniSectorSettings:
    """How laps are cut: ``count`` mini-sectors, or one every ``length_m`` metres when it is above 0."""

    count: int = 30
    length_m: float = 0.0

    def __post_init__(self) -> None:
        if self.length_m < 0:
            raise ValueError(f"MINI_SECTOR_LENGTH_M must be 0 (use MINI_SECTORS) or positive, not {self.length_m}")
        if self.length_m == 0 and self.count < 1:
            raise ValueError(f"MINI_SECTORS must be at least 1, not {self.count}")

    @classmethod
    def from_config(cls, cfg: Config) -> MiniSectorSettings:
        return cls(count=cfg.mini_sectors, length_m=float(cfg.mini_sector_length_m))

    def describe(self) -> str:
        return f"every {self.length_m:g} m" if self.length_m > 0 else f"{self.count} per lap"


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Mini-sector boundaries in metres from the start line: ``edges[0] = 0``, ``edges[-1]`` the finish."""

    edges: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.edges) - 1

    @property
    def starts(self) -> F64:
        return np.asarray(self.edges[:-1], dtype=np.float64)

    @property
    def ends(self) -> F64:
        return np.asarray(self.edges[1:], dtype=np.float64)


def layout(track_length_m: float, settings: MiniSectorSettings, step_m: float = PROFILE_STEP_M) -> Layout:
    """Boundaries for a track of ``track_length_m``; interior ones on the profile's ``step_m`` grid.

    By length, a remainder shorter than half a mini-sector joins the last one. ValueError when the
    track is not positive or the mini-sectors would be shorter than the profile step.
    """
    if not np.isfinite(track_length_m) or track_length_m <= 0:
        raise ValueError(f"a track length must be positive to cut it into mini-sectors, not {track_length_m}")
    if settings.length_m > 0:
        if settings.length_m < step_m:
            raise ValueError(
                f"MINI_SECTOR_LENGTH_M={settings.length_m:g} is shorter than the distance profile's {step_m:g} m step"
            )
        inner = np.arange(settings.length_m, track_length_m - settings.length_m / 2, settings.length_m)
    else:
        if track_length_m / settings.count < step_m:
            raise ValueError(
                f"MINI_SECTORS={settings.count} over {track_length_m:.0f} m gives mini-sectors shorter than the "
                f"distance profile's {step_m:g} m step"
            )
        inner = np.arange(1, settings.count) * (track_length_m / settings.count)
    snapped = np.unique(np.round(inner / step_m) * step_m)
    snapped = snapped[(snapped > 0) & (snapped < track_length_m)]
    return Layout(edges=(0.0, *(float(e) for e in snapped), float(track_length_m)))


def track_length(distances: Sequence[float] | pd.Series) -> float:
    """The length mini-sectors divide: the median distance of the (complete) laps given."""
    d = np.asarray(distances, dtype=np.float64)
    d = d[np.isfinite(d) & (d > 0)]
    if d.size == 0:
        raise ValueError("no complete lap with a distance: nothing to cut into mini-sectors")
    return float(np.median(d))


def elapsed_at(
    profile_distance: F64 | pd.Series,
    profile_elapsed: F64 | pd.Series,
    lap_distance: float,
    lap_time: float,
    at: F64,
) -> F64:
    """A lap's elapsed time at distances ``at``, linear between its profile points.

    The curve starts at (0 m, 0 s), the lap's start, and ends at (``lap_distance``, ``lap_time``),
    its finish; beyond the finish the lap time holds. NaN everywhere when the profile is empty.
    """
    d = np.asarray(profile_distance, dtype=np.float64)
    t = np.asarray(profile_elapsed, dtype=np.float64)
    ok = np.isfinite(d) & np.isfinite(t) & (d > 0)
    d, t = d[ok], t[ok]
    if d.size == 0:
        return np.full(np.shape(at), np.nan)
    order = np.argsort(d, kind="stable")
    d, t = d[order], t[order]
    xs, ys = [0.0, *d], [0.0, *t]
    if np.isfinite(lap_distance) and lap_distance > d[-1] and np.isfinite(lap_time):
        xs.append(lap_distance)
        ys.append(lap_time)
    # Elapsed time never decreases along a lap; a stored point that does is an artefact (repositioning).
    return np.interp(np.asarray(at, dtype=np.float64), xs, np.maximum.accumulate(ys))


def lap_mini_sector_times(profile: pd.DataFrame, lap_time: float, lap_distance: float, cuts: Layout) -> F64:
    """Time in each mini-sector of one complete lap, from its stored profile (``distance``, ``elapsed``)."""
    if profile.empty:
        return np.full(cuts.count, np.nan)
    inner = elapsed_at(profile["distance"], profile["elapsed"], lap_distance, lap_time, cuts.ends[:-1])
    at_edges = np.concatenate(([0.0], inner, [lap_time]))
    return np.diff(at_edges)


def open_lap_mini_sector_times(profile: pd.DataFrame, cuts: Layout) -> F64:
    """Time in each mini-sector an open lap (still running, or cut short) has driven through
    entirely; NaN for the others. It must have started at the line for these to mean anything."""
    if profile.empty:
        return np.full(cuts.count, np.nan)
    reached = float(np.nanmax(profile["distance"]))
    edges = np.asarray(cuts.edges, dtype=np.float64)
    at_edges = elapsed_at(profile["distance"], profile["elapsed"], np.nan, np.nan, edges)
    at_edges[edges > reached] = np.nan
    at_edges[-1] = np.nan  # the finish: not crossed yet
    return np.diff(at_edges)


def mini_sector_times(laps: pd.DataFrame, profiles: Mapping[LapId, pd.DataFrame], cuts: Layout) -> pd.DataFrame:
    """The long table of ``TIME_COLUMNS``: every complete lap of ``laps`` (columns SessionId,
    LapNumber, CarId, LapTimeSeconds, Distance, Complete, Invalidated) in every mini-sector."""
    rows = []
    n = cuts.count
    for lap in laps.itertuples(index=False):
        if not bool(lap.Complete):
            continue
        key = (int(lap.SessionId), int(lap.LapNumber))
        profile = profiles.get(key, pd.DataFrame(columns=["distance", "elapsed"]))
        times = lap_mini_sector_times(profile, float(lap.LapTimeSeconds), float(lap.Distance), cuts)
        rows.append(
            pd.DataFrame(
                {
                    "SessionId": np.full(n, key[0], dtype=np.int64),
                    "LapNumber": np.full(n, key[1], dtype=np.int64),
                    "CarId": np.full(n, _car(lap.CarId), dtype=np.int64),
                    "Invalidated": np.full(n, bool(lap.Invalidated)),
                    "MiniSector": np.arange(1, n + 1, dtype=np.int64),
                    "StartDistance": cuts.starts,
                    "EndDistance": cuts.ends,
                    "Time": times,
                }
            )
        )
    if not rows:
        return empty_table()[list(TIME_COLUMNS)]
    return pd.concat(rows, ignore_index=True)


def empty_table() -> pd.DataFrame:
    """A classified mini-sector table without rows (no complete lap)."""
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in (*TIME_COLUMNS, *CLASS_COLUMNS)})


def _car(value: object) -> int:
    return int(value) if isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value) else -1


def classify(times: pd.DataFrame) -> pd.DataFrame:
    """``times`` with each mini-sector's SessionBest, the car's PersonalBest and the Status (module docstring)."""
    out = times.copy()
    valid = out["Time"].where(~out["Invalidated"].astype(bool) & np.isfinite(out["Time"]))
    out["SessionBest"] = valid.groupby(out["MiniSector"]).transform("min")
    out["PersonalBest"] = valid.groupby([out["CarId"], out["MiniSector"]]).transform("min")
    status = np.where(
        out["Time"] <= out["SessionBest"] + TIE_S,
        Status.SESSION_BEST.value,
        np.where(out["Time"] <= out["PersonalBest"] + TIE_S, Status.PERSONAL_BEST.value, Status.SLOWER.value),
    )
    status = np.where(out["Invalidated"].astype(bool), Status.INVALIDATED.value, status)
    out["Status"] = pd.Categorical(status, categories=[s.value for s in Status])
    out.loc[~np.isfinite(out["Time"]), "Status"] = np.nan
    return out


def status_counts(classified: pd.DataFrame) -> pd.DataFrame:
    """Per lap (SessionId, LapNumber): how many mini-sectors have each status, one column per Status."""
    counts = classified.groupby([*KEY_COLUMNS, "Status"], observed=False).size().unstack("Status", fill_value=0)
    return counts.reindex(columns=[s.value for s in Status], fill_value=0).astype("int64")


@dataclass(frozen=True, kw_only=True)
class TheoreticalBest:
    """The sum of the best time in every mini-sector, and the fastest lap it is measured against."""

    lap_time: float  # s; NaN when a mini-sector has no valid time
    fastest_lap_time: float  # s
    fastest: LapId  # (session id, lap) of the fastest valid lap
    bests: pd.DataFrame  # per mini-sector: MiniSector, StartDistance, EndDistance, Time, SessionId, LapNumber, CarId

    @property
    def gain(self) -> float:
        """How much faster the theoretical best is than the fastest lap (s, >= 0)."""
        return self.fastest_lap_time - self.lap_time


def theoretical_best(classified: pd.DataFrame) -> TheoreticalBest:
    """From ``classify`` output: which lap set each mini-sector's best, and their sum."""
    valid = classified[~classified["Invalidated"].astype(bool) & np.isfinite(classified["Time"])]
    if valid.empty:
        raise ValueError("no complete, valid lap with a distance profile: no theoretical best")
    best_rows = valid.loc[valid.groupby("MiniSector")["Time"].idxmin()]
    bests = best_rows[["MiniSector", "StartDistance", "EndDistance", "Time", "SessionId", "LapNumber", "CarId"]]
    bests = bests.sort_values("MiniSector").reset_index(drop=True)
    count = int(classified["MiniSector"].max())
    total = float(bests["Time"].sum()) if len(bests) == count else float("nan")
    lap_times = valid.groupby(list(KEY_COLUMNS))["Time"].agg(["sum", "count"])
    whole = lap_times[lap_times["count"] == count]["sum"]
    if whole.empty:
        raise ValueError("no valid lap is timed in every mini-sector: no fastest lap to compare with")
    fastest = whole.idxmin()
    return TheoreticalBest(
        lap_time=total,
        fastest_lap_time=float(whole.loc[fastest]),
        fastest=(int(fastest[0]), int(fastest[1])),
        bests=bests,
    )
