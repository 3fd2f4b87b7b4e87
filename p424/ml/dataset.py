"""Training data decisions and shaping (pure: tested without services).

- ``select_laps``: which stored laps qualify (complete, valid, timed, with energy, from a session that
  lost few frames, as long as the other laps of their track), each labelled with its track;
- ``plan_folds``: which whole sessions are held out for validation (at least
  ``MIN_VALIDATION_SESSIONS``, by a stable hash of the session id), or why a track cannot be trained;
- ``lap_rows`` / ``assemble``: a lap's windows (time order) -> one feature row per window, with the
  lap's identity, full length and the two targets.

Reading is the training source's job (``p424.ml.source``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from p424.ml.features import SPEC, FeatureSpec, WindowObs, lap_features
from p424.ml.source import StoredLap
from p424.ml.steps import TARGETS, TRAIN, VALIDATION

LAP_LENGTH_COLUMN = "lap_distance_total"
META_COLUMNS = ("session_id", "lap", "car_id", "window", LAP_LENGTH_COLUMN)
TARGET_COLUMNS = tuple(f"y_{t}" for t in TARGETS)
SAME_TRACK_TOLERANCE = 0.03  # laps more than 3 % longer or shorter than their track's median missed a line
MIN_VALIDATION_SESSIONS = 3  # held-out evaluation needs this many whole sessions, and one more to train on


class NotEnoughDataError(ValueError):
    """A track cannot be trained and validated honestly; the message says what is missing."""


@dataclass(frozen=True, kw_only=True)
class LapLabel:
    """A qualifying lap, its track and its outcome (the targets)."""

    session_id: int
    lap: int
    car_id: int
    track: str
    start_ms: int | None
    lap_time: float
    energy_net_kwh: float
    distance: float

    @property
    def key(self) -> tuple[int, int]:
        return (self.session_id, self.lap)


@dataclass(frozen=True, kw_only=True)
class LapSelection:
    laps: tuple[LapLabel, ...]
    rejected: dict[str, dict[str, int]] = field(default_factory=dict)  # track -> reason -> laps left out

    def rejected_of(self, track: str) -> dict[str, int]:
        return dict(self.rejected.get(track, {}))

    @property
    def rejected_total(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for reasons in self.rejected.values():
            for why, n in reasons.items():
                out[why] = out.get(why, 0) + n
        return out


def select_laps(laps: Iterable[StoredLap], tracks: Mapping[int, str], exclude: Iterable[int] = ()) -> LapSelection:
    """Complete, non-invalidated laps with a lap time, a distance and a net energy, labelled with their
    session's track (``tracks``, every session's resolved track), leaving out the sessions in
    ``exclude`` (too many frames lost: their laps have gaps) and laps whose length is not their track's."""
    rejected: dict[str, dict[str, int]] = {}
    candidates: dict[str, list[LapLabel]] = {}

    def reject(track: str, why: str) -> None:
        reasons = rejected.setdefault(track, {})
        reasons[why] = reasons.get(why, 0) + 1

    excluded = set(exclude)
    for r in laps:
        track = tracks[r.session_id]
        if r.session_id in excluded:
            reject(track, "lossy session")
        elif not r.complete:
            reject(track, "incomplete")
        elif r.invalidated:
            reject(track, "invalidated")
        elif r.lap_time is None or r.lap_time <= 0 or r.distance is None or r.distance <= 0:
            reject(track, "no lap time")
        elif r.energy_net_kwh is None:
            reject(track, "no energy")
        else:
            candidates.setdefault(track, []).append(
                LapLabel(
                    session_id=r.session_id,
                    lap=r.lap,
                    car_id=r.car_id,
                    track=track,
                    start_ms=r.start_ms,
                    lap_time=r.lap_time,
                    energy_net_kwh=r.energy_net_kwh,
                    distance=r.distance,
                )
            )
    kept: list[LapLabel] = []
    for track, labels in candidates.items():
        median = float(np.median([c.distance for c in labels]))
        for c in labels:
            if abs(c.distance - median) <= SAME_TRACK_TOLERANCE * median:
                kept.append(c)
            else:
                reject(track, "other track length")
    return LapSelection(laps=tuple(kept), rejected=rejected)


