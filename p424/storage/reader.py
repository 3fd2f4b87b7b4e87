"""Reading stored telemetry from Cassandra (queries only; shaping into pandas is p424.analysis)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cassandra.cluster import Cluster, Session
from cassandra.query import dict_factory

from p424.catalog import CATALOG
from p424.config import Config, load_config
from p424.storage import maths_stats, window_stats
from p424.storage.cluster import connect
from p424.storage.schema import FRAME_BUCKET_S, frame_bucket, window_stat_columns


class TelemetryStore:
    """Thin query layer over the telemetry keyspace; rows come back as dicts."""

    def __init__(self, cfg: Config | None = None, session: Session | None = None) -> None:
        self.cfg = cfg or load_config()
        self.ks = self.cfg.cassandra_keyspace
        self._cluster: Cluster | None = None
        if session is None:
            self._cluster, session = connect(self.cfg, self.ks, row_factory=dict_factory)
        self.session = session

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, cql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self.session.execute(cql, params, timeout=60))

    # ---------- sessions ----------
    def sessions(self) -> list[dict[str, Any]]:
        return self._rows(f"SELECT * FROM {self.ks}.sessions")

    def session_row(self, session_id: int) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {self.ks}.sessions WHERE session_id = %s", (session_id,))
        return rows[0] if rows else None

    def quality(self, session_id: int) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {self.ks}.session_quality WHERE session_id = %s", (session_id,))
        return rows[0] if rows else None

    def all_quality(self) -> list[dict[str, Any]]:
        return self._rows(f"SELECT * FROM {self.ks}.session_quality")

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
        self, session_id: int, lap: int, window_ms: int, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Every window of a lap, in time order, across the lap's partitions (parts 0, 1, ...).

        Each row carries ``<channel>_<stat>`` values for ``columns`` (all catalog channels when
        None), unpacked from the row's stats blob; ``<maths>_<stat>`` columns of maths channels come
        from its maths blob. A column that is neither a catalog channel's nor in any row's maths
        blob nor a column of the table is a ValueError naming it.
        """
        wanted = list(columns) if columns else window_stat_columns()
        existing = self._columns("channel_windows")
        header = ["ts", "window_start", "lap_time", "lap_distance", "frame_count", window_stats.BLOB_COLUMN]
        header.append(maths_stats.BLOB_COLUMN)
        # The columns are selected too (those the table has): rows stored before the blobs existed
        # have only them. Maths channels of an older maths file may be in blobs only.
        selected = [c for c in [*header, *wanted] if existing is None or c in existing]
        select = ", ".join(dict.fromkeys(selected))
        rows: list[dict[str, Any]] = []
        part = 0
        while True:
            chunk = self._rows(
                f"SELECT {select} FROM {self.ks}.channel_windows WHERE session_id = %s AND window_ms = %s AND lap "
                "= %s AND part = %s",
                (session_id, window_ms, lap, part),
            )
            if not chunk:
                break
            if part == 0:
                check_known(wanted, chunk, existing)
            rows += [window_stats.expand(r, wanted) for r in chunk]
            part += 1
        return rows

    # ---------- events and alarms (p424.derived) ----------
    def events(self, session_id: int) -> list[dict[str, Any]]:
        """A session's lap events, by lap and start time."""
        return self._rows(f"SELECT * FROM {self.ks}.lap_events WHERE session_id = %s", (session_id,))

    def alerts(self, session_id: int) -> list[dict[str, Any]]:
        """A session's alarm raises and clears, in session time."""
        return self._rows(f"SELECT * FROM {self.ks}.alerts WHERE session_id = %s", (session_id,))

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
