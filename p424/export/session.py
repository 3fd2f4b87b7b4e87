"""Exporting a stored session: read its laps, write CSV lap files or one Parquet file, report progress.

CSV (``simcsv``): one file per lap in the simulator's own layout, plus its ``.metadata``, in a
directory; a file replays with ``./launchcommand.sh replay`` as the lap it was. From raw frames
(the default) every frame is a row; from windows, each window's last values at its last frame (a
10 Hz lap file for 100 ms windows).

Parquet (``parquet``): one file for the laps chosen, a row per frame (raw) or per window
(windows, every statistic of every channel), with units and the catalog version in its metadata.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from p424.analysis.core import Lap, Session
from p424.catalog import CATALOG
from p424.export import parquet, simcsv
from p424.storage.schema import WINDOW_STATS

FORMATS = ("csv", "parquet")
SOURCES = ("raw", "windows")
WINDOW_LAST = "last"  # a window in a lap file: its last values, where its last frame was


@dataclass(frozen=True, kw_only=True)
class ExportRequest:
    session_id: int
    fmt: str  # csv | parquet
    source: str = "raw"  # raw | windows
    laps: tuple[int, ...] = ()  # lap numbers; empty: every lap
    channels: tuple[str, ...] = ()  # catalog channels; empty: those with a value
    out: Path | None = None  # csv: a directory; parquet: a file
    window_ms: int = 100

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {self.fmt!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {self.source!r}")
        unknown = [c for c in self.channels if c not in CATALOG.payload_index]
        if unknown:
            raise ValueError(f"not catalog channels: {', '.join(unknown)} (python -m p424.catalog lists them)")

    @property
    def path(self) -> Path:
        if self.out is not None:
            return self.out
        return Path(f"session-{self.session_id}" + (".parquet" if self.fmt == "parquet" else "-laps"))


@dataclass(frozen=True, kw_only=True)
class Written:
    path: Path
    laps: tuple[int, ...]
    rows: int


Progress = Callable[[str], None]


def export_session(session: Session, request: ExportRequest, progress: Progress = print) -> list[Written]:
    laps = _laps(session, request.laps)
    if request.fmt == "csv":
        return _csv(session, laps, request, progress)
    return [_parquet(session, laps, request, progress)]


def _laps(session: Session, numbers: Sequence[int]) -> list[Lap]:
    table = session.laps
    if table.empty:
        raise ValueError(f"session {session.session_id} has no laps stored yet")
    chosen = numbers or [int(n) for n in table["LapNumber"]]
    return [table.pick_lap(n) for n in chosen]


def _samples(lap: Lap, request: ExportRequest) -> pd.DataFrame:
    """What the lap's rows are made of: frames with their header, or windows shaped like frames."""
    channels = list(request.channels) or None
    if request.source == "raw":
        return lap.get_frames(channels)
    tel = lap.get_telemetry(channels, source="windows", window_ms=request.window_ms, stat=WINDOW_LAST)
    tel = tel.drop(columns=["Date"])
    tel["SessionTime"] = float(lap["StartSessionTime"]) + tel["LapTime"]  # the window's last frame
    tel.insert(3, "Sequence", np.arange(len(tel), dtype=np.int64))
    tel.insert(4, "Lap", int(lap["LapNumber"]))
    tel.insert(5, "Markers", 0)  # windows keep no markers
    return tel


def _csv(session: Session, laps: Sequence[Lap], request: ExportRequest, progress: Progress) -> list[Written]:
    folder = request.path
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    started = time.monotonic()
    for i, lap in enumerate(laps, start=1):
        number = int(lap["LapNumber"])
        samples = _samples(lap, request)
        if samples.empty:
            progress(f"lap {number} ({i}/{len(laps)}): nothing stored, skipped")
            continue
        lap_file = simcsv.lap_file(samples, list(request.channels) or None)
        complete = bool(lap["Complete"])
        lap_time = float(lap["LapTimeSeconds"])
        end = _end_utc(lap)
        name = simcsv.file_name(end, lap_time if complete else None)
        path = folder / name
        path.write_bytes(lap_file.text().encode("utf-8"))
        meta = simcsv.metadata(
            lap_file,
            track=session.track,
            lap_index=number,
            lap_time=lap_time,
            completed=complete,
            sector_times=_sector_times(lap),
            csv_file=name,
            time_stamp=int(end.timestamp()),
        )
        (folder / f"{name}.metadata").write_text(_json(meta), encoding="utf-8")
        out.append(Written(path=path, laps=(number,), rows=len(lap_file.values)))
        progress(
            f"lap {number} ({i}/{len(laps)}): {len(lap_file.values):,} rows x {len(lap_file.header)} columns -> "
            f"{path} ({time.monotonic() - started:.1f} s)"
        )
    return out


