"""Every Cassandra write as an upsert: statement texts and parameter tuples, derived from the records.

Every write is an INSERT of absolute values keyed by the row's primary key (raw frames: map
entries keyed by sequence number, below), so writing the same output twice (a replay after a
failure) leaves the same row: idempotent by construction. No
counters. ``None`` parameters mean "leave unset" (the sink passes the driver's UNSET_VALUE, so
absent channels create no tombstones).

Each table is declared once, in ``tables``: the record dataclass it stores plus the columns it
derives from the record. A ``Table`` reads both its INSERT column list and a record's parameter
tuple from that declaration, so the two cannot drift apart; field metadata
(``p424.storage.columns``) renames a field's column or leaves the field out. Timestamps are epoch
milliseconds (the driver accepts ints for ``timestamp``).

Raw frames are the one exception to a row per record: ``frame_blocks`` gathers them into map
entries (``MapTable``), one ``UPDATE ... SET frames = frames + ?`` per (session, bucket, block)
present in an element. A map-entry upsert is idempotent per sequence number and leaves the row's
other entries alone (and, unlike ``SET frames = ?``, writes no tombstone), so a replay after a
restore, a late frame, or a block spread over several elements all end with exactly one copy of
each frame.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.ml.live.records import LapError, PredictionRow
from p424.processing.outputs import (
    AlertRow,
    EventRow,
    FrameRow,
    LapRow,
    MathsStats,
    ProfilePoint,
    QualityRow,
    SessionRow,
    WindowRow,
)
from p424.records import compile_reader
from p424.storage import maths_stats, window_stats
from p424.storage.columns import channel_stat_fields, stored_fields
from p424.storage.schema import (
    LAP_STATS,
    WINDOW_STATS,
    frame_block,
    frame_bucket,
    lap_stat_columns,
    maths_stat_columns,
    window_stat_columns,
)

Params = tuple[object, ...]
R = TypeVar("R")
UPDATED_AT = "updated_at"


def _channel_major(*vectors: npt.NDArray[np.float32]) -> list[float | None]:
    """Per-channel stats interleaved as the catalog's columns are (a_min, a_max, ..., b_min, ...); NaN -> unset.

    ``tolist`` converts to Python floats exactly as ``float`` of each element does, ten times faster.
    """
    return [None if math.isnan(v) else v for v in np.stack(vectors, axis=1).ravel().tolist()]


def _maths_channel_major(maths: MathsStats | None, names: Sequence[str]) -> list[float | None]:
    """The ``<name>_<stat>`` columns of ``names`` (channel-major, as ``_channel_major``) from a row's
    maths statistics; None (unset) for a channel the row does not have."""
    if maths is None:
        return [None] * (len(names) * len(WINDOW_STATS))
    index = {n: j for j, n in enumerate(maths.names)}
    by_channel = maths.values.T.tolist()  # channel -> [min, max, mean, last]
    out: list[float | None] = []
    for name in names:
        j = index.get(name)
        stats = by_channel[j] if j is not None else [math.nan] * len(WINDOW_STATS)
        out += [None if math.isnan(v) else v for v in stats]
    return out


def _raised(kind: str) -> int:
    """An alarm transition as a number Grafana's rules reduce: 1 raised, 0 cleared."""
    return 1 if kind == "raise" else 0


@dataclass(frozen=True, kw_only=True)
class Derived:
    """Columns a table computes from some of the record's fields: ``compute(*of, **keywords)`` is the
    value of the one column, or the values of several columns in order."""

    columns: tuple[str, ...]
    compute: Callable[..., Any]
    of: tuple[str, ...]
    keywords: Mapping[str, object] = field(default_factory=dict)


