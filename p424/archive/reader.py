"""Reading the archive: per session with pyarrow, across sessions with DuckDB.

``ArchiveReader`` opens a session by id alone (its record, ``gold/sessions/session=<id>/``, names
every other object), returns gold tables as lists of dicts shaped like the Cassandra rows they
came from, silver laps as Arrow tables, and recomputes a lap's windows from silver exactly as the
stream job computed them (``p424.archive.windows``). ``duckdb_connection`` gives a DuckDB that
reads ``s3://`` URLs of the archive (the httpfs extension comes from its PyPI wheel, pinned with
DuckDB itself, so nothing is downloaded at run time).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from p424.archive import parquet
from p424.archive.layout import GOLD_TABLES, RECORD_PREFIX, SessionKeys, gold_glob, record_key, session_of_record_dir
from p424.archive.store import S3_REGION, ArchiveStore
from p424.archive.windows import lap_windows, window_rows
from p424.catalog import CATALOG, Catalog
from p424.processing.windows import WindowStats

WINDOW_SMALLEST_MS = 100  # the stream's smallest window (WINDOW_SIZES_MS); larger ones merge from it


class NotArchivedError(KeyError):
    pass


def _naive_utc(v: Any) -> Any:
    """Timestamps as the Cassandra driver returns them (naive UTC), so archive rows read like hot rows."""
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(UTC).replace(tzinfo=None)
    return v


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _naive_utc(v) for k, v in r.items()} for r in table.to_pylist()]


class ArchiveReader:
    """One archive (a store); sessions by id."""

    def __init__(self, store: ArchiveStore, catalog: Catalog = CATALOG) -> None:
        self.store = store
        self.catalog = catalog
        self._records: dict[int, dict[str, Any]] = {}

    # ---------- files ----------
    def table(self, key: str, columns: Sequence[str] | None = None) -> pa.Table:
        with self.store.fs.open_input_file(self.store.path(key)) as src:
            return pq.read_table(src, columns=list(columns) if columns else None)

    # ---------- sessions ----------
    def session_ids(self) -> list[int]:
        """Every archived session (one that has a record)."""
        found = (session_of_record_dir(k.rsplit("/", 1)[-1]) for k in self.store.list(RECORD_PREFIX, recursive=False))
        return sorted(s for s in found if s is not None)

    def record(self, session_id: int) -> dict[str, Any] | None:
        """The session's archive record (track, date, laps, catalogs, digest, objects), or None."""
        if session_id not in self._records:
            key = record_key(session_id)
            if not self.store.exists(key):
                return None
            self._records[session_id] = _rows(self.table(key))[0]
        return self._records[session_id]

    def keys(self, session_id: int) -> SessionKeys:
        rec = self.record(session_id)
        if rec is None:
            raise NotArchivedError(f"session {session_id} is not archived (no {record_key(session_id)})")
        return SessionKeys(session_id=session_id, track=rec["track"], date=rec["date"])

    def gold(self, table: str, session_id: int) -> list[dict[str, Any]]:
        if table not in GOLD_TABLES:
            raise ValueError(f"{table!r} is not a gold table ({', '.join(GOLD_TABLES)})")
        return _rows(self.table(self.keys(session_id).gold(table)))

    def laps(self, session_id: int) -> list[dict[str, Any]]:
        return self.gold("laps", session_id)

    def quality(self, session_id: int) -> dict[str, Any] | None:
        rows = self.gold("session_quality", session_id)
        return rows[0] if rows else None

    def predictions(self, session_id: int) -> list[dict[str, Any]]:
        return self.gold("predictions", session_id)

    def session_row(self, session_id: int) -> dict[str, Any] | None:
        """The session as ``TelemetryStore.session_row`` gives it (from the quality table's copy)."""
        if self.record(session_id) is None:
            return None
        q = self.quality(session_id) or {}
        keep = ("car_id", "source", "description", "catalog_hash", "started_at", "last_frame_at")
        row = {k: q.get(k) for k in (*keep, "first_sim_time", "last_sim_time", "frames", "laps")}
        return {"session_id": session_id, "track": q.get("track_name"), **row}

    def gold_all(self, table: str, where: str = "", params: Sequence[object] = ()) -> pa.Table:
        """A gold table across every archived session, through DuckDB (``where`` filters it)."""
        con = duckdb_connection(self.store)
        try:
            sql = f"SELECT * FROM read_parquet('{self.store.url(gold_glob(table))}', hive_partitioning = false)"
            return con.execute(f"{sql} {where}", list(params)).to_arrow_table()
        finally:
            con.close()

    # ---------- silver ----------
    def bronze(self, session_id: int, columns: Sequence[str] | None = None) -> pa.Table:
        return self.table(self.keys(session_id).bronze, columns)

    def lap_frames(self, session_id: int, lap: int, columns: Sequence[str] | None = None) -> pa.Table:
        """The lap's frames on the session clock (silver ``time.parquet``), in session-time order."""
        return self.table(self.keys(session_id).silver_time(lap), columns)

    def lap_distance(self, session_id: int, lap: int, columns: Sequence[str] | None = None) -> pa.Table:
        """The lap every ``PROFILE_STEP_M`` metres (silver ``distance.parquet``)."""
        return self.table(self.keys(session_id).silver_distance(lap), columns)

    def lap_window_stats(self, session_id: int, lap: int, window_ms: int) -> list[WindowStats]:
        """The lap's windows of ``window_ms``, recomputed from its on-time frames as the stream did."""
        names = list(self.catalog.payload_names)
        t = self.lap_frames(session_id, lap, ["sim_time", "lap_distance", "late", *names])
        t = t.filter(pa.compute.invert(t.column("late")))
        meta = parquet.read_metadata(t.schema)
        values = np.empty((t.num_rows, len(names)), dtype=np.float32)
        for i, name in enumerate(names):
            values[:, i] = t.column(name).to_numpy(zero_copy_only=False)
        return lap_windows(
            lap=lap,
            lap_start=float(meta["lap_start_sim_time"]),  # type: ignore[arg-type]
            sim_times=t.column("sim_time").to_numpy(),
            lap_distances=t.column("lap_distance").to_numpy(),
            values=values,
            window_ms=window_ms,
            smallest_ms=WINDOW_SMALLEST_MS,
        )

    def windows(
        self, session_id: int, lap: int, window_ms: int, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """The lap's windows as ``TelemetryStore.windows`` returns Cassandra's (time order)."""
        from p424.storage.schema import window_stat_columns

        started = (self.record(session_id) or {}).get("started_at")
        anchor = round((started - datetime(1970, 1, 1)).total_seconds() * 1000) if started else 0
        wanted = list(columns) if columns else window_stat_columns(self.catalog)
        return window_rows(self.lap_window_stats(session_id, lap, window_ms), anchor, wanted, self.catalog)


# ------------------------------------------------------------------------------------------- DuckDB
def httpfs_extension() -> str:
    """Path of the DuckDB httpfs extension shipped by the ``duckdb-extension-httpfs`` wheel."""
    import duckdb
    import duckdb_extension_httpfs

    version = duckdb.__version__
    path = importlib.resources.files(duckdb_extension_httpfs) / "extensions" / f"v{version}" / "httpfs.duckdb_extension"
    if not path.is_file():
        raise RuntimeError(f"duckdb-extension-httpfs has no build for DuckDB {version}: pin both to the same version")
    return str(path)


def duckdb_connection(store: ArchiveStore) -> Any:
    """A DuckDB connection that reads the archive's ``store.url(...)`` URLs (``s3://`` or local)."""
    import duckdb

    con = duckdb.connect()
    if store.endpoint:
        con.execute("SET autoinstall_known_extensions = false")
        con.execute(f"LOAD '{httpfs_extension()}'")
        con.execute(
            "CREATE SECRET p424_archive (TYPE s3, KEY_ID ?, SECRET ?, ENDPOINT ?, REGION ?, URL_STYLE 'path', "
            "USE_SSL false)",
            [store.access_key, store.secret_key, store.endpoint, S3_REGION],
        )
    return con
