"""The simulator's lap files read from disk, with their ``.metadata``, and their replay as frames.

Parsing and conversion are pure and live apart: ``lapformat`` (the CSV: both header styles, the
units row, conversion to catalog units, every refusal with its line and column) and ``lapmeta``
(the metadata JSON and its cross-check). Everything is read and checked before a frame is built,
so a bad file stops before anything is sent.

Replaying ``laps=N`` loops the file as a stint: the session clock and total distance keep
increasing, and the lap number and start-line marker advance at every loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.codec.frame import FrameHeader
from p424.markers import MARKER_START_LINE
from unity_bridge.lapformat import ColumnMap, Duplicate, LapFileError, convert, parse_table
from unity_bridge.lapmeta import FileLap, LapMetadata, MetadataCheck, Verdict, check_metadata, parse_metadata, summary

__all__ = ["MARKER_START_LINE", "LapFile", "LapFileError", "lap_frames", "read_lap_file", "stint_presence"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
METADATA_SUFFIX = ".metadata"
DEFAULT_INTERVAL_S = 0.02  # the lap writer's default 50 Hz, for a file of a single row


@dataclass(frozen=True, kw_only=True)
class LapFile:
    path: Path
    columns: Mapping[str, F64]  # catalog channel -> values in catalog units (NaN: no value in that row)
    lap_time: F64  # seconds since the lap started
    unknown_columns: tuple[str, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    column_map: tuple[ColumnMap, ...] = ()
    metadata: LapMetadata | None = None
    metadata_checks: tuple[MetadataCheck, ...] = ()

    @property
    def samples(self) -> int:
        return len(self.lap_time)

    @property
    def sample_interval(self) -> float:
        return float(np.median(np.diff(self.lap_time))) if self.samples > 1 else DEFAULT_INTERVAL_S

    @property
    def duration(self) -> float:
        """Lap period when looped: last sample time plus one sample interval."""
        return float(self.lap_time[-1] - self.lap_time[0] + self.sample_interval)

    @property
    def track(self) -> str:
        return self.metadata.track_name if self.metadata is not None else ""

    def report(self) -> list[str]:
        """What a user should see before the lap is sent: columns left out, duplicate columns, and
        the metadata's summary with every disagreement."""
        lines = []
        if self.unknown_columns:
            lines.append(f"columns not in the channel catalog (not sent): {', '.join(self.unknown_columns)}")
        lines += [d.message for d in self.duplicates]
        if self.metadata is not None:
            lines.append(summary(self.metadata, self.metadata_checks))
            lines += [f"warning: {c.message}" for c in self.metadata_checks if c.verdict is Verdict.DIFFERS]
        return lines


def metadata_path(path: Path) -> Path | None:
    """The writer's ``lap.csv.metadata``, else ``lap.metadata``, if either is beside the file."""
    for candidate in (path.with_name(path.name + METADATA_SUFFIX), path.with_suffix(METADATA_SUFFIX)):
        if candidate.is_file():
            return candidate
    return None


def read_lap_file(path: Path, catalog: Catalog = CATALOG) -> LapFile:
    text = _read_text(path)
    try:
        table = parse_table(text)
        lap = convert(table, catalog)
    except LapFileError as err:
        raise LapFileError(f"{path.name}: {err}") from None
    found = LapFile(
        path=path,
        columns=lap.columns,
        lap_time=lap.lap_time,
        unknown_columns=lap.unknown_columns,
        duplicates=lap.duplicates,
        column_map=lap.column_map,
    )
    meta_path = metadata_path(path)
    if meta_path is None:
        return found
    meta = parse_metadata(_read_text(meta_path), meta_path.name)
    checks = check_metadata(
        meta,
        FileLap(
            header=table.header,
            units=table.units,
            lap_time=found.lap_time,
            sample_interval=found.sample_interval,
            sector=lap.columns.get("sector"),
            markers=lap.columns.get("markers"),
        ),
    )
    return replace(found, metadata=meta, metadata_checks=checks)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise LapFileError(f"{path}: cannot be read ({err.strerror})") from None
    try:
        return raw.decode("utf-8-sig")  # the writer's StreamWriter: UTF-8, no BOM (`°` is two bytes)
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise LapFileError(f"{path.name}: line {line} is not UTF-8 text") from None


def lap_payload(lap: LapFile, catalog: Catalog = CATALOG) -> F32:
    """Catalog-ordered values per row (NaN where the file has no value), total distance included:
    the file's, else the lap distance."""
    payload = np.full((lap.samples, len(catalog.payload_channels)), np.nan, dtype=np.float32)
    for name, values in lap.columns.items():
        i = catalog.payload_index.get(name)
        if i is not None:
            payload[:, i] = values
    total_i = catalog.payload_index.get("total_distance")
    if total_i is not None and "total_distance" not in lap.columns:
        payload[:, total_i] = lap.columns["lap_distance"]
    return payload


def stint_presence(lap: LapFile, catalog: Catalog = CATALOG) -> npt.NDArray[np.bool_] | None:
    """The channels present in every frame of the stint, or None when presence changes from row to
    row (the simulator writes NaN where a channel has no value, e.g. camber while a wheel is airborne)."""
    present = ~np.isnan(lap_payload(lap, catalog))
    always = np.all(present, axis=0, keepdims=False).astype(np.bool_)
    never = ~np.any(present, axis=0)
    return always if bool((always | never).all()) else None


def lap_frames(
    lap: LapFile,
    laps: int,
    car_id: int,
    session_id: int,
    first_lap: int = 1,
    catalog: Catalog = CATALOG,
) -> Iterator[tuple[FrameHeader, F32]]:
    """Headers and catalog-ordered values (NaN where the file has no value) for a stint.

    A lap file is one whole lap, so a stint of ``laps`` ends with the line crossing that closes the
    last one: the file's first row once more, as the first frame of lap ``first_lap + laps``
    (``laps * samples + 1`` frames in all). Without it the last lap could never complete. The first
    row of every loop carries the start-line marker: the lap begins there, whatever lap distance
    the file gives it.
    """
    n = lap.samples
    payload = lap_payload(lap, catalog)
    period = lap.duration
    distance = lap.columns["lap_distance"]
    lap_length = float(distance[-1] + (distance[-1] - distance[-2])) if n > 1 else float(distance[-1])
    markers = lap.columns["markers"].astype(np.int64) if "markers" in lap.columns else np.zeros(n, dtype=np.int64)
    file_laps = lap.columns.get("lap")
    sim_times = lap.columns.get("sim_time")
    total_i = catalog.payload_index.get("total_distance")
    total = lap.columns.get("total_distance", distance)
    seq = 0
    for k in range(laps + 1):
        t0 = k * period
        for r in range(n if k < laps else 1):  # after the last lap: its closing line crossing
            sim_time = float(sim_times[r]) + t0 if sim_times is not None else t0 + float(lap.lap_time[r])
            mark = int(markers[r])
            if r == 0:
                mark |= MARKER_START_LINE
            lap_no = first_lap + k + (int(file_laps[r] - file_laps[0]) if file_laps is not None else 0)
            values = payload[r]
            if total_i is not None and k:
                values = values.copy()
                values[total_i] = float(total[r]) + k * lap_length
            yield (
                FrameHeader(
                    car_id=car_id,
                    session_id=session_id,
                    sequence=seq,
                    sim_time=sim_time,
                    lap=lap_no,
                    lap_distance=float(distance[r]),
                    markers=mark,
                    catalog_hash=catalog.hash,
                ),
                values,
            )
            seq += 1