def _layout(
    record: type[Any], derived: Sequence[Derived], fields: Sequence[str] | None = None
) -> tuple[list[str], list[str], dict[str, object]]:
    """(columns, a Python expression of ``r`` per column or column group, the names those expressions use).

    ``fields``: only these stored fields, in this order (default: every stored field, in field order)."""
    stored = stored_fields(record)
    if fields is not None:
        column_of = dict(stored)
        unstored = [name for name in fields if name not in column_of]
        if unstored:
            raise ValueError(f"{record.__name__} stores no field {unstored}")
        stored = [(name, column_of[name]) for name in fields]
    columns = [col for _, col in stored]
    values = [f"r.{name}" for name, _ in stored]
    scope: dict[str, object] = {}
    for i, d in enumerate(derived):
        missing = set(d.of) - {f.name for f in dataclasses.fields(record)}
        if missing:
            raise ValueError(f"{record.__name__} has no field {sorted(missing)} to derive {d.columns} from")
        fn = f"_derived{i}"
        scope[fn] = d.compute
        args = [f"r.{name}" for name in d.of]
        for keyword, value in d.keywords.items():
            scope[f"{fn}_{keyword}"] = value
            args.append(f"{keyword}={fn}_{keyword}")
        call = f"{fn}({', '.join(args)})"
        columns += d.columns
        values.append(call if len(d.columns) == 1 else f"*{call}")
    return columns, values, scope


def _tuple_function(arguments: str, values: Sequence[str], scope: dict[str, object]) -> Callable[..., Params]:
    """``lambda <arguments>: (<values>,)``: a record's parameters as one tuple display (0.15 us per
    frame, as the hand-written tuple; ``operator.attrgetter`` plus the bucket appended took 0.27 us)."""
    return compile_reader(f"lambda {arguments}: ({', '.join(values)},)", scope)


class _Upsert:
    name: str
    columns: tuple[str, ...]

    def insert(self, keyspace: str) -> str:
        cols = self.columns
        return f"INSERT INTO {keyspace}.{self.name} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"


class Table(_Upsert, Generic[R]):
    """The upsert of records of type R: the record's stored fields in field order, then the derived columns."""

    def __init__(self, name: str, record: type[R], *derived: Derived) -> None:
        self.name = name
        columns, values, scope = _layout(record, derived)
        self.columns = tuple(columns)
        self.params: Callable[[R], Params] = _tuple_function("r", values, scope)


class StampedTable(_Upsert, Generic[R]):
    """A table whose rows also keep when they were written: ``written_at`` (epoch ms) is its last column."""

    def __init__(self, name: str, record: type[R], *derived: Derived, written_at: str = UPDATED_AT) -> None:
        self.name = name
        columns, values, scope = _layout(record, derived)
        self.columns = (*columns, written_at)
        self.params: Callable[[R, int], Params] = _tuple_function("r, written_at_ms", [*values, "written_at_ms"], scope)


class MapTable(Generic[R]):
    """Records of type R gathered into the entries of one map column, a row per key.

    The row key is the ``keys`` fields, then the derived key columns; each record is the entry
    ``entry[0] -> entry[1]`` (two of its fields) of its key's row. ``params`` groups records (a pure
    function): one parameter tuple per key present, ``({entry key: entry value, ...}, *key)``, in
    order of first appearance; a later record with the same entry key replaces an earlier one.
    The statement adds the entries to the row's map (``UPDATE ... SET m = m + ?``): an upsert of
    each entry that leaves the row's other entries as they are.
    """

    def __init__(
        self,
        name: str,
        record: type[R],
        *derived: Derived,
        keys: tuple[str, ...],
        column: str,
        entry: tuple[str, str],
    ) -> None:
        self.name = name
        self.column = column
        key_columns, key_values, scope = _layout(record, derived, fields=keys)
        self.key_columns = tuple(key_columns)
        self.columns = (column, *key_columns)  # the order of each parameter tuple
        _layout(record, (), fields=entry)  # a ValueError naming an entry field the record does not store
        key = _tuple_function("r", key_values, scope)
        entry_of = compile_reader(f"lambda r: (r.{entry[0]}, r.{entry[1]})")

        def params(records: Iterable[R]) -> list[Params]:
            groups: dict[Params, dict[object, object]] = {}
            for r in records:
                k = key(r)
                entries = groups.get(k)
                if entries is None:
                    entries = groups[k] = {}
                at, value = entry_of(r)
                entries[at] = value
            return [(entries, *k) for k, entries in groups.items()]

        self.params: Callable[[Iterable[R]], list[Params]] = params

    def update(self, keyspace: str) -> str:
        where = " AND ".join(f"{c} = ?" for c in self.key_columns)
        return f"UPDATE {keyspace}.{self.name} SET {self.column} = {self.column} + ? WHERE {where}"


