"""A lap file's ``.metadata`` companion, and its cross-check against the lap the file holds: pure.

The simulator's lap writer (``Perrinn424.TelemetryLapSystem``, TelemetryLapFileWriter.WriteMetadata)
saves ``JsonUtility.ToJson(TelemetryLapMetadata)`` as ``<csv path>.metadata``: trackName,
fileFormatVersion, frequency, lapIndex, lapTime, completed, completedSectors, sectorsTime
(+Infinity for sectors not completed), headers, headerUnits, channels, channelsFrequency, count (rows
written), csvFile, timeStamp (Unix seconds), ideal, idealSectorOrigin. Older writers left some fields
out: a missing field is taken as unknown and its check is skipped; a field of the wrong type stops.

Cross-checks: a lap file holds one whole lap, so the metadata's lap time must equal the file's
duration (first row to the closing crossing, one sample after the last row) within one sample
period, the time resolution of the file; each sector time likewise against the file's Sector column
(or sector-line markers); the row count, frequency, headers and units must match.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from p424.markers import MARKER_SECTOR_LINE
from unity_bridge.lapformat import LapFileError

F64 = npt.NDArray[np.float64]
KNOWN_FORMAT_VERSION = 1
FREQUENCY_TOLERANCE = 0.01  # relative: the file's sample interval against 1 / frequency


@dataclass(frozen=True, kw_only=True)
class LapMetadata:
    """TelemetryLapMetadata as the simulator writes it (NaN, None or empty where a field is missing)."""

    source: str  # the metadata file's name
    track_name: str = ""
    file_format_version: int | None = None
    frequency: float = math.nan  # Hz
    lap_index: int | None = None
    lap_time: float = math.nan  # s
    completed: bool | None = None
    completed_sectors: float = math.nan
    sector_times: tuple[float, ...] = ()  # s; +inf for a sector not completed
    headers: tuple[str, ...] = ()
    header_units: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    channels_frequency: tuple[float, ...] = ()  # Hz; -1 for a channel the simulator did not have
    count: int | None = None  # rows written
    csv_file: str = ""
    time_stamp: int | None = None  # Unix seconds
    ideal: bool | None = None  # assembled from the best sectors of several laps
    ideal_sector_origin: tuple[str, ...] = ()


class MetadataError(LapFileError):
    """A metadata file that is there but cannot be read: stops the replay like a bad lap file."""


def parse_metadata(text: str, source: str) -> LapMetadata:
    """Parse the JSON the simulator writes (Python's json reads its Infinity and NaN tokens)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise MetadataError(f"{source}: not JSON ({err})") from None
    if not isinstance(doc, dict):
        raise MetadataError(f"{source}: expected a JSON object, found {type(doc).__name__}")
    f = _Fields(doc, source)
    return LapMetadata(
        source=source,
        track_name=f.text("trackName"),
        file_format_version=f.integer("fileFormatVersion"),
        frequency=f.number("frequency"),
        lap_index=f.integer("lapIndex"),
        lap_time=f.number("lapTime"),
        completed=f.flag("completed"),
        completed_sectors=f.number("completedSectors"),
        sector_times=f.numbers("sectorsTime"),
        headers=f.texts("headers"),
        header_units=f.texts("headerUnits"),
        channels=f.texts("channels"),
        channels_frequency=f.numbers("channelsFrequency"),
        count=f.integer("count"),
        csv_file=f.text("csvFile"),
        time_stamp=f.integer("timeStamp"),
        ideal=f.flag("ideal"),
        ideal_sector_origin=f.texts("idealSectorOrigin"),
    )


@dataclass(frozen=True)
class _Fields:
    doc: dict[str, Any]
    source: str

    def _get(self, key: str, ok: tuple[type, ...], what: str) -> Any:
        value = self.doc.get(key)
        if value is not None and (not isinstance(value, ok) or (isinstance(value, bool) and bool not in ok)):
            raise MetadataError(f"{self.source}: field {key!r} should be {what}, not {value!r}")
        return value

    def text(self, key: str) -> str:
        return str(self._get(key, (str,), "text") or "")

    def number(self, key: str) -> float:
        value = self._get(key, (int, float), "a number")
        return math.nan if value is None else float(value)

    def integer(self, key: str) -> int | None:
        value = self._get(key, (int,), "a whole number")
        return None if value is None else int(value)

    def flag(self, key: str) -> bool | None:
        value = self._get(key, (bool, int), "true or false")  # Unity's YAML writes 0/1
        if value is not None and value not in (0, 1):
            raise MetadataError(f"{self.source}: field {key!r} should be true or false, not {value!r}")
        return None if value is None else bool(value)

    def numbers(self, key: str) -> tuple[float, ...]:
        items = self._get(key, (list,), "a list of numbers") or []
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in items):
            raise MetadataError(f"{self.source}: field {key!r} should be a list of numbers, not {items!r}")
        return tuple(float(x) for x in items)

    def texts(self, key: str) -> tuple[str, ...]:
        items = self._get(key, (list,), "a list of text") or []
        if not all(isinstance(x, str) for x in items):
            raise MetadataError(f"{self.source}: field {key!r} should be a list of text, not {items!r}")
        return tuple(items)


