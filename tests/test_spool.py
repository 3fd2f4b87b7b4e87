"""The bridge's spool: ordered, durable across restarts, repaired after a torn write, trimmed on commit."""

from __future__ import annotations

from pathlib import Path

from unity_bridge.spool import KIND_DEADLETTER, KIND_FRAME, Spool, pack_deadletter, unpack_deadletter


def read_all(spool: Spool, offset: int) -> list[bytes]:
    out: list[bytes] = []
    while True:
        recs = list(spool.read(offset))
        if not recs:
            return out
        out += [r.body for r in recs]
        offset = recs[-1].end


def read_records(spool: Spool, offset: int) -> list:  # type: ignore[type-arg]
    out = []
    while recs := list(spool.read(offset)):
        out += recs
        offset = recs[-1].end
    return out


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=1000)
    bodies = [bytes([i % 256]) * (i % 90 + 1) for i in range(300)]
    for i, b in enumerate(bodies):
        spool.append(KIND_FRAME, i, b)
        if i % 7 == 0:
            spool.flush()
    spool.flush()
    assert len(list(tmp_path.glob("*.log"))) > 5
    assert read_all(spool, spool.committed()) == bodies
    spool.close()


def test_restart_resumes_at_the_commit_and_trims_old_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=500)
    for i in range(100):
        spool.append(KIND_FRAME, i, i.to_bytes(4, "little") * 10)
        spool.flush()  # each flush may start a new 500-byte segment
    recs = read_records(spool, 0)
    spool.commit(recs[49].end)
    spool.close()
    reopened = Spool(tmp_path, segment_bytes=500)
    rest = read_all(reopened, reopened.committed())
    assert next(int.from_bytes(b[:4], "little") for b in rest) <= 50
    assert [int.from_bytes(b[:4], "little") for b in rest][-1] == 99
    assert min(int(p.stem) for p in tmp_path.glob("*.log")) > 0  # segments wholly before the commit are gone
    reopened.append(KIND_FRAME, 0, b"after")
    reopened.flush()
    assert read_all(reopened, reopened.committed())[-1] == b"after"
    assert reopened.backlog_bytes() > 0
    reopened.close()


def test_a_torn_final_record_is_cut_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(KIND_FRAME, 1, b"complete")
    spool.flush()
    spool.close()
    seg = next(tmp_path.glob("*.log"))
    with seg.open("ab") as f:
        f.write(b"\x40\x00\x00\x00\x00partial")  # a header promising 64 bytes, then a crash
    reopened = Spool(tmp_path)
    assert read_all(reopened, 0) == [b"complete"]
    reopened.close()


def test_deadletter_envelope_round_trip() -> None:
    body = pack_deadletter("bad_magic", "magic b'XXXX'", "127.0.0.1:5000", b"\x00\x01raw")
    assert unpack_deadletter(body) == ("bad_magic", "magic b'XXXX'", "127.0.0.1:5000", b"\x00\x01raw")
    assert KIND_DEADLETTER != KIND_FRAME
