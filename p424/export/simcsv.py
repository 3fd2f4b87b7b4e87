"""A stored lap as the simulator's own lap file: pure functions from a lap's samples to CSV text.

The layout of today's simulator export (``Perrinn424.TelemetryLapSystem`` in
PERRINN/project-424-unity: ``TelemetryLapFileWriter``, ``DataRow``, ``Channels``; a real export is
``Assets/Features/AI Speed Estimator/Trainer/data/training_data.csv``, whose first 15 s are
tests/data/perrinn424_training_data_excerpt_15s.csv):

- a header row: the fixed columns ``FIXED_COLUMNS`` (newest ``DataRow.Headers``), then one column
  per channel under its simulator name (``Channel.sim_name``);
- a units row: the fixed columns' units (newest ``DataRow``), then each channel's display unit
  (``Channel.shown_unit``; empty for a channel without one);
- one row per sample: every value as the simulator writes it, ``{0:F5}`` with the invariant culture
  (five decimals, ``NaN`` for a channel without a value), lines ended by CR+LF (``WriteLine`` on
  Windows, the platform the simulator runs on).

A channel's written value is its stored value in its display unit and the simulator's axis sign:
``stored * sim_sign / conversion(display unit, stored unit)`` (``p424/units.py``), the inverse of
what a lap-file reader does. The ``Sector`` column counts from 0 (``lapTimer.currentSector``), the
catalog's sector from 1. ``MarkerTime`` and ``MarkerFlag`` are not stored by the platform and are
written 0, as the simulator writes them while no marker is set.

The companion ``<file>.metadata`` (``TelemetryLapMetadata``, written by ``JsonUtility.ToJson(meta,
true)`` next to the CSV) is ``metadata``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from p424.catalog import CATALOG, Catalog, Channel
from p424.units import SIMULATOR_SPELLING, conversion

F64 = npt.NDArray[np.float64]
LINE_END = "\r\n"
NUMBER_FORMAT = "%.5f"  # C#'s {0:F5}
NOT_A_NUMBER = "NaN"  # how .NET formats float.NaN
FILE_FORMAT_VERSION = 1  # TelemetryLapMetadata.fileFormatVersion

# The fixed columns of the newest DataRow, with its units row, and what each is filled from in a
# lap's frames (``Lap.get_frames``): a frame column, a catalog channel, or nothing stored (0).
FIXED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Frame", "n/a"),
    ("Time", "s"),
    ("Distance", "m"),
    ("TotalTime", "s"),
    ("TotalDistance", "m"),
    ("SegmentNum", "n/a"),
    ("Sector", "n/a"),
    ("Markers", "n/a"),
    ("MarkerTime", "n/a"),
    ("MarkerFlag", "n/a"),
)
FROM_FRAMES = {"Frame": "Sequence", "Time": "LapTime", "Distance": "Distance", "TotalTime": "SessionTime"}
FROM_HEADER = {"SegmentNum": "Lap", "Markers": "Markers"}
NOT_STORED = ("MarkerTime", "MarkerFlag")


class ExportError(ValueError):
    """A lap that cannot be written in the simulator's layout; the message says why."""


def fixed_channels(catalog: Catalog = CATALOG) -> dict[str, Channel]:
    """Fixed columns that are catalog channels (Distance, TotalTime, SegmentNum, ...), by column."""
    by_csv = catalog.by_csv_column()
    return {name: by_csv[name.upper()] for name, _ in FIXED_COLUMNS if name.upper() in by_csv}


def channel_columns(catalog: Catalog = CATALOG) -> tuple[Channel, ...]:
    """Payload channels written after the fixed columns: every one a fixed column does not already give."""
    given = {c.name for c in fixed_channels(catalog).values()}
    return tuple(c for c in catalog.payload_channels if c.name not in given)


def simulator_unit(channel: Channel) -> str:
    """The channel's display unit as the simulator spells it in its units row."""
    return SIMULATOR_SPELLING.get(channel.shown_unit, channel.shown_unit)


def written_factor(channel: Channel, unit: str | None = None) -> float:
    """Written value = stored value * this: into ``unit`` (default: the display unit), with the
    simulator's axis sign."""
    return channel.sim_sign / conversion(channel.shown_unit if unit is None else unit, channel.unit).factor


@dataclass(frozen=True, kw_only=True)
class LapFile:
    """A lap in the simulator's layout: header, units and the values as written (before formatting)."""

    header: tuple[str, ...]
    units: tuple[str, ...]
    values: F64  # (samples, columns)

    def text(self) -> str:
        # One %-format per row (C-level): ~25x faster than formatting cell by cell.
        row = ",".join([NUMBER_FORMAT] * len(self.header)) + LINE_END
        body = "".join(row % tuple(r) for r in self.values.tolist())
        head = ",".join(self.header) + LINE_END + ",".join(self.units) + LINE_END
        return head + body.replace("nan", NOT_A_NUMBER)  # Python writes NaN as nan, .NET as NaN


