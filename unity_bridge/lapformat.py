"""The simulator's lap-file format, parsed and converted to catalog channels: pure functions over text.

Two generations of the format are read (``Perrinn424.TelemetryLapSystem``, TelemetryLapFileWriter,
in PERRINN/project-424-unity):

- up to 2021: upper-case headers (``FRAME,TIME,DISTANCE,...,SPEED``), values as stored (SI, kW, rpm);
- since 2021-12: headers as configured (``Frame,Time,...,nWheelFL``) and a second row of units: the
  display unit of each channel (``km/h``, ``G``, ``mm``, ``%``, ``°/s``; empty or ``n/a`` where there
  is none), each value being the telemetry value times that display multiplier, written ``{0:F5}``.

A units row is recognised by its cells not being numbers. Column names match the catalog's simulator
names and aliases without regard to case; each column is converted to its channel's stored unit by
its written unit (``p424/units.py``) and axis sign (``sim_sign``). Line numbers in messages count
the header as line 1, as an editor shows the file.

What the reader does with the values it is given:
- NaN is the simulator's own "no value" (a channel missing or inactive): that channel is absent
  from that frame. Infinity cannot be carried by a frame and stops the read.
- A negative lap distance is kept as written (the frame header carries any finite float). The
  first rows of a lap still hold values from before the lap reset (the real export's LapDistance
  reads 0.27 km, then -0.00007 km); the replayed lap begins at the line anyway, because replay
  marks the file's first row as the start-line crossing whatever its distance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from p424.catalog import Catalog
from p424.units import UnitError, conversion

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
FLOAT32_MAX = float(np.finfo(np.float32).max)
# The exporter writes {0:F5}: each written value is within half a unit of the fifth decimal.
WRITTEN_RESOLUTION = 0.5e-5


class LapFileError(ValueError):
    """A lap file that cannot be replayed; the message names the line, column or unit at fault."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """What a lap-file column becomes: ``value * factor(unit) * sign + offset`` in ``unit``."""

    name: str  # a catalog channel, or one of FIXED_COLUMNS (upper case)
    unit: str
    sign: int = 1
    offset: float = 0.0


# The exporter's fixed columns that are not catalog channels (its others, Distance, TotalTime,
# TotalDistance, SegmentNum, Sector and Markers, are channels with those simulator names).
FIXED_COLUMNS: Mapping[str, Target] = {
    "FRAME": Target(name="FRAME", unit=""),  # physics step counter: not sent
    "TIME": Target(name="TIME", unit="s"),  # seconds since the lap started: the replay's lap clock
    "MARKERTIME": Target(name="MARKERTIME", unit="s"),  # not sent: the marker bits travel in `markers`
    "MARKERFLAG": Target(name="MARKERFLAG", unit=""),  # not sent
}
LAP_TIME = "TIME"
# Channels the frame header carries: finite in every row; the integer ones whole numbers that fit.
HEADER_LIMITS: Mapping[str, tuple[float, float] | None] = {
    "sim_time": None,
    "lap_distance": None,
    "lap": (-math.inf, math.inf),  # any: replay numbers laps from the file's first row
    "markers": (0.0, 2.0**32 - 1),  # the frame's uint32 bitmask
}


@dataclass(frozen=True, kw_only=True)
class LapTable:
    """A lap file's cells as written: header, optional units row, and the samples."""

    header: tuple[str, ...]  # column names as written
    units: tuple[str, ...] | None  # the units row, when the file has one
    values: F64  # (rows, columns) as written
    lines: I64  # the file line of each row

    def column_unit(self, j: int) -> str:
        return self.units[j] if self.units is not None else ""


@dataclass(frozen=True, kw_only=True)
class ColumnMap:
    """How one column was read."""

    column: str  # as written
    unit: str  # as written ("" without a units row)
    target: str  # catalog channel or fixed column; "" when unknown
    factor: float  # stored = written * factor + offset (sign included); NaN when unknown
    offset: float
    used: bool  # False for the later of two columns that give one channel


@dataclass(frozen=True, kw_only=True)
class Duplicate:
    """A second column giving a channel already read: not used, but compared with the first."""

    channel: str
    kept: str
    other: str
    unit: str
    tolerance: float  # in ``unit``
    differing_rows: int
    first_line: int  # 0 when none differ
    kept_value: float  # at first_line, converted
    other_value: float

    @property
    def message(self) -> str:
        head = f"{self.other} also gives {self.channel}: {self.kept} is used"
        unit = f" {self.unit}" if self.unit else ""
        tol = f"{self.tolerance:.4g}{unit} (one sample's largest change)"
        if not self.differing_rows:
            return f"{head}; they agree within {tol} in every row"
        return (
            f"{head}; they differ by more than {tol} in {self.differing_rows} row(s), first at line "
            f"{self.first_line} ({self.kept} {self.kept_value:.6g}{unit}, {self.other} {self.other_value:.6g}{unit})"
        )


