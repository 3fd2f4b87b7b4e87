"""Raw frames read back from frame_blocks, from ``frames`` rows, and from both, as the same frames.

The frames are a real 50 Hz lap (tests/data, exported by the simulator) replayed as a three-lap stint,
run through the stream's own ``SessionProcessor``; the writes are the sink's own parameters
(``writes.frame_block_params``, ``writes.frame_params``). What Cassandra returns is modelled by the
semantics of the statements: an ``UPDATE ... SET frames = frames + ?`` adds its entries to the
row's map, so a row reads back as the union of every statement's entries for its key. The same
reads against Cassandra itself are in test_frame_blocks_platform.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from p424.catalog import CATALOG
from p424.codec.frame import SEQUENCE_MODULO, FrameEncoder
from p424.processing.emit import MAX_PENDING_FRAMES
from p424.processing.outputs import FrameRow
from p424.sim import CarSimulator
from p424.storage import writes
from p424.storage.reader import FRAME_COLUMNS, block_frames, merged_frames
from p424.storage.schema import frame_bucket
from tests.archive_rows import Processed, process, replayed_frames

SID = 424_0001
V1 = CATALOG.known(0xB512F2CA)  # catalog 1.0.0


@pytest.fixture(scope="module")
def stint(fixture_csv: Path) -> Processed:
    """The 22 s lap as a three-lap stint: 66 s, so its frames span two minute buckets."""
    return process(SID, replayed_frames(fixture_csv, SID, laps=3))


def expected(frames: Sequence[FrameRow]) -> list[dict[str, Any]]:
    """Each frame once, in sequence order, as a row of ``frames`` (FRAME_COLUMNS)."""
    by_seq = {f.seq: f for f in frames}
    return [{c: getattr(by_seq[s], c) for c in FRAME_COLUMNS} for s in sorted(by_seq)]


def stored_blocks(elements: Sequence[Sequence[FrameRow]]) -> dict[int, list[dict[int, bytes]]]:
    """bucket -> the maps of its frame_blocks rows after every element's statements (map entries added)."""
    rows: dict[tuple[int, int, int], dict[int, bytes]] = {}
    for element in elements:
        for entries, session_id, bucket, block in writes.frame_block_params(element):
            assert isinstance(entries, dict)
            rows.setdefault((int(session_id), int(bucket), int(block)), {}).update(entries)  # type: ignore[call-overload]
    out: dict[int, list[dict[int, bytes]]] = {}
    for (_, bucket, _), entries in sorted(rows.items()):
        out.setdefault(bucket, []).append(entries)
    return out


def stored_rows(frames: Sequence[FrameRow]) -> dict[int, list[dict[str, Any]]]:
    """bucket -> its ``frames`` rows, the columns a read selects (FRAME_COLUMNS), as the old sink wrote them."""
    table = writes.TABLES.frame
    out: dict[int, list[dict[str, Any]]] = {}
    for f in sorted(frames, key=lambda f: f.seq):
        row: dict[str, Any] = dict(zip(table.columns, writes.frame_params(f), strict=True))
        out.setdefault(int(row["bucket"]), []).append({c: row[c] for c in FRAME_COLUMNS})
    return out


def read(rows: dict[int, list[dict[str, Any]]], blocks: dict[int, list[dict[int, bytes]]]) -> list[dict[str, Any]]:
    """Every bucket's frames merged, as ``TelemetryStore.frames`` reads them, bucket after bucket."""
    return [r for b in sorted(set(rows) | set(blocks)) for r in merged_frames(rows.get(b, []), blocks.get(b, []))]


def elements(frames: Sequence[FrameRow], size: int = MAX_PENDING_FRAMES) -> list[list[FrameRow]]:
    return [list(frames[i : i + size]) for i in range(0, len(frames), size)]


def test_the_stint_spans_buckets_and_carries_markers(stint: Processed) -> None:
    frames = stint.out.frames
    assert {frame_bucket(f.sim_time) for f in frames} == {0, 1}
    assert 0 < len(writes.marked(frames)) < len(frames) // 100  # line crossings: a few per lap


def test_a_session_stored_only_as_rows_reads_as_before(stint: Processed) -> None:
    frames = stint.out.frames
    assert read(stored_rows(frames), {}) == expected(frames)


def test_a_session_stored_in_blocks_reads_the_same_frames(stint: Processed) -> None:
    frames = stint.out.frames
    assert read({}, stored_blocks(elements(frames))) == expected(frames)


def test_marked_frames_in_both_tables_are_read_once(stint: Processed) -> None:
    frames = stint.out.frames
    got = read(stored_rows(writes.marked(frames)), stored_blocks(elements(frames)))
    assert got == expected(frames)
    assert [r["seq"] for r in got] == sorted({f.seq for f in frames})


def test_a_replay_and_late_frames_leave_one_copy_of_each(stint: Processed) -> None:
    """After a restore the job rewrites elements cut elsewhere; a late frame comes in a later element."""
    frames = list(stint.out.frames)
    late = frames.pop(130)  # sent inside block 2, arrives 300 frames on
    again = [*frames[:300], late, *frames[300:]]
    written = elements(frames[:400], 64) + elements(again[200:], 37)  # rewinds 200 frames, re-cut
    assert read(stored_rows(writes.marked(frames)), stored_blocks(written)) == expected(stint.out.frames)


def test_sequence_numbers_come_from_the_map_key_past_the_32_bit_wrap() -> None:
    """The datagram carries the sequence number modulo 2^32; the stream unwraps it, the map keeps it."""
    sid = SID + 1
    samples = list(CarSimulator(7, sid, seed=5, rate_hz=50.0, laps=1).samples())[:200]
    encoder = FrameEncoder(~np.isnan(samples[0][1]))
    start = SEQUENCE_MODULO - 120
    frames = [
        encoder.encode(dataclasses.replace(h, sequence=(start + i) % SEQUENCE_MODULO), v)
        for i, (h, v) in enumerate(samples)
    ]
    rows = process(sid, frames).out.frames
    assert rows[-1].seq == start + 199 > SEQUENCE_MODULO  # unwrapped by the stream
    got = read({}, stored_blocks([rows]))
    assert got == expected(rows)


def test_frames_of_an_older_catalog_version_decode_from_their_block() -> None:
    assert V1 is not None and V1 is not CATALOG
    sid = SID + 2
    samples = list(CarSimulator(7, sid, seed=6, rate_hz=50.0, laps=1).samples())[:3]
    encoder = FrameEncoder(np.ones(len(V1.payload_channels), dtype=np.bool_), V1)
    headers = [dataclasses.replace(h, catalog_hash=V1.hash, markers=2 * i) for i, (h, _) in enumerate(samples)]
    frames = [encoder.encode(h, np.zeros(len(V1.payload_channels), np.float32)) for h in headers]
    got = block_frames({7 + i: f for i, f in enumerate(frames)})
    assert got == [
        {
            "seq": 7 + i,
            "sim_time": h.sim_time,
            "lap": h.lap,
            "lap_distance": h.lap_distance,
            "markers": h.markers,
            "frame": frames[i],
        }
        for i, h in enumerate(headers)
    ]
