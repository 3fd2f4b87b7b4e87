"""Archiving closed sessions: Cassandra rows -> Parquet objects in the archive, idempotently.

``archive_session`` reads everything the hot store holds of a session, builds its objects
(``p424.archive.build``: the same rows always give the same bytes), writes them with the
session's record last, removes objects an earlier archive of the session wrote that the new one
does not (a lap that no longer exists, a track renamed), and only then marks the session archived
in Cassandra (``sessions.archived_at``, ``archive_version``). Writing a session twice therefore
leaves the same objects, and a failure half-way is repaired by the next attempt.

A session is *closed* once it has been silent for ``ARCHIVE_CLOSED_AFTER_S`` (by default the
stream job's compaction horizon: its stored rows are as they stand, and change only if the
session resumes). ``sessions_to_archive`` lists the closed sessions that are not archived, were
archived in an older format, or changed after they were archived.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from p424.archive.build import ArchiveError, Built, SessionData, build_session
from p424.archive.layout import FORMAT_VERSION, record_key
from p424.archive.store import ArchiveStore
from p424.config import Config
from p424.storage.schema import WINDOWS_PER_PART, frame_bucket

log = logging.getLogger(__name__)
CONCURRENCY = 16


@dataclass(frozen=True, kw_only=True)
class Archived:
    session_id: int
    frames: int
    laps: list[int]
    late: int
    objects: int
    bytes: int
    removed: list[str]  # keys of an earlier archive of the session that the new one does not have

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "frames": self.frames,
            "laps": self.laps,
            "late": self.late,
            "objects": self.objects,
            "bytes": self.bytes,
            "removed": self.removed,
        }


def smallest_window_ms(cfg: Config) -> int:
    """The stream job's smallest window (``WINDOW_SIZES_MS``): every larger one merges from it."""
    return min(cfg.window_sizes)


# ------------------------------------------------------------------------------------------- reading
def _one(session: Session, cql: str, params: Sequence[object]) -> dict[str, Any] | None:
    rows = list(session.execute(cql, params, timeout=60))
    return dict(rows[0]._asdict() if hasattr(rows[0], "_asdict") else rows[0]) if rows else None


def _as_dict(row: Any) -> dict[str, Any]:
    return dict(row._asdict()) if hasattr(row, "_asdict") else dict(row)


def read_session(session: Session, keyspace: str, session_id: int, smallest_ms: int) -> SessionData:
    """Everything Cassandra holds of one session (frames read partition by partition, concurrently);
    the smallest windows too when the session counted late frames (they tell which were late)."""
    info = _one(session, f"SELECT * FROM {keyspace}.sessions WHERE session_id = %s", (session_id,))
    if info is None:
        raise ArchiveError(f"session {session_id} is not in {keyspace}.sessions")
    quality = _one(session, f"SELECT * FROM {keyspace}.session_quality WHERE session_id = %s", (session_id,))
    laps = [_as_dict(r) for r in session.execute(f"SELECT * FROM {keyspace}.laps WHERE session_id = %s", (session_id,))]
    times = [float(info.get(k) or 0.0) for k in ("first_sim_time", "last_sim_time")]
    times += [float(r.get(k) or 0.0) for r in laps for k in ("start_sim_time", "end_sim_time")]
    # One partition either side: late frames may lie before the first or after the last released one.
    buckets = range(frame_bucket(min(times)) - 1, frame_bucket(max(times)) + 2)
    ps = session.prepare(f"SELECT seq, frame FROM {keyspace}.frames WHERE session_id = ? AND bucket = ?")
    ps.fetch_size = 10_000
    by_seq: dict[int, bytes] = {}
    for ok, result in execute_concurrent_with_args(
        session, ps, [(session_id, b) for b in buckets], concurrency=CONCURRENCY, raise_on_first_error=True
    ):
        assert ok
        for r in result:
            row = _as_dict(r)
            by_seq[int(row["seq"])] = bytes(row["frame"])
    lap_numbers = sorted({int(r["lap"]) for r in laps} | {max((int(r["lap"]) for r in laps), default=0) + 1})
    pp = session.prepare(f"SELECT * FROM {keyspace}.predictions WHERE session_id = ? AND lap = ?")
    predictions: list[dict[str, Any]] = []
    for ok, result in execute_concurrent_with_args(
        session, pp, [(session_id, lap) for lap in lap_numbers], concurrency=CONCURRENCY, raise_on_first_error=True
    ):
        assert ok
        predictions += [_as_dict(r) for r in result]
    windows = None
    if quality and int(quality.get("frames_late") or 0):
        windows = read_smallest_windows(session, keyspace, session_id, lap_numbers, smallest_ms)
    seqs = sorted(by_seq)
    return SessionData(
        session=info,
        quality=quality,
        laps=laps,
        seqs=seqs,
        frames=[by_seq[s] for s in seqs],
        predictions=predictions,
        windows=windows,
    )