@dataclass(frozen=True, kw_only=True)
class LapColumns:
    """A lap table converted to catalog channels."""

    columns: Mapping[str, F64]  # catalog channel -> values in catalog units; NaN: no value in that row
    lap_time: F64  # seconds since the lap started
    column_map: tuple[ColumnMap, ...]
    unknown_columns: tuple[str, ...]
    duplicates: tuple[Duplicate, ...]


def parse_table(text: str) -> LapTable:
    """Header, units row (if any) and samples of a lap file's text (CR+LF or LF, blank lines skipped)."""
    rows = [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1)]
    rows = [(n, line) for n, line in rows if line.strip()]
    if not rows:
        raise LapFileError("the file is empty: a lap file needs a header row and at least one sample")
    (_, header_text), body = rows[0], rows[1:]
    header = tuple(c.strip() for c in header_text.split(","))
    width = len(header)
    units = None
    if body and _is_units_row(body[0][1]):
        (units_line, units_text), body = body[0], body[1:]
        units = tuple(c.strip() for c in units_text.split(","))
        if len(units) != width:
            raise LapFileError(
                f"line {units_line}: the units row has {len(units)} cells, the header names {width} columns"
            )
    if not body:
        raise LapFileError(f"no samples after line {rows[-1][0]}: a lap file needs at least one")
    commas = np.fromiter((line.count(",") for _, line in body), dtype=np.int64, count=len(body))
    wrong = np.flatnonzero(commas != width - 1)
    if wrong.size:
        n = body[int(wrong[0])][0]
        raise LapFileError(f"line {n} has {int(commas[wrong[0]]) + 1} values, the header names {width} columns")
    lines = np.fromiter((n for n, _ in body), dtype=np.int64, count=len(body))
    try:
        # One conversion of every cell at once: a whole real lap (26,000 x 60) in a fraction of a second.
        values = np.array(",".join(line for _, line in body).split(","), dtype=np.float64)
    except ValueError:
        _raise_first_non_number(body, header)
        raise  # unreachable: the scan above finds the cell numpy refused
    return LapTable(header=header, units=units, values=values.reshape(len(body), width), lines=lines)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_units_row(line: str) -> bool:
    return not any(_is_number(c) for c in line.split(","))


def _raise_first_non_number(body: list[tuple[int, str]], header: tuple[str, ...]) -> None:
    for n, line in body:
        for name, cell in zip(header, line.split(","), strict=True):
            if not _is_number(cell):
                raise LapFileError(f"line {n}, column {name!r}: {cell.strip()!r} is not a number")


def targets(catalog: Catalog) -> dict[str, Target]:
    """Upper-cased column name -> what it becomes: the fixed columns and every catalog channel."""
    out = {
        col: Target(name=c.name, unit=c.unit, sign=c.sim_sign, offset=c.sim_offset)
        for col, c in catalog.by_csv_column().items()
    }
    return {**out, **FIXED_COLUMNS}


def convert(table: LapTable, catalog: Catalog) -> LapColumns:
    """Every known column in its catalog unit and sign; stops with LapFileError on what cannot be sent."""
    by_column = targets(catalog)
    kept: dict[str, Read] = {}  # target -> (column, values, factor)
    column_map: list[ColumnMap] = []
    unknown: list[str] = []
    duplicates: list[Duplicate] = []
    for j, name in enumerate(table.header):
        unit = table.column_unit(j)
        target = by_column.get(name.upper())
        if target is None:
            unknown.append(name)
            column_map.append(ColumnMap(column=name, unit=unit, target="", factor=float("nan"), offset=0.0, used=False))
            continue
        try:
            factor = conversion(unit, target.unit).factor * target.sign
        except UnitError as err:
            stored = target.unit or "no unit"
            raise LapFileError(f"column {name!r}: {err} (it gives {target.name}, stored in {stored})") from None
        values = table.values[:, j] * factor + target.offset if factor != 1.0 or target.offset else table.values[:, j]
        first = kept.get(target.name)
        column_map.append(
            ColumnMap(
                column=name, unit=unit, target=target.name, factor=factor, offset=target.offset, used=first is None
            )
        )
        if first is None:
            kept[target.name] = (name, values, factor)
        else:
            duplicates.append(_compare(table, target, first, (name, values, factor)))
    columns = {t: v for t, (_, v, _) in kept.items() if t not in FIXED_COLUMNS}
    column_of = {t: col for t, (col, _, _) in kept.items()}
    lap_time = _lap_time(table, kept, catalog)
    _check_header_channels(table, columns, column_of)
    _check_payload_channels(table, columns, column_of, catalog)
    return LapColumns(
        columns=columns,
        lap_time=lap_time,
        column_map=tuple(column_map),
        unknown_columns=tuple(unknown),
        duplicates=tuple(duplicates),
    )


