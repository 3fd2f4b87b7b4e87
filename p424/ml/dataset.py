"""Training data: complete, valid laps and their windows from Cassandra, as lap-so-far feature rows.

Pure part (tested without services): which laps qualify, which sessions are held out, and how a
lap's window rows become feature rows with ``LapSoFar``. I/O part: ``read_laps`` and
``read_windows`` query the ``laps`` and ``channel_windows`` tables concurrently.

One row per window of every qualifying lap: the features of the lap so far, the lap's identity
(``session_id``, ``lap``, ``car_id``, ``window``), its full length and the two targets.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from p424.ml.features import SPEC, FeatureSpec, WindowObs, lap_features
from p424.storage import window_stats
from p424.storage.schema import WINDOWS_PER_PART

META_COLUMNS = ("session_id", "lap", "car_id", "window", "lap_distance_total")
TARGET_COLUMNS = ("y_lap_time_s", "y_energy_net_kwh")
SAME_TRACK_TOLERANCE = 0.03  # laps more than 3 % longer or shorter than the median are another track


@dataclass(frozen=True)
class LapLabel:
    """A qualifying lap and its outcome (the targets)."""

    session_id: int
    lap: int
    car_id: int
    lap_time: float
    energy_net_kwh: float
    distance: float


@dataclass
class LapSelection:
    laps: list[LapLabel]
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> laps left out


def select_laps(rows: Iterable[Mapping[str, Any]], exclude: Iterable[int] = ()) -> LapSelection:
    """Complete, non-invalidated laps with a lap time and a net energy, on the fleet's main track,
    leaving out the sessions in ``exclude`` (too many frames lost: their laps have gaps)."""
    out = LapSelection([])
    candidates: list[LapLabel] = []

    def reject(why: str) -> None:
        out.rejected[why] = out.rejected.get(why, 0) + 1

    excluded = set(exclude)
    for r in rows:
        if int(r["session_id"]) in excluded:
            reject("lossy session")
        elif not r.get("complete"):
            reject("incomplete")
        elif r.get("invalidated"):
            reject("invalidated")
        elif not _finite(r.get("lap_time")) or float(r["lap_time"]) <= 0 or not _finite(r.get("distance")):
            reject("no lap time")
        elif not _finite(r.get("energy_net_kwh")):
            reject("no energy")
        else:
            candidates.append(
                LapLabel(
                    int(r["session_id"]),
                    int(r["lap"]),
                    int(r.get("car_id") or 0),
                    float(r["lap_time"]),
                    float(r["energy_net_kwh"]),
                    float(r["distance"]),
                )
            )
    if candidates:
        median = float(np.median([c.distance for c in candidates]))
        for c in candidates:
            if abs(c.distance - median) <= SAME_TRACK_TOLERANCE * median:
                out.laps.append(c)
            else:
                reject("other track length")
    return out


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def unit_hash(session_id: int) -> float:
    """A stable pseudo-random number in [0, 1) per session: the same session always lands in the same fold."""
    digest = hashlib.sha256(str(int(session_id)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def holdout(session_ids: Iterable[int], fraction: float) -> tuple[list[int], list[int]]:
    """(training sessions, validation sessions), held out by a stable hash of the session id.

    A session whose hash falls below ``fraction`` is validation, in every run, so a model never
    trained on the laps it is later compared on. With few sessions the hash may pick none or all;
    then the lowest-hash session(s) are held out so both folds are non-empty.
    """
    ranked = sorted(set(session_ids), key=unit_hash)
    if len(ranked) < 2:
        raise ValueError("holding laps out by session needs at least two sessions")
    validation = [s for s in ranked if unit_hash(s) < fraction]
    if not validation:
        validation = ranked[:1]
    validation = validation[: len(ranked) - 1]
    held = set(validation)
    return [s for s in ranked if s not in held], validation


def lap_rows(label: LapLabel, windows: Sequence[Mapping[str, Any]], spec: FeatureSpec = SPEC) -> pd.DataFrame:
    """Feature rows of one lap from its window rows (time order), with identity and targets."""
    obs = [WindowObs.from_row(w, spec) for w in windows]
    df = pd.DataFrame(lap_features(obs, spec), columns=list(spec.names))
    df.insert(0, "session_id", np.int64(label.session_id))
    df.insert(1, "lap", np.int64(label.lap))
    df.insert(2, "car_id", np.int64(label.car_id))
    df.insert(3, "window", np.arange(len(df), dtype=np.int64))
    df.insert(4, "lap_distance_total", label.distance)
    df[TARGET_COLUMNS[0]] = label.lap_time
    df[TARGET_COLUMNS[1]] = label.energy_net_kwh
    return df


def assemble(
    laps: Sequence[LapLabel], windows: Mapping[tuple[int, int], Sequence[Mapping[str, Any]]], spec: FeatureSpec = SPEC
) -> pd.DataFrame:
    """All laps' feature rows; laps without windows are left out."""
    frames = [
        lap_rows(lap, windows[(lap.session_id, lap.lap)], spec)
        for lap in laps
        if windows.get((lap.session_id, lap.lap))
    ]
    if not frames:
        return pd.DataFrame(columns=[*META_COLUMNS, *spec.names, *TARGET_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def features_of(df: pd.DataFrame, spec: FeatureSpec = SPEC) -> pd.DataFrame:
    return df[list(spec.names)].astype("float64")


def targets_of(df: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
    out: np.ndarray[Any, np.dtype[np.float64]] = df[list(TARGET_COLUMNS)].to_numpy(dtype=np.float64)
    return out


# ------------------------------------------------------------------------------------------- Cassandra
def session_ids(session: Session, keyspace: str) -> list[int]:
    return sorted(
        int(r["session_id"]) for r in session.execute(f"SELECT session_id FROM {keyspace}.sessions", timeout=60)
    )


def lossy_sessions(session: Session, keyspace: str, sessions: Sequence[int], max_loss_ratio: float) -> set[int]:
    """Sessions whose frame loss (lost / (received + lost)) exceeds ``max_loss_ratio``."""
    ps = session.prepare(
        f"SELECT session_id, frames_received, frames_lost FROM {keyspace}.session_quality WHERE session_id = ?"
    )
    out: set[int] = set()
    for _ok, result in execute_concurrent_with_args(
        session, ps, [(s,) for s in sessions], concurrency=16, raise_on_first_error=True
    ):
        for r in result:
            received, lost = int(r["frames_received"] or 0), int(r["frames_lost"] or 0)
            if received + lost and lost / (received + lost) > max_loss_ratio:
                out.add(int(r["session_id"]))
    return out


def read_laps(session: Session, keyspace: str, sessions: Sequence[int]) -> list[dict[str, Any]]:
    ps = session.prepare(
        f"SELECT session_id, lap, car_id, lap_time, distance, complete, invalidated, energy_net_kwh "
        f"FROM {keyspace}.laps WHERE session_id = ?"
    )
    rows: list[dict[str, Any]] = []
    for _ok, result in execute_concurrent_with_args(
        session, ps, [(s,) for s in sessions], concurrency=16, raise_on_first_error=True
    ):
        rows.extend(result)
    return rows


def read_windows(
    session: Session, keyspace: str, laps: Sequence[LapLabel], window_ms: int, spec: FeatureSpec = SPEC
) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """Every window of each lap, in time order (a lap's windows span parts 0, 1, ... of its partition)."""
    wanted = spec.window_columns()
    cols = ", ".join(["ts", "lap_time", "lap_distance", "frame_count", window_stats.BLOB_COLUMN, *wanted])
    ps = session.prepare(
        f"SELECT {cols} FROM {keyspace}.channel_windows WHERE session_id = ? AND window_ms = ? AND lap = ? AND part = ?"
    )
    out: dict[tuple[int, int], list[dict[str, Any]]] = {(lap.session_id, lap.lap): [] for lap in laps}
    pending = [(lap.session_id, lap.lap, 0) for lap in laps]
    while pending:
        args = [(sid, window_ms, lap, part) for sid, lap, part in pending]
        results = execute_concurrent_with_args(session, ps, args, concurrency=16, raise_on_first_error=True)
        nxt = []
        for (sid, lap, part), (_ok, result) in zip(pending, results, strict=True):
            rows = list(result)
            out[(sid, lap)].extend(window_stats.expand(r, wanted) for r in rows if r["frame_count"])
            if len(rows) >= WINDOWS_PER_PART:  # a very long lap continues in the next part
                nxt.append((sid, lap, part + 1))
        pending = nxt
    for rows in out.values():
        rows.sort(key=lambda r: r["ts"])
    return out