def read_smallest_windows(
    session: Session, keyspace: str, session_id: int, laps: Sequence[int], window_ms: int
) -> dict[int, list[tuple[int, int, bytes]]]:
    """Window index -> (lap, frame_count, stats blob) of every stored window of ``window_ms``."""
    ps = session.prepare(
        f"SELECT lap, window_start, frame_count, stats FROM {keyspace}.channel_windows "
        "WHERE session_id = ? AND window_ms = ? AND lap = ? AND part = ?"
    )
    out: dict[int, list[tuple[int, int, bytes]]] = {}
    pending = [(lap, 0) for lap in laps]
    while pending:
        args = [(session_id, window_ms, lap, part) for lap, part in pending]
        results = execute_concurrent_with_args(session, ps, args, concurrency=CONCURRENCY, raise_on_first_error=True)
        nxt = []
        for (lap, part), (_ok, result) in zip(pending, results, strict=True):
            rows = [_as_dict(r) for r in result]
            for r in rows:
                index = round(float(r["window_start"]) * 1000 / window_ms)
                out.setdefault(index, []).append((int(r["lap"]), int(r["frame_count"]), bytes(r["stats"])))
            if len(rows) >= WINDOWS_PER_PART:
                nxt.append((lap, part + 1))
        pending = nxt
    return out


# ------------------------------------------------------------------------------------------- writing
def previous_objects(store: ArchiveStore, session_id: int) -> list[str]:
    """Every key an earlier archive of the session wrote (from its record), the record included."""
    key = record_key(session_id)
    if not store.exists(key):
        return []
    with store.fs.open_input_file(store.path(key)) as src:
        objects = pq.read_table(src, columns=["objects"]).column("objects").to_pylist()[0]
    return [*objects, key]


def write_built(store: ArchiveStore, built: Built) -> list[str]:
    """Put every object (the record last), then delete what an earlier archive left that this one
    does not have; returns the deleted keys."""
    before = previous_objects(store, built.keys.session_id)
    record = built.keys.record
    for key, data in built.objects.items():
        if key != record:
            store.put(key, data)
    store.put(record, built.objects[record])
    stale = sorted(set(before) - set(built.objects))
    for key in stale:
        store.delete(key)
    return stale


def mark_archived(session: Session, keyspace: str, session_id: int, at: datetime | None = None) -> None:
    at = at or datetime.now(UTC)
    session.execute(
        f"UPDATE {keyspace}.sessions SET archived_at = %s, archive_version = %s WHERE session_id = %s",
        (at, FORMAT_VERSION, session_id),
        timeout=60,
    )


def archive_session(
    cql: Session,
    keyspace: str,
    store: ArchiveStore,
    session_id: int,
    smallest_ms: int,
    mark: bool = True,
) -> Archived:
    """Archive one session (see the module docstring); ``mark`` records it in ``sessions``.

    ``smallest_ms``: the stream's smallest window size (``smallest_window_ms(cfg)``)."""
    data = read_session(cql, keyspace, session_id, smallest_ms)
    built = build_session(data, smallest_ms)
    removed = write_built(store, built)
    if mark:
        mark_archived(cql, keyspace, session_id)
    return Archived(
        session_id=session_id,
        frames=built.frames,
        laps=built.laps,
        late=built.late,
        objects=len(built.objects),
        bytes=sum(len(b) for b in built.objects.values()),
        removed=removed,
    )


# ------------------------------------------------------------------------------------------- which sessions
def needs_archive(row: dict[str, Any], now: datetime, closed_after_s: float) -> bool:
    """A closed session (silent for ``closed_after_s``) that is not archived in this format, or that
    received frames after it was archived."""
    last = row.get("last_frame_at")
    if last is None:
        return False
    last = last.replace(tzinfo=UTC) if last.tzinfo is None else last
    if now - last < timedelta(seconds=closed_after_s):
        return False
    archived = row.get("archived_at")
    if archived is None or int(row.get("archive_version") or 0) < FORMAT_VERSION:
        return True
    archived = archived.replace(tzinfo=UTC) if archived.tzinfo is None else archived
    return bool(last > archived)


def sessions_to_archive(
    session: Session, keyspace: str, closed_after_s: float, now: datetime | None = None
) -> list[int]:
    now = now or datetime.now(UTC)
    rows = session.execute(
        f"SELECT session_id, last_frame_at, archived_at, archive_version FROM {keyspace}.sessions", timeout=60
    )
    return sorted(int(r["session_id"]) for r in map(_as_dict, rows) if needs_archive(r, now, closed_after_s))


def archive_sessions(
    cql: Session, keyspace: str, store: ArchiveStore, session_ids: Iterable[int], smallest_ms: int
) -> tuple[list[Archived], dict[int, str]]:
    """Archive each session; one that fails is reported (id -> reason) and the others go on."""
    done: list[Archived] = []
    failed: dict[int, str] = {}
    for sid in session_ids:
        try:
            done.append(archive_session(cql, keyspace, store, sid, smallest_ms))
        except ArchiveError as why:
            failed[sid] = str(why)
            log.warning("session %s not archived: %s", sid, why)
    return done, failed