Read = tuple[str, F64, float]  # a column as read: its name, converted values, factor


def _compare(table: LapTable, target: Target, first: Read, other: Read) -> Duplicate:
    """Two columns of one quantity may be sampled up to one step apart (the exporter takes its
    fixed columns from the lap's own record and the channels from their last poll), so they must
    agree within the quantity's largest change between consecutive rows, plus the rounding of the
    written values. The smaller of the two columns' largest changes is used, so a transient in one
    of them does not widen the tolerance."""
    (kept_name, a, fa), (other_name, b, fb) = first, other
    both = np.isfinite(a) & np.isfinite(b)
    steps = [float(np.nanmax(np.abs(np.diff(v[both])))) if both.sum() > 1 else 0.0 for v in (a, b)]
    tolerance = min(steps) + WRITTEN_RESOLUTION * (abs(fa) + abs(fb))
    off = np.flatnonzero(both & (np.abs(a - b) > tolerance))
    i = int(off[0]) if off.size else None
    return Duplicate(
        channel=target.name,
        kept=kept_name,
        other=other_name,
        unit=target.unit,
        tolerance=tolerance,
        differing_rows=int(off.size),
        first_line=int(table.lines[i]) if i is not None else 0,
        kept_value=float(a[i]) if i is not None else float("nan"),
        other_value=float(b[i]) if i is not None else float("nan"),
    )


def _lap_time(table: LapTable, kept: Mapping[str, Read], catalog: Catalog) -> F64:
    """Seconds since the lap started: the Time column, else the session clock from its first row."""
    if LAP_TIME in kept:
        name, t, _ = kept[LAP_TIME]
    elif "sim_time" in kept:
        name, clock, _ = kept["sim_time"]
        t = clock - clock[0]
    else:
        raise LapFileError(
            f"no time column: a lap file needs Time or {catalog['sim_time'].csv_column} "
            f"(found: {', '.join(table.header)})"
        )
    _require(table, np.isfinite(t), name, "is not a finite time")
    step = np.diff(t)
    back = np.flatnonzero(~(step > 0))
    if back.size:
        i = int(back[0]) + 1
        raise LapFileError(
            f"line {table.lines[i]}: {name} does not increase ({t[i]:.6g} s after {t[i - 1]:.6g} s on line "
            f"{table.lines[i - 1]})"
        )
    return t


def _check_header_channels(table: LapTable, columns: Mapping[str, F64], column_of: Mapping[str, str]) -> None:
    if "lap_distance" not in columns:
        raise LapFileError(
            "no distance column: a lap file needs Distance or LapDistance (the lap distance every frame "
            f"carries); found: {', '.join(table.header)}"
        )
    for name, limits in HEADER_LIMITS.items():
        if name not in columns:
            continue
        v = columns[name]
        _require(table, np.isfinite(v), column_of[name], f"is not finite ({name} is carried in every frame header)")
        if limits is not None:
            lo, hi = limits
            within = "" if math.isinf(lo) else f" within {lo:.0f}..{hi:.0f}"
            _require(
                table, (v == np.round(v)) & (v >= lo) & (v <= hi), column_of[name], f"is not a whole number{within}"
            )


def _check_payload_channels(
    table: LapTable, columns: Mapping[str, F64], column_of: Mapping[str, str], catalog: Catalog
) -> None:
    for name, v in columns.items():
        if name in catalog.payload_index:
            # NaN is allowed (no value in that row); a frame cannot carry infinity or exceed float32.
            _require(table, np.isnan(v) | (np.abs(v) <= FLOAT32_MAX), column_of[name], "cannot be sent (infinite)")


def _require(table: LapTable, ok: npt.NDArray[np.bool_], column: str, what: str) -> None:
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = int(bad[0])
        j = table.header.index(column)
        raise LapFileError(f"line {table.lines[i]}, column {column!r}: {table.values[i, j]:.6g} {what}")
