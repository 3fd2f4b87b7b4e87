"""Raw frames in Cassandra: the reader and the archive writer read frame_blocks, frames, or both, the same.

Three sessions of the same real stint (the 50 Hz lap in tests/data replayed as three laps: 66 s, two
minute buckets, line-crossing markers), processed by the stream's ``SessionProcessor`` and written
with the sink's own statements and parameters (``p424.storage.writes``):
  (a) as before frame_blocks: every frame a row of ``frames``;
  (b) as the sink writes now: map entries of ``frame_blocks`` in elements of MAX_PENDING_FRAMES
      frames, plus a ``frames`` row per marked frame;
  (c) (b) written twice, the second time re-cut into other elements and with a frame held back to a
      later element (a replay after a restore, and a late frame).
Each must read back with every frame once, in sequence order. The keyspace is the test's own, migrated
by ``p424.storage.migrate`` and dropped afterwards, so this needs the running Cassandra only (not the
Flink job, nor a migration of the platform's keyspace).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import UNSET_VALUE

from p424.archive.writer import read_session
from p424.processing.emit import MAX_PENDING_FRAMES
from p424.processing.outputs import FrameRow
from p424.storage import writes
from p424.storage.cluster import connect
from p424.storage.migrate import migrate
from p424.storage.reader import FRAME_COLUMNS, TelemetryStore
from tests.archive_rows import Processed, process, replayed_frames
from tests.helpers import Stack, unique_session_id

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def keyspace(stack: Stack) -> Iterator[tuple[TelemetryStore, str]]:
    """A keyspace of this module's own, with every migration applied; dropped afterwards."""
    ks = f"p424_blocks_test_{uuid.uuid4().hex[:8]}"
    cluster, session = connect(stack.cfg)
    try:
        migrate(session, ks, stack.cfg.keyspace_replication)
        store = TelemetryStore(stack.cfg.replace(cassandra_keyspace=ks))
        yield store, ks
        store.close()
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {ks}", timeout=120)
        cluster.shutdown()


def run(store: TelemetryStore, statement: str, rows: Sequence[tuple[object, ...]]) -> None:
    ps = store.session.prepare(statement)
    args = [tuple(UNSET_VALUE if v is None else v for v in r) for r in rows]
    execute_concurrent_with_args(store.session, ps, args, concurrency=32, raise_on_first_error=True)


def write_session(store: TelemetryStore, ks: str, p: Processed) -> None:
    """The session's rows besides its frames: sessions, laps, quality (the archive writer reads them)
    and its windows (the reader's ``holds_session`` looks for them), with blobs only."""
    t, now = writes.TABLES, int(time.time() * 1000)
    run(store, t.session.insert(ks), [t.session.params(p.out.sessions[-1], now)])
    run(store, t.quality.insert(ks), [t.quality.params(p.out.quality[-1], now)])
    run(store, t.lap.insert(ks), [t.lap.params(lap) for lap in p.out.laps])
    run(store, t.window.insert(ks), [t.window.params(w) for w in p.out.windows])


def as_rows(store: TelemetryStore, ks: str, frames: Sequence[FrameRow]) -> None:
    run(store, writes.TABLES.frame.insert(ks), [writes.frame_params(f) for f in frames])


def as_blocks(store: TelemetryStore, ks: str, elements: Sequence[Sequence[FrameRow]]) -> None:
    """Each element's statements as the sink binds them: its blocks, then its marked frames as rows."""
    update = writes.TABLES.frame_block.update(ks)
    for element in elements:
        run(store, update, writes.frame_block_params(element))
        as_rows(store, ks, writes.marked(element))


def cut(frames: Sequence[FrameRow], size: int) -> list[list[FrameRow]]:
    return [list(frames[i : i + size]) for i in range(0, len(frames), size)]


@pytest.fixture(scope="module")
def sessions(keyspace: tuple[TelemetryStore, str], fixture_csv: Path) -> dict[str, Processed]:
    store, ks = keyspace
    out = {}
    for name in ("rows", "blocks", "replayed"):
        sid = unique_session_id()
        out[name] = p = process(sid, replayed_frames(fixture_csv, sid, laps=3))
        write_session(store, ks, p)
    frames = out["rows"].out.frames
    as_rows(store, ks, frames)
    as_blocks(store, ks, cut(out["blocks"].out.frames, MAX_PENDING_FRAMES))
    frames = list(out["replayed"].out.frames)
    late = frames.pop(130)
    as_blocks(store, ks, cut(frames[:400], MAX_PENDING_FRAMES))
    as_blocks(store, ks, cut([*frames[200:1000], late, *frames[1000:]], 37))  # rewound 200 frames, re-cut
    return out


def expected(p: Processed) -> list[dict[str, Any]]:
    return [{c: getattr(f, c) for c in FRAME_COLUMNS} for f in sorted(p.out.frames, key=lambda f: f.seq)]


@pytest.mark.parametrize("name", ["rows", "blocks", "replayed"])
def test_the_reader_returns_every_frame_once_in_sequence_order(
    keyspace: tuple[TelemetryStore, str], sessions: dict[str, Processed], name: str
) -> None:
    store, _ = keyspace
    p = sessions[name]
    first, last = p.out.sessions[-1].first_sim_time, p.out.sessions[-1].last_sim_time
    got = [{c: r[c] for c in FRAME_COLUMNS} for r in store.frames(p.session_id, first, last)]
    assert len(got) == len(p.frames) > 3000
    assert got == expected(p)
    assert store.frame_count(p.session_id, last) == len(p.frames)
    assert store.holds_session(store.session_row(p.session_id) or {})


def test_marked_frames_stay_rows_for_grafana(keyspace: tuple[TelemetryStore, str], sessions: dict[str, Processed]) -> None:
    """The live board's query (grafana/boards/live_car.py MARKERS_CQL) reads marked frames from ``frames``."""
    store, ks = keyspace
    p = sessions["blocks"]
    marked = {f.seq for f in writes.marked(p.out.frames)}
    found = {
        int(r["seq"])
        for bucket in (0, 1)
        for r in store.session.execute(
            f"SELECT seq FROM {ks}.frames WHERE session_id = %s AND bucket = %s AND markers > 0 ALLOW FILTERING",
            (p.session_id, bucket),
        )
    }
    assert found == marked and 0 < len(marked) < len(p.frames) // 100  # line crossings: a few per lap


@pytest.mark.parametrize("name", ["blocks", "replayed"])
def test_the_archive_writer_reads_every_frame_once(
    keyspace: tuple[TelemetryStore, str], sessions: dict[str, Processed], name: str
) -> None:
    store, ks = keyspace
    p = sessions[name]
    data = read_session(store.session, ks, p.session_id, smallest_ms=100)
    assert data.seqs == sorted(f.seq for f in p.out.frames)
    assert data.frames == [f.frame for f in sorted(p.out.frames, key=lambda f: f.seq)]