@dataclass(frozen=True, kw_only=True)
class Tables:
    # Raw frames in blocks: every frame, as map entries seq -> datagram (0006_frame_blocks.cql).
    frame_block: MapTable[FrameRow]
    # Raw frames as rows: before frame_blocks, every frame; now only frames with markers (``marked``),
    # which Grafana's live board reads here (its Cassandra plugin cannot decode the datagram).
    frame: Table[FrameRow]
    window: Table[WindowRow]  # stats in the blob only
    window_with_columns: Table[WindowRow]  # the blob and every <channel>_<stat> column (WINDOW_COLUMNS_MS sizes)
    lap: Table[LapRow]
    profile: Table[ProfilePoint]
    quality: StampedTable[QualityRow]
    session: StampedTable[SessionRow]
    prediction: Table[PredictionRow]
    prediction_error: Table[LapError]
    event: Table[EventRow]
    alert: Table[AlertRow]  # by session, in session time
    recent_alert: Table[AlertRow]  # by limit, in wall-clock time, kept a week: what Grafana's rules read


def tables(catalog: Catalog = CATALOG) -> Tables:
    """Every table the platform writes, for one catalog (which names the per-channel columns)."""
    window_vectors = channel_stat_fields(WindowRow, WINDOW_STATS)
    packed = Derived(
        columns=(window_stats.BLOB_COLUMN,),
        compute=window_stats.pack,
        of=window_vectors,
        keywords={"catalog": catalog},
    )
    window_columns = Derived(columns=tuple(window_stat_columns(catalog)), compute=_channel_major, of=window_vectors)
    maths_blob = Derived(columns=(maths_stats.BLOB_COLUMN,), compute=maths_stats.pack, of=("maths",))
    raised = Derived(columns=("raised",), compute=_raised, of=("kind",))
    lap_columns = Derived(
        columns=tuple(lap_stat_columns(catalog)),
        compute=_channel_major,
        of=channel_stat_fields(LapRow, LAP_STATS),
    )
    # Frames are partitioned per session and minute of session time.
    bucket = Derived(columns=("bucket",), compute=frame_bucket, of=("sim_time",))
    return Tables(
        frame_block=MapTable(
            "frame_blocks",
            FrameRow,
            bucket,
            Derived(columns=("block",), compute=frame_block, of=("seq",)),
            keys=("session_id",),
            column="frames",
            entry=("seq", "frame"),
        ),
        frame=Table("frames", FrameRow, bucket),
        window=Table("channel_windows", WindowRow, packed, maths_blob),
        window_with_columns=Table("channel_windows", WindowRow, packed, maths_blob, window_columns),
        lap=Table("laps", LapRow, lap_columns),
        profile=Table("lap_distance_profile", ProfilePoint),
        quality=StampedTable("session_quality", QualityRow),
        session=StampedTable("sessions", SessionRow),
        prediction=Table("predictions", PredictionRow),
        prediction_error=Table("prediction_errors", LapError),
        event=Table("lap_events", EventRow),
        alert=Table("alerts", AlertRow, raised),
        recent_alert=Table("recent_alerts", AlertRow, raised),
    )


TABLES = tables()


def window_with_maths_columns(names: tuple[str, ...], catalog: Catalog = CATALOG) -> Table[WindowRow]:
    """``window_with_columns`` plus the ``<name>_<stat>`` columns of these maths channels (those the
    table has: the migrator adds the configured file's, and a sink writes only columns that exist)."""
    return _maths_tables(names, catalog)


