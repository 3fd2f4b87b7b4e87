"""Reading stored telemetry from Cassandra (queries only; shaping into pandas is p424.analysis)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cassandra.cluster import Cluster, Session
from cassandra.query import dict_factory

from p424.config import Config, load_config
from p424.storage import window_stats
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
    def windows(
        self, session_id: int, lap: int, window_ms: int, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Every window of a lap, in time order, across the lap's partitions (parts 0, 1, ...).

        Each row carries ``<channel>_<stat>`` values for ``columns`` (all of them when None),
        unpacked from the row's stats blob.
        """
        wanted = list(columns) if columns else window_stat_columns()
        header = ["ts", "window_start", "lap_time", "lap_distance", "frame_count", window_stats.BLOB_COLUMN]
        # The columns are selected too: rows stored before the blob existed have only them.
        select = ", ".join(dict.fromkeys([*header, *wanted]))
        rows: list[dict[str, Any]] = []
        part = 0
        while True:
            chunk = self._rows(
                f"SELECT {select} FROM {self.ks}.channel_windows WHERE session_id = %s AND window_ms = %s AND lap "
                "= %s AND part = %s",
                (session_id, window_ms, lap, part),
            )
            if not chunk:
                return rows
            rows += [window_stats.expand(r, wanted) for r in chunk]
            part += 1

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