class Verdict(StrEnum):
    AGREES = "agrees"
    DIFFERS = "differs"
    UNCHECKED = "not checked"


@dataclass(frozen=True, kw_only=True)
class MetadataCheck:
    item: str
    metadata: str
    file: str
    verdict: Verdict
    tolerance: str = ""

    @property
    def message(self) -> str:
        within = f" (tolerance {self.tolerance})" if self.tolerance else ""
        return f"{self.item} {self.verdict.value}: metadata {self.metadata}, file {self.file}{within}"


@dataclass(frozen=True, kw_only=True)
class FileLap:
    """What the lap file itself says, for the cross-check."""

    header: tuple[str, ...]
    units: tuple[str, ...] | None
    lap_time: F64  # seconds since the lap started, per row
    sample_interval: float  # s
    sector: F64 | None  # 1-based sector per row, if the file has a Sector column
    markers: F64 | None  # marker bitmask per row, if the file has a Markers column

    @property
    def duration(self) -> float:
        """First row to the closing line crossing, one sample after the last row."""
        return float(self.lap_time[-1] - self.lap_time[0] + self.sample_interval)


def sector_starts(lap: FileLap) -> npt.NDArray[np.intp] | None:
    """Rows where a new sector begins: where the Sector column changes, else the first row of each
    run of sector-line markers; None when the file has neither."""
    if lap.sector is not None:
        rows = np.flatnonzero(np.isfinite(lap.sector))
        s = lap.sector[rows]
        changes: npt.NDArray[np.intp] = rows[1:][s[1:] != s[:-1]]
        return changes
    if lap.markers is not None:
        hit = (lap.markers.astype(np.int64) & MARKER_SECTOR_LINE) != 0
        first_of_run = hit & ~np.concatenate(([False], hit[:-1]))
        return np.flatnonzero(first_of_run[1:]) + 1
    return None


def file_sector_times(lap: FileLap) -> tuple[float, ...] | None:
    starts = sector_starts(lap)
    if starts is None:
        return None
    t0 = float(lap.lap_time[0])
    bounds = [t0, *(float(lap.lap_time[i]) for i in starts), t0 + lap.duration]
    return tuple(b - a for a, b in itertools.pairwise(bounds))