@functools.lru_cache(maxsize=16)
def _maths_tables(names: tuple[str, ...], catalog: Catalog) -> Table[WindowRow]:
    window_vectors = channel_stat_fields(WindowRow, WINDOW_STATS)
    return Table(
        "channel_windows",
        WindowRow,
        Derived(
            columns=(window_stats.BLOB_COLUMN,),
            compute=window_stats.pack,
            of=window_vectors,
            keywords={"catalog": catalog},
        ),
        Derived(columns=(maths_stats.BLOB_COLUMN,), compute=maths_stats.pack, of=("maths",)),
        Derived(columns=tuple(window_stat_columns(catalog)), compute=_channel_major, of=window_vectors),
        Derived(
            columns=tuple(maths_stat_columns(names)),
            compute=_maths_channel_major,
            of=("maths",),
            keywords={"names": names},
        ),
    )


@dataclass(frozen=True)
class Statements:
    """CQL of every write, for one keyspace and catalog."""

    keyspace: str
    catalog: Catalog = CATALOG

    @property
    def _tables(self) -> Tables:
        return TABLES if self.catalog is CATALOG else tables(self.catalog)

    @property
    def frame_block(self) -> str:
        return self._tables.frame_block.update(self.keyspace)

    @property
    def frame(self) -> str:
        return self._tables.frame.insert(self.keyspace)

    @property
    def window_columns(self) -> list[str]:
        """A window row with its stats packed in the blob only."""
        return list(self._tables.window.columns)

    @property
    def window(self) -> str:
        return self._tables.window.insert(self.keyspace)

    @property
    def window_with_columns(self) -> str:
        """A window row with the blob and every ``<channel>_<stat>`` column (WINDOW_COLUMNS_MS sizes)."""
        return self._tables.window_with_columns.insert(self.keyspace)

    @property
    def lap(self) -> str:
        return self._tables.lap.insert(self.keyspace)

    @property
    def profile(self) -> str:
        return self._tables.profile.insert(self.keyspace)

    @property
    def quality(self) -> str:
        return self._tables.quality.insert(self.keyspace)

    @property
    def session(self) -> str:
        return self._tables.session.insert(self.keyspace)

    @property
    def prediction(self) -> str:
        return self._tables.prediction.insert(self.keyspace)

    @property
    def prediction_error(self) -> str:
        return self._tables.prediction_error.insert(self.keyspace)

    @property
    def event(self) -> str:
        return self._tables.event.insert(self.keyspace)

    @property
    def alert(self) -> str:
        return self._tables.alert.insert(self.keyspace)

    @property
    def recent_alert(self) -> str:
        return self._tables.recent_alert.insert(self.keyspace)

    def window_with_maths_columns(self, names: tuple[str, ...]) -> str:
        """``window_with_columns`` plus the ``<name>_<stat>`` columns of these maths channels."""
        return window_with_maths_columns(names, self.catalog).insert(self.keyspace)


# ---- parameters of the statements above, in their column order (the catalog's tables) ----
frame_block_params = TABLES.frame_block.params  # (frames) -> one tuple per (session, bucket, block)
frame_params = TABLES.frame.params
window_params = TABLES.window.params
window_with_columns_params = TABLES.window_with_columns.params
lap_params = TABLES.lap.params
profile_params = TABLES.profile.params
quality_params = TABLES.quality.params  # (row, now_ms)
session_params = TABLES.session.params  # (row, now_ms)
prediction_params = TABLES.prediction.params
prediction_error_params = TABLES.prediction_error.params
event_params = TABLES.event.params
alert_params = TABLES.alert.params
recent_alert_params = TABLES.recent_alert.params


def marked(frames: Iterable[FrameRow]) -> list[FrameRow]:
    """The frames that are also written as ``frames`` rows: those with a marker set (line and sector
    crossings, repositions: a few per lap), for Grafana's live board (grafana/boards/live_car.py
    MARKERS_CQL), which reads them there. Every frame, these too, is in ``frame_blocks``."""
    return [f for f in frames if f.markers]