def by_track(laps: Iterable[LapLabel]) -> dict[str, list[LapLabel]]:
    """Laps grouped by track, tracks in name order, laps in (session, lap) order."""
    out: dict[str, list[LapLabel]] = {}
    for lap in sorted(laps, key=lambda x: (x.track, x.session_id, x.lap)):
        out.setdefault(lap.track, []).append(lap)
    return out


def unit_hash(session_id: int) -> float:
    """A stable pseudo-random number in [0, 1) per session: the same session always lands in the same fold."""
    digest = hashlib.sha256(str(int(session_id)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True, kw_only=True)
class Folds:
    train: tuple[int, ...]
    validation: tuple[int, ...]

    def fold_of(self, session_id: int) -> str:
        return VALIDATION if session_id in self.validation else TRAIN


def plan_folds(session_ids: Iterable[int], fraction: float, min_validation: int = MIN_VALIDATION_SESSIONS) -> Folds:
    """(training sessions, validation sessions), held out by a stable hash of the session id.

    A session whose hash falls below ``fraction`` is validation, in every run, so a model is never
    scored on laps it trained on. When the hash picks fewer than ``min_validation`` sessions, the
    lowest-hash ones are held out up to that number; at least one session is left to train on.
    Raises ``NotEnoughDataError`` with fewer than ``min_validation + 1`` sessions.
    """
    ranked = sorted(set(session_ids), key=unit_hash)
    if len(ranked) < min_validation + 1:
        raise NotEnoughDataError(
            f"laps from {len(ranked)} session(s); validation holds out {min_validation} whole sessions and "
            f"training needs at least one more ({min_validation + 1} sessions with complete laps)"
        )
    validation = [s for s in ranked if unit_hash(s) < fraction]
    if len(validation) < min_validation:
        validation = ranked[:min_validation]
    validation = validation[: len(ranked) - 1]
    held = set(validation)
    return Folds(train=tuple(sorted(s for s in ranked if s not in held)), validation=tuple(sorted(validation)))


def plan_track(laps: Sequence[LapLabel], min_laps: int, fraction: float) -> Folds:
    """The folds of one track's laps, or ``NotEnoughDataError`` saying why it cannot be trained."""
    if len(laps) < min_laps:
        raise NotEnoughDataError(f"{len(laps)} complete, valid laps; training needs MIN_TRAINING_LAPS={min_laps}")
    return plan_folds({lap.session_id for lap in laps}, fraction)


# --------------------------------------------------------------------------------------- feature rows
def lap_rows(label: LapLabel, windows: Sequence[Mapping[str, Any]], spec: FeatureSpec = SPEC) -> pd.DataFrame:
    """Feature rows of one lap from its window rows (time order), with identity and targets; a window
    without frames (none are written today; rows of older stores may have them) carries nothing."""
    obs = [WindowObs.from_row(w, spec) for w in windows if w.get("frame_count")]
    df = pd.DataFrame(lap_features(obs, spec), columns=list(spec.names))
    df.insert(0, "session_id", np.int64(label.session_id))
    df.insert(1, "lap", np.int64(label.lap))
    df.insert(2, "car_id", np.int64(label.car_id))
    df.insert(3, "window", np.arange(len(df), dtype=np.int64))
    df.insert(4, LAP_LENGTH_COLUMN, label.distance)
    df[TARGET_COLUMNS[0]] = label.lap_time
    df[TARGET_COLUMNS[1]] = label.energy_net_kwh
    return df


def assemble(
    laps: Sequence[LapLabel], windows: Mapping[tuple[int, int], Sequence[Mapping[str, Any]]], spec: FeatureSpec = SPEC
) -> pd.DataFrame:
    """All laps' feature rows; laps without windows are left out."""
    frames = [lap_rows(lap, windows[lap.key], spec) for lap in laps if windows.get(lap.key)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*META_COLUMNS, *spec.names, *TARGET_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def features_of(df: pd.DataFrame, spec: FeatureSpec = SPEC) -> pd.DataFrame:
    return df[list(spec.names)].astype("float64")


def targets_of(df: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
    out: np.ndarray[Any, np.dtype[np.float64]] = df[list(TARGET_COLUMNS)].to_numpy(dtype=np.float64)
    return out