def check_metadata(meta: LapMetadata, lap: FileLap) -> tuple[MetadataCheck, ...]:
    dt = lap.sample_interval
    tol = f"{dt:.3f} s, one sample period"
    checks: list[MetadataCheck] = []
    if meta.file_format_version is not None and meta.file_format_version != KNOWN_FORMAT_VERSION:
        checks.append(
            MetadataCheck(
                item="format version",
                metadata=str(meta.file_format_version),
                file=f"read as version {KNOWN_FORMAT_VERSION}",
                verdict=Verdict.DIFFERS,
            )
        )
    if math.isfinite(meta.lap_time):
        checks.append(_seconds("lap time", meta.lap_time, lap.duration, dt, tol))
    checks += _sector_checks(meta, lap, dt, tol)
    if meta.count is not None:
        n = len(lap.lap_time)
        verdict = Verdict.AGREES if meta.count == n else Verdict.DIFFERS
        checks.append(MetadataCheck(item="rows", metadata=str(meta.count), file=str(n), verdict=verdict))
    if math.isfinite(meta.frequency) and meta.frequency > 0:
        ok = abs(1 / meta.frequency - dt) <= FREQUENCY_TOLERANCE * dt
        checks.append(
            MetadataCheck(
                item="frequency",
                metadata=f"{meta.frequency:g} Hz",
                file=f"{1 / dt:.4g} Hz",
                verdict=Verdict.AGREES if ok else Verdict.DIFFERS,
                tolerance=f"{FREQUENCY_TOLERANCE:.0%} of the sample interval",
            )
        )
    if meta.headers:
        checks.append(_names("headers", meta.headers, lap.header))
    if meta.header_units and lap.units is not None:
        checks.append(_names("units row", meta.header_units, lap.units))
    return tuple(checks)


def _seconds(item: str, meta_s: float, file_s: float, dt: float, tol: str) -> MetadataCheck:
    verdict = Verdict.AGREES if abs(meta_s - file_s) <= dt else Verdict.DIFFERS
    return MetadataCheck(item=item, metadata=f"{meta_s:.3f} s", file=f"{file_s:.3f} s", verdict=verdict, tolerance=tol)


def _sector_checks(meta: LapMetadata, lap: FileLap, dt: float, tol: str) -> list[MetadataCheck]:
    if not meta.sector_times:
        return []
    found = file_sector_times(lap)
    if found is None:
        return [
            MetadataCheck(
                item="sector times",
                metadata=f"{len(meta.sector_times)} sectors",
                file="no Sector column or sector-line markers",
                verdict=Verdict.UNCHECKED,
            )
        ]
    if len(found) != len(meta.sector_times):
        return [
            MetadataCheck(
                item="sectors",
                metadata=str(len(meta.sector_times)),
                file=str(len(found)),
                verdict=Verdict.DIFFERS,
            )
        ]
    unfinished = Verdict.UNCHECKED  # +Infinity: the lap did not complete that sector
    return [
        _seconds(f"sector {i} time", m, f, dt, tol)
        if math.isfinite(m)
        else MetadataCheck(item=f"sector {i} time", metadata="not completed", file=f"{f:.3f} s", verdict=unfinished)
        for i, (m, f) in enumerate(zip(meta.sector_times, found, strict=True), start=1)
    ]


def _names(item: str, meta: tuple[str, ...], file: tuple[str, ...]) -> MetadataCheck:
    if meta == file:
        return MetadataCheck(item=item, metadata=f"{len(meta)} names", file="the same", verdict=Verdict.AGREES)
    if len(meta) != len(file):
        return MetadataCheck(item=item, metadata=f"{len(meta)} names", file=f"{len(file)}", verdict=Verdict.DIFFERS)
    j = next(i for i, (a, b) in enumerate(zip(meta, file, strict=True)) if a != b)
    return MetadataCheck(
        item=item, metadata=f"{meta[j]!r} at column {j + 1}", file=f"{file[j]!r}", verdict=Verdict.DIFFERS
    )


def summary(meta: LapMetadata, checks: tuple[MetadataCheck, ...]) -> str:
    """One line: what the metadata says and how it compares with the file."""
    counts = {v: sum(c.verdict is v for c in checks) for v in Verdict}
    done = "completed" if meta.completed else "not completed" if meta.completed is False else "completion unknown"
    lap = f"lap {meta.lap_index}" if meta.lap_index is not None else "lap ?"
    return f"{meta.source}: track {meta.track_name or '?'!r}, {lap} ({done}); cross-checks: " + ", ".join(
        f"{n} {v.value}" for v, n in counts.items()
    )
