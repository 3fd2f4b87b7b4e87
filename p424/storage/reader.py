"""Reading stored telemetry from Cassandra: the one reader (queries only; shaping into pandas is p424.analysis).

The analysis API, the live predictor's backfill, the training dataset and the data-quality DAG read
through ``TelemetryStore``; reads of many sessions or laps run concurrently
(``execute_concurrent_with_args``, ``CONCURRENCY`` requests in flight).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from cassandra.cluster import Cluster, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement, dict_factory

from p424.catalog import CATALOG
from p424.config import Config, load_config
from p424.storage import maths_stats, window_stats
from p424.storage.cluster import connect
from p424.storage.schema import FRAME_BUCKET_S, WINDOW_STATS, WINDOWS_PER_PART, frame_bucket, window_stat_columns

LapId = tuple[int, int]  # (session id, lap)
EPOCH = datetime(1970, 1, 1)  # the driver returns timestamps as naive UTC datetimes
MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True, kw_only=True)
class WindowBlock:
    """One lap's windows of one size as arrays, in time order: statistics of the channels asked for."""

    ts_ms: npt.NDArray[np.int64]  # session wall clock of each window start, ms since the epoch
    window_start: npt.NDArray[np.float64]  # sim time, s
    lap_time: npt.NDArray[np.float64]  # at the window's last frame, s
    lap_distance: npt.NDArray[np.float64]  # at the window's last frame, m
    frame_count: npt.NDArray[np.int64]
    values: Mapping[str, npt.NDArray[np.float64]]  # stat -> (windows, channels), NaN where a channel was absent


CONCURRENCY = 16  # requests in flight for reads of many partitions (two cores: more only queues)
WINDOW_HEADER = ("ts", "window_start", "lap_time", "lap_distance", "frame_count", window_stats.BLOB_COLUMN)
# A lap's last window index, counted from its first, is at most ceil(duration / window) and one more
# when a larger window of the previous lap, closing late, set the lap's base; one window to spare.
PART_SLACK_WINDOWS = 2


@dataclass(frozen=True, kw_only=True)
class LapKey:
    """A lap whose windows to read; ``seconds`` (its duration, or its elapsed time so far, when known) says
    which partition parts it spans, so all of them are asked at once and a gap in the lap cannot end the read."""

    session_id: int
    lap: int
    seconds: float | None = None


def parts_spanned(seconds: float | None, window_ms: int) -> int:
    """Parts (0, 1, ...) a lap of ``seconds`` certainly spans at ``window_ms`` (1 when unknown).

    A window's part is its index counted from the lap's first window, divided by WINDOWS_PER_PART
    (p424.processing.session): windows without frames are not stored, so a part may hold fewer rows
    and still be followed by another."""
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return 1
    windows = math.ceil(seconds * 1000 / window_ms) + PART_SLACK_WINDOWS
    return windows // WINDOWS_PER_PART + 1


