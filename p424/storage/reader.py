"""Reading stored telemetry from Cassandra: the one reader (queries only; shaping into pandas is p424.analysis).

The analysis API, the live predictor's backfill, the training dataset and the data-quality DAG read
through ``TelemetryStore``; reads of many sessions or laps run concurrently
(``execute_concurrent_with_args``, ``CONCURRENCY`` requests in flight).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cassandra.cluster import Cluster, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement, dict_factory

from p424.config import Config, load_config
from p424.storage import window_stats
from p424.storage.cluster import connect
from p424.storage.schema import FRAME_BUCKET_S, WINDOWS_PER_PART, frame_bucket, window_stat_columns

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
    def windows(
        self,
        session_id: int,
        lap: int,
        window_ms: int,
        columns: Sequence[str] | None = None,
        seconds: float | None = None,
    ) -> list[dict[str, Any]]:
        """Every window of a lap, in time order, across the lap's partitions (parts 0, 1, ...).

        Each row carries ``<channel>_<stat>`` values for ``columns`` (all of them when None),
        unpacked from the row's stats blob. ``seconds``: see ``LapKey``.
        """
        key = LapKey(session_id=session_id, lap=lap, seconds=seconds)
        return self.lap_windows([key], window_ms, columns)[(session_id, lap)]

    def lap_windows(
        self, laps: Sequence[LapKey], window_ms: int, columns: Sequence[str] | None = None
    ) -> dict[tuple[int, int], list[dict[str, Any]]]:
        """Every window of each lap, in time order, keyed by (session id, lap); the partitions of all
        laps are read concurrently.

        Parts: a lap with ``seconds`` is read from every part that duration spans, all at once, and no
        further; a lap without is read part after part until one comes back empty.
        """
        wanted = list(columns) if columns else window_stat_columns()
        # The columns are selected too: rows stored before the blob existed have only them.
        select = ", ".join(dict.fromkeys([*WINDOW_HEADER, *wanted]))
        cql = (
            f"SELECT {select} FROM {self.ks}.channel_windows "
            "WHERE session_id = ? AND window_ms = ? AND lap = ? AND part = ?"
        )
        parts: dict[tuple[int, int], dict[int, list[dict[str, Any]]]] = {}
        walking: set[tuple[int, int]] = set()
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
        return {
            key: [window_stats.expand(r, wanted) for p in sorted(got) for r in got[p]] for key, got in parts.items()
        }

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
