"""The simulator's lap files (CSV, upper-case headers, CR+LF or LF) and their replay as frames.

A lap file carries any subset of the fixed columns (FRAME, TIME, DISTANCE, TOTALTIME,
TOTALDISTANCE, SEGMENT, SECTOR, MARKERS, MARKERTIME, MARKERFLAG) and of the catalog channels by
their upper-case simulator names. Unknown columns are reported, not fatal. Replaying ``laps=N``
loops the file as a stint: the session clock and total distance keep increasing, and the lap
number and start-line marker advance at every loop.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.codec.frame import FrameHeader
from p424.markers import MARKER_START_LINE

# Fixed lap-file columns that are not catalog channels, and what replay does with them.
FIXED_COLUMNS = {"FRAME", "TIME", "MARKERTIME", "MARKERFLAG"}

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LapFile:
    path: Path
    columns: dict[str, F64]  # catalog channel name -> values
    lap_time: F64  # TIME: seconds since the lap started
    unknown_columns: tuple[str, ...]
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return len(self.lap_time)

    @property
    def sample_interval(self) -> float:
        return float(np.median(np.diff(self.lap_time))) if self.samples > 1 else 0.02

    @property
    def duration(self) -> float:
        """Lap period when looped: last sample time plus one sample interval."""
        return float(self.lap_time[-1] - self.lap_time[0] + self.sample_interval)

    @property
    def track(self) -> str:
        return str(self.metadata.get("trackName", ""))


class LapFileError(ValueError):
    pass


def read_lap_file(path: Path, catalog: Catalog = CATALOG) -> LapFile:
    text = path.read_text(encoding="utf-8-sig")  # newline handling by csv: CR+LF and LF both work
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise LapFileError(f"{path}: a lap file needs a header row and at least one sample")
    header = [h.strip().upper() for h in rows[0]]
    try:
        data = np.array([[float(c) for c in r] for r in rows[1:]], dtype=np.float64)
    except ValueError as err:
        raise LapFileError(f"{path}: non-numeric value ({err})") from err
    if data.shape[1] != len(header):
        raise LapFileError(f"{path}: rows have {data.shape[1]} values, the header names {len(header)} columns")
    by_csv = catalog.by_csv_column()
    columns: dict[str, F64] = {}
    unknown = []
    for i, name in enumerate(header):
        channel = by_csv.get(name)
        if channel is not None:
            columns[channel.name] = data[:, i]
        elif name not in FIXED_COLUMNS:
            unknown.append(name)
    if "TIME" in header:
        lap_time = data[:, header.index("TIME")]
    elif "sim_time" in columns:
        lap_time = columns["sim_time"] - columns["sim_time"][0]
    else:
        raise LapFileError(f"{path}: needs a TIME or TOTALTIME column")
    if np.any(np.diff(lap_time) <= 0):
        raise LapFileError(f"{path}: TIME must increase strictly from row to row")
    meta_path = path.with_suffix(".metadata")
    metadata = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return LapFile(path, columns, lap_time, tuple(unknown), metadata)


def lap_frames(
    lap: LapFile,
    laps: int,
    car_id: int,
    session_id: int,
    first_lap: int = 1,
    catalog: Catalog = CATALOG,
) -> Iterator[tuple[FrameHeader, npt.NDArray[np.float32]]]:
    """Headers and catalog-ordered values (NaN where the file has no such channel) for a stint.

    A lap file is one whole lap, so a stint of ``laps`` ends with the line crossing that closes the
    last one: the file's first row once more, as the first frame of lap ``first_lap + laps``
    (``laps * samples + 1`` frames in all). Without it the last lap could never complete.
    """
    n = lap.samples
    payload = np.full((n, len(catalog.payload_channels)), np.nan, dtype=np.float32)
    for name, values in lap.columns.items():
        i = catalog.payload_index.get(name)
        if i is not None:
            payload[:, i] = values
    period = lap.duration
    distance = lap.columns.get("lap_distance", np.zeros(n))
    lap_length = float(distance[-1] + (distance[-1] - distance[-2])) if n > 1 else float(distance[-1])
    markers = lap.columns.get("markers", np.zeros(n)).astype(np.int64)
    file_laps = lap.columns.get("lap")
    total_i = catalog.payload_index.get("total_distance")
    seq = 0
    for k in range(laps + 1):
        t0 = k * period
        for r in range(n if k < laps else 1):  # after the last lap: its closing line crossing
            sim_time = (
                float(lap.columns["sim_time"][r]) + t0 if "sim_time" in lap.columns else t0 + float(lap.lap_time[r])
            )
            mark = int(markers[r])
            if r == 0:
                mark |= MARKER_START_LINE
            lap_no = first_lap + k + (int(file_laps[r] - file_laps[0]) if file_laps is not None else 0)
            values = payload[r]
            if total_i is not None:
                values = values.copy()
                base = (
                    float(lap.columns["total_distance"][r]) if "total_distance" in lap.columns else float(distance[r])
                )
                values[total_i] = base + k * lap_length
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