class TelemetryStore:
    """Thin query layer over the telemetry keyspace; rows come back as dicts."""

    def __init__(self, cfg: Config | None = None, session: Session | None = None) -> None:
        self.cfg = cfg or load_config()
        self.ks = self.cfg.cassandra_keyspace
        self._cluster: Cluster | None = None
        if session is None:
            self._cluster, session = connect(self.cfg, self.ks, row_factory=dict_factory)
        self.session = session
        self._statements: dict[str, PreparedStatement] = {}

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, cql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self.session.execute(cql, params, timeout=60))

    def _prepared(self, cql: str) -> PreparedStatement:
        ps = self._statements.get(cql)
        if ps is None:
            ps = self._statements[cql] = self.session.prepare(cql)
        return ps

    def _concurrent(self, cql: str, args: Sequence[tuple[Any, ...]]) -> list[list[dict[str, Any]]]:
        """The rows of ``cql`` for each parameter tuple, in ``args`` order, ``CONCURRENCY`` requests in flight."""
        if not args:
            return []
        results = execute_concurrent_with_args(
            self.session, self._prepared(cql), args, concurrency=CONCURRENCY, raise_on_first_error=True
        )
        return [list(result) for _ok, result in results]

    def _per_session(self, table: str, columns: str, session_ids: Iterable[int]) -> list[dict[str, Any]]:
        ids = sorted({int(s) for s in session_ids})
        cql = f"SELECT {columns} FROM {self.ks}.{table} WHERE session_id = ?"
        return [row for rows in self._concurrent(cql, [(s,) for s in ids]) for row in rows]

    # ---------- sessions ----------
    def sessions(self) -> list[dict[str, Any]]:
        return self._rows(f"SELECT * FROM {self.ks}.sessions")

    def session_ids(self) -> list[int]:
        return sorted(int(r["session_id"]) for r in self._rows(f"SELECT session_id FROM {self.ks}.sessions"))

    def sessions_of(self, session_ids: Iterable[int]) -> list[dict[str, Any]]:
        """The ``sessions`` rows of these sessions (those stored), read concurrently."""
        return self._per_session("sessions", "*", session_ids)

    def session_row(self, session_id: int) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {self.ks}.sessions WHERE session_id = %s", (session_id,))
        return rows[0] if rows else None

    def holds_session(self, info: dict[str, Any]) -> bool:
        """Whether the hot store still holds the session's raw frames and windows (both expire with
        their retention TTL; ``sessions``, ``laps`` and quality rows stay)."""
        sid = info["session_id"]
        bucket = frame_bucket(float(info.get("first_sim_time") or 0.0))
        probe = f"SELECT seq FROM {self.ks}.frames WHERE session_id = %s AND bucket = %s LIMIT 1"
        if not self._rows(probe, (sid, bucket)):
            return False
        laps = self._rows(f"SELECT lap FROM {self.ks}.laps WHERE session_id = %s LIMIT 1", (sid,))
        if not laps:
            return True  # nothing summarised yet: the frames are all there is
        return bool(
            self._rows(
                f"SELECT ts FROM {self.ks}.channel_windows WHERE session_id = %s AND window_ms = %s AND lap = %s "
                "AND part = 0 LIMIT 1",
                (sid, min(self.cfg.window_sizes), laps[0]["lap"]),
            )
        )

    def quality(self, session_id: int) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {self.ks}.session_quality WHERE session_id = %s", (session_id,))
        return rows[0] if rows else None

    def all_quality(self) -> list[dict[str, Any]]:
        return self._rows(f"SELECT * FROM {self.ks}.session_quality")

    def quality_of(self, session_ids: Iterable[int]) -> list[dict[str, Any]]:
        """The ``session_quality`` rows of these sessions, read concurrently."""
        return self._per_session("session_quality", "*", session_ids)

    def describe_session(self, session_id: int, **fields: Any) -> None:
        """Upsert descriptive columns (track, source, description) of a session."""
        allowed = {"track", "source", "description", "car_id"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot set {bad}; allowed: {allowed}")
        cols = ["session_id", *fields]
        self.session.execute(
            f"INSERT INTO {self.ks}.sessions ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
            (session_id, *fields.values()),
        )

    # ---------- laps ----------
    def laps(self, session_id: int) -> list[dict[str, Any]]:
        return self._rows(f"SELECT * FROM {self.ks}.laps WHERE session_id = %s", (session_id,))

    def laps_of(self, session_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Every ``laps`` row of these sessions, read concurrently (session by session, lap order)."""
        return self._per_session("laps", "*", session_ids)

    def profile(self, session_id: int, lap: int) -> list[dict[str, Any]]:
        return self._rows(
            f"SELECT * FROM {self.ks}.lap_distance_profile WHERE session_id = %s AND lap = %s", (session_id, lap)
        )

    # ---------- windows ----------
    def _columns(self, table: str) -> set[str] | None:
        """The table's columns as the driver's schema metadata knows them (None if it does not)."""
        try:
            return set(self.session.cluster.metadata.keyspaces[self.ks].tables[table].columns)
        except (AttributeError, KeyError):
            return None

    def windows(
        self,
        session_id: int,
        lap: int,
        window_ms: int,
        columns: Sequence[str] | None = None,
        seconds: float | None = None,
    ) -> list[dict[str, Any]]:
        """Every window of a lap, in time order, across the lap's partitions (parts 0, 1, ...).

        Each row carries ``<channel>_<stat>`` values for ``columns`` (all catalog channels when
        None), unpacked from the row's stats blob; ``<maths>_<stat>`` columns of maths channels come
        from its maths blob. A column that is neither a catalog channel's nor in any row's maths
        blob nor a column of the table is a ValueError naming it. ``seconds``: see ``LapKey``.
        """
        key = LapKey(session_id=session_id, lap=lap, seconds=seconds)
        return self.lap_windows([key], window_ms, columns)[(session_id, lap)]

    def lap_windows(
        self, laps: Sequence[LapKey], window_ms: int, columns: Sequence[str] | None = None
    ) -> dict[LapId, list[dict[str, Any]]]:
        """Every window of each lap, in time order, keyed by (session id, lap); the partitions of all
        laps are read concurrently. Columns as ``windows``.

        Parts: a lap with ``seconds`` is read from every part that duration spans, all at once, and no
        further; a lap without is read part after part until one comes back empty.
        """
        wanted = list(columns) if columns else window_stat_columns()
        existing = self._columns("channel_windows")
        # The columns are selected too (those the table has): rows stored before the blobs existed
        # have only them. Maths channels of an older maths file may be in blobs only.
        selected = [c for c in [*WINDOW_HEADER, maths_stats.BLOB_COLUMN, *wanted] if existing is None or c in existing]
        cql = (
            f"SELECT {', '.join(dict.fromkeys(selected))} FROM {self.ks}.channel_windows "
            "WHERE session_id = ? AND window_ms = ? AND lap = ? AND part = ?"
        )
        parts: dict[LapId, dict[int, list[dict[str, Any]]]] = {}
        walking: set[LapId] = set()
        pending: list[tuple[int, int, int]] = []
        for k in laps:
            key = (int(k.session_id), int(k.lap))
            if key not in parts:
                parts[key] = {}
                pending += [(*key, p) for p in range(parts_spanned(k.seconds, window_ms))]
                if k.seconds is None:
                    walking.add(key)
        while pending:
            results = self._concurrent(cql, [(s, window_ms, lap, p) for s, lap, p in pending])
            for (s, lap, p), rows in zip(pending, results, strict=True):
                parts[(s, lap)][p] = rows
            pending = [(s, lap, p + 1) for s, lap, p in pending if (s, lap) in walking and parts[(s, lap)][p]]
        found = {key: [r for p in sorted(got) for r in got[p]] for key, got in parts.items()}
        every = [r for rows in found.values() for r in rows]
        if every:
            check_known(wanted, every, existing)
        return {key: [window_stats.expand(r, wanted) for r in rows] for key, rows in found.items()}

    # ---------- events and alarms (p424.derived) ----------
    def events(self, session_id: int) -> list[dict[str, Any]]:
        """A session's lap events, by lap and start time."""
        return self._rows(f"SELECT * FROM {self.ks}.lap_events WHERE session_id = %s", (session_id,))

    def alerts(self, session_id: int) -> list[dict[str, Any]]:
        """A session's alarm raises and clears, in session time."""
        return self._rows(f"SELECT * FROM {self.ks}.alerts WHERE session_id = %s", (session_id,))

    def profiles(self, laps: Sequence[LapId], columns: Sequence[str] = ("*",)) -> dict[LapId, list[dict[str, Any]]]:
        """The distance profiles of many laps (any sessions), read concurrently."""
        ps = self._prepared(
            f"SELECT {', '.join(columns)} FROM {self.ks}.lap_distance_profile WHERE session_id = ? AND lap = ?"
        )
        keys = list(dict.fromkeys(laps))
        results = execute_concurrent_with_args(
            self.session, ps, keys, concurrency=CONCURRENCY, raise_on_first_error=True
        )
        return {key: list(result) for key, (_ok, result) in zip(keys, results, strict=True)}

    def window_blocks(
        self, laps: Sequence[LapId], window_ms: int, stats: Sequence[str], channels: Sequence[str]
    ) -> dict[LapId, WindowBlock]:
        """Windows of many laps (any sessions) as arrays, their partitions read concurrently and their
        stats blobs unpacked in one pass per lap and stat (``window_stats.stat_matrix``); ``channels``
        are payload channels of the current catalog or maths channels the windows hold (their blob),
        ``stats`` some of ``WINDOW_STATS``. A channel that is neither is a ValueError naming it."""
        bad = [s for s in stats if s not in WINDOW_STATS]
        if bad or not stats:
            raise ValueError(f"stats are some of {', '.join(WINDOW_STATS)}, not {', '.join(bad) or 'none'}")
        maths = [c for c in channels if c not in CATALOG.payload_index]
        existing = self._columns("channel_windows") if maths else None
        header = [*WINDOW_HEADER, maths_stats.BLOB_COLUMN] if maths else list(WINDOW_HEADER)
        ps = self._prepared(
            f"SELECT {', '.join(header)} FROM {self.ks}.channel_windows "
            "WHERE session_id = ? AND window_ms = ? AND lap = ? AND part = ?"
        )
        keys = list(dict.fromkeys(laps))
        rows: dict[LapId, list[dict[str, Any]]] = {k: [] for k in keys}
        pending = [(sid, lap, 0) for sid, lap in keys]
        while pending:
            args = [(sid, window_ms, lap, part) for sid, lap, part in pending]
            results = execute_concurrent_with_args(
                self.session, ps, args, concurrency=CONCURRENCY, raise_on_first_error=True
            )
            nxt = []
            for (sid, lap, part), (_ok, result) in zip(pending, results, strict=True):
                chunk = list(result)
                rows[(sid, lap)] += chunk
                if len(chunk) >= WINDOWS_PER_PART:  # a very long lap continues in the next part
                    nxt.append((sid, lap, part + 1))
            pending = nxt
        if maths:
            every = [r for found in rows.values() for r in found]
            check_known([f"{c}_{s}" for c in maths for s in stats], every, existing)
        return {key: self._block(key, window_ms, stats, channels, found) for key, found in rows.items()}

    def _block(
        self, key: LapId, window_ms: int, stats: Sequence[str], channels: Sequence[str], rows: list[dict[str, Any]]
    ) -> WindowBlock:
        rows = sorted(rows, key=lambda r: r["ts"])
        blob = window_stats.BLOB_COLUMN
        packed = [i for i, r in enumerate(rows) if r[blob]]
        in_catalog = [j for j, c in enumerate(channels) if c in CATALOG.payload_index]
        idx = [CATALOG.payload_index[channels[j]] for j in in_catalog]
        values = {s: np.full((len(rows), len(channels)), np.nan) for s in stats}
        for stat in stats:
            if packed:
                matrix = window_stats.stat_matrix([rows[i][blob] for i in packed], stat)[:, idx]
                values[stat][np.ix_(packed, in_catalog)] = matrix
        for j, name in enumerate(channels):
            if name not in CATALOG.payload_index:  # a maths channel: from each row's maths blob
                for stat in stats:
                    col = f"{name}_{stat}"
                    got = [maths_stats.row_values(r, [col])[col] for r in rows]
                    values[stat][:, j] = [np.nan if v is None else v for v in got]
        if len(packed) < len(rows) and in_catalog:
            # Rows written before the blob existed hold per-channel columns only (partition parts 0, 1, ...).
            named = [channels[j] for j in in_catalog]
            cols = [f"{c}_{s}" for s in stats for c in named]
            old = {
                r["ts"]: r
                for part in range(len(rows) // WINDOWS_PER_PART + 1)
                for r in self._rows(
                    f"SELECT ts, {', '.join(cols)} FROM {self.ks}.channel_windows WHERE session_id = %s AND "
                    "window_ms = %s AND lap = %s AND part = %s",
                    (key[0], window_ms, key[1], part),
                )
            }
            for i, r in enumerate(rows):
                if not r[blob]:
                    found = old.get(r["ts"], {})
                    for stat in stats:
                        got = [found.get(f"{c}_{stat}") for c in named]
                        values[stat][i, in_catalog] = [np.nan if v is None else float(v) for v in got]
        return WindowBlock(
            ts_ms=np.array([(r["ts"] - EPOCH) // MILLISECOND for r in rows], dtype=np.int64),
            window_start=np.array([r["window_start"] for r in rows], dtype=np.float64),
            lap_time=np.array([r["lap_time"] for r in rows], dtype=np.float64),
            lap_distance=np.array([r["lap_distance"] for r in rows], dtype=np.float64),
            frame_count=np.array([r["frame_count"] or 0 for r in rows], dtype=np.int64),
            values=values,
        )


    # ---------- raw frames ----------
    def frames(self, session_id: int, start_sim_time: float, end_sim_time: float) -> Iterator[dict[str, Any]]:
        """Raw frames whose session time lies in [start, end], in sequence order."""
        for bucket in range(frame_bucket(start_sim_time), frame_bucket(end_sim_time) + 1):
            for row in self.session.execute(
                f"SELECT seq, sim_time, lap, lap_distance, markers, frame FROM {self.ks}.frames WHERE session_id "
                "= %s AND bucket = %s",
                (session_id, bucket),
                timeout=60,
            ):
                if start_sim_time <= row["sim_time"] <= end_sim_time:
                    yield row

    def frame_count(self, session_id: int, last_sim_time: float) -> int:
        total = 0
        for bucket in range(0, int(last_sim_time // FRAME_BUCKET_S) + 1):
            total += self._rows(
                f"SELECT count(*) AS n FROM {self.ks}.frames WHERE session_id = %s AND bucket = %s",
                (session_id, bucket),
            )[0]["n"]
        return total


def check_known(wanted: Sequence[str], rows: Sequence[dict[str, Any]], existing: set[str] | None) -> None:
    """Requested columns must be a catalog channel's, a maths channel's these rows hold, or the table's."""
    catalog = set(window_stat_columns())
    maths = maths_stats.names_in(rows)
    unknown = []
    for col in wanted:
        if col in catalog or (existing is not None and col in existing):
            continue
        name, _ = maths_stats.split_column(col)
        if name not in maths:
            unknown.append(name)
    if unknown:
        known = ", ".join(sorted(maths)) or "none"
        raise ValueError(
            f"unknown channel {', '.join(repr(n) for n in dict.fromkeys(unknown))}: not in the catalog "
            f"({CATALOG.version}) nor a maths channel of these windows (they hold: {known})"
        )