def lap_file(frames: pd.DataFrame, channels: Sequence[str] | None = None, catalog: Catalog = CATALOG) -> LapFile:
    """A lap's frames (``Lap.get_frames``: SessionTime, LapTime, Distance, Sequence, Lap, Markers and
    channels in stored units) in the simulator's layout. ``channels`` default to those with a value
    in at least one frame; the fixed columns are always written."""
    if frames.empty:
        raise ExportError("the lap has no frames to write")
    missing = [c for c in (*FROM_FRAMES.values(), *FROM_HEADER.values()) if c not in frames.columns]
    if missing:
        raise ExportError(f"the lap's samples lack {', '.join(missing)}: export needs every frame with its header")
    fixed = fixed_channels(catalog)
    n = len(frames)
    columns: list[F64] = []
    for name, unit in FIXED_COLUMNS:
        if name in FROM_FRAMES:
            columns.append(frames[FROM_FRAMES[name]].to_numpy(np.float64))
        elif name in FROM_HEADER:
            columns.append(frames[FROM_HEADER[name]].to_numpy(np.float64))
        elif name in NOT_STORED:
            columns.append(np.zeros(n))
        else:
            channel = fixed[name]
            v = _stored(frames, channel.name, n)
            columns.append((v - channel.sim_offset) * written_factor(channel, unit))
    chosen = _chosen(frames, channels, catalog)
    for channel in chosen:
        columns.append(_stored(frames, channel.name, n) * written_factor(channel))
    return LapFile(
        header=(*(name for name, _ in FIXED_COLUMNS), *(c.csv_column for c in chosen)),
        units=(*(unit for _, unit in FIXED_COLUMNS), *(simulator_unit(c) for c in chosen)),
        values=np.column_stack(columns),
    )


def _stored(frames: pd.DataFrame, name: str, n: int) -> F64:
    return frames[name].to_numpy(np.float64) if name in frames.columns else np.full(n, np.nan)


def _chosen(frames: pd.DataFrame, channels: Sequence[str] | None, catalog: Catalog) -> list[Channel]:
    writable = channel_columns(catalog)
    if channels is None:
        return [c for c in writable if c.name in frames.columns and frames[c.name].notna().any()]
    by_name = {c.name: c for c in writable}
    given = {c.name for c in fixed_channels(catalog).values()}
    unknown = [c for c in channels if c not in by_name and c not in given]
    if unknown:
        raise ExportError(f"not catalog channels: {', '.join(unknown)}")
    return [by_name[c] for c in channels if c in by_name]


def file_name(end_utc: datetime, lap_time: float | None) -> str:
    """The simulator's lap-file name: ``yyyy-MM-dd HH.mm.ss UTC mm.ss.fff.csv`` (``unfinished``
    instead of the lap time for a lap that did not complete), stamped when the lap ended."""
    when = end_utc.astimezone(UTC).strftime("%Y-%m-%d %H.%M.%S")
    if lap_time is None or not math.isfinite(lap_time):
        return f"{when} UTC unfinished.csv"
    minutes, seconds = divmod(lap_time, 60)
    return f"{when} UTC {int(minutes):02d}.{seconds:06.3f}.csv"


def metadata(
    lap: LapFile,
    *,
    track: str,
    lap_index: int,
    lap_time: float,
    completed: bool,
    sector_times: Sequence[float],
    csv_file: str,
    time_stamp: int,
    catalog: Catalog = CATALOG,
) -> dict[str, Any]:
    """``TelemetryLapMetadata`` for a written lap, field by field as the simulator fills it."""
    t = lap.values[:, lap.header.index("Time")]
    step = float(np.median(np.diff(t))) if len(t) > 1 else math.nan
    by_csv = catalog.by_csv_column()
    channels = lap.header[len(FIXED_COLUMNS) :]
    return {
        "trackName": track,
        "fileFormatVersion": FILE_FORMAT_VERSION,
        "frequency": round(1 / step) if step > 0 else 0,
        "lapIndex": lap_index,
        "lapTime": lap_time,
        "completed": completed,
        "completedSectors": float(len(sector_times)),
        "sectorsTime": list(sector_times),
        "headers": list(lap.header),
        "headerUnits": list(lap.units),
        "channels": list(channels),
        "channelsFrequency": [float(by_csv[c.upper()].rate_hz) for c in channels],
        "count": len(lap.values),
        "csvFile": csv_file,
        "timeStamp": time_stamp,
        "ideal": False,
        "idealSectorOrigin": [],
    }