def _parquet(session: Session, laps: Sequence[Lap], request: ExportRequest, progress: Progress) -> Written:
    parts = []
    started = time.monotonic()
    for i, lap in enumerate(laps, start=1):
        number = int(lap["LapNumber"])
        if request.source == "raw":
            part = lap.get_frames(list(request.channels) or None)
        else:
            part = _windows(lap, request)
        part.insert(0, "LapNumber", number)
        parts.append(pd.DataFrame(part))
        progress(f"lap {number} ({i}/{len(laps)}): {len(part):,} rows read ({time.monotonic() - started:.1f} s)")
    frame = pd.concat(parts, ignore_index=True)
    if not request.channels:
        frame = frame.drop(columns=[c for c in _channel_columns(frame) if frame[c].isna().all()])
    channels = _channel_columns(frame)
    frame[channels] = frame[channels].astype("float32")  # frames and window stats carry float32
    t = parquet.table(
        frame,
        {
            "session_id": str(session.session_id),
            "track": session.track,
            "sender_catalog_hash": str(session.info.get("catalog_hash") or ""),
            "source": request.source,
            "window_ms": str(request.window_ms) if request.source == "windows" else "",
            "laps": ",".join(str(int(lap["LapNumber"])) for lap in laps),
        },
    )
    path = request.path
    path.parent.mkdir(parents=True, exist_ok=True)
    parquet.write(t, path)
    progress(f"{len(frame):,} rows x {len(frame.columns)} columns -> {path} ({time.monotonic() - started:.1f} s)")
    return Written(path=path, laps=tuple(int(lap["LapNumber"]) for lap in laps), rows=len(frame))


def _windows(lap: Lap, request: ExportRequest) -> pd.DataFrame:
    """Every statistic of the lap's windows: Date, SessionTime, LapTime, Distance, FrameCount, <channel>_<stat>."""
    session: Session = lap.session
    names = list(request.channels) or list(CATALOG.payload_names)
    key = (session.session_id, int(lap["LapNumber"]))
    block = session.store.window_blocks([key], request.window_ms, WINDOW_STATS, names)[key]
    out = pd.DataFrame(
        {
            "Date": pd.to_datetime(block.ts_ms, unit="ms", utc=True),
            "SessionTime": block.window_start,
            "LapTime": block.lap_time,
            "Distance": block.lap_distance,
            "FrameCount": block.frame_count,
        }
    )
    stats = pd.DataFrame(
        np.concatenate([block.values[s] for s in WINDOW_STATS], axis=1),
        columns=[f"{c}_{s}" for s in WINDOW_STATS for c in names],
    )
    return pd.concat([out, stats], axis=1)


def _channel_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in parquet.AXES]


def _end_utc(lap: Lap) -> datetime:
    """When the lap ended on the session wall clock (the simulator stamps a lap file when it saves it)."""
    start = lap.get("StartDate")
    base: datetime = pd.Timestamp(start).to_pydatetime() if start is not None and not pd.isna(start) else _now()
    if base.tzinfo is None:
        base = base.replace(tzinfo=UTC)  # the driver returns timestamps as naive UTC
    return base + timedelta(seconds=float(lap["LapTimeSeconds"]))


def _now() -> datetime:
    return datetime.now(UTC)


def _sector_times(lap: Lap) -> list[float]:
    return [
        v.total_seconds()
        for k, v in lap.items()
        if str(k).startswith("Sector") and str(k).endswith("Time") and isinstance(v, pd.Timedelta)
    ]


def _json(doc: object) -> str:
    return json.dumps(doc, indent=4)  # JsonUtility.ToJson(meta, prettyPrint: true) indents by four
