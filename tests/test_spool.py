"""The bridge's spool: ordered, durable across restarts, repaired after a torn write, trimmed on commit."""

from __future__ import annotations

import gc
import warnings
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


def test_a_full_spool_refuses_records_and_keeps_what_it_holds(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=4096, max_bytes=10_000)
    bodies = [bytes([i]) * 500 for i in range(40)]
    taken = [b for i, b in enumerate(bodies) if spool.try_append(KIND_FRAME, i, b)]
    spool.flush()
    assert len(taken) == 10_000 // (500 + 13)  # whole records up to the bound, then nothing
    assert spool.backlog_bytes() <= 10_000 and spool.room() < 513
    assert read_all(spool, spool.committed()) == taken  # nothing already spooled is damaged
    # Kafka acknowledged the first half: room again, and the next records are taken after the old ones.
    half = read_records(spool, spool.committed())[len(taken) // 2 - 1].end
    spool.commit(half)
    assert spool.try_append(KIND_FRAME, 99, b"after")
    spool.flush()
    assert read_all(spool, half) == [*taken[len(taken) // 2 :], b"after"]
    spool.close()
    reopened = Spool(tmp_path, segment_bytes=4096, max_bytes=10_000)  # the bound survives a restart
    assert reopened.committed() == half and reopened.backlog_bytes() == spool.backlog_bytes()
    reopened.close()


def test_the_bridge_refuses_frames_once_its_spool_is_full_and_says_so(tmp_path: Path) -> None:
    """The socket path of the real Bridge during a Kafka outage (its forwarder runs, the broker port is closed)."""
    import socket
    from dataclasses import replace

    import numpy as np

    from p424.catalog import CATALOG
    from p424.codec.frame import FrameEncoder, FrameHeader
    from p424.config import load_config
    from unity_bridge.server import Bridge

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        no_broker = s.getsockname()[1]  # closed once the block ends: connections are refused
    cfg = replace(
        load_config(), bridge_udp_port=0, bridge_dmg1_port=0, bridge_spool_max_bytes=100_000, kafka_port=no_broker
    )
    bridge = Bridge(cfg, spool_dir=tmp_path)
    bridge.forwarder.start()
    try:
        encoder = FrameEncoder()
        values = np.zeros(len(CATALOG.payload_channels), dtype=np.float32)
        frames = [encoder.encode(FrameHeader(1, 77, seq, seq * 0.02), values) for seq in range(400)]
        source = ("127.0.0.1", 5000)
        for i in range(0, len(frames), 50):
            batch = frames[i : i + 50]
            bridge.handle_batch(batch, [source] * len(batch), [0] * len(batch))
        bridge.spool.flush()
        fit = 100_000 // (len(frames[0]) + 13)
        health = bridge.health()
        assert health["status"] == "spool_full" and health["spool_full"]
        assert (bridge.metrics.accepted, bridge.metrics.refused_spool_full) == (fit, len(frames) - fit)
        assert read_all(bridge.spool, bridge.spool.committed()) == frames[:fit]  # the first ones, intact, in order
        bridge.spool.commit(bridge.spool.end_offset)  # Kafka is back and acknowledged everything spooled
        bridge.handle_batch(frames[:1], [source], [0])
        assert bridge.metrics.accepted == fit + 1 and bridge.health()["status"] != "spool_full"
    finally:
        bridge.forwarder.stop()
        bridge.sock.close()
        bridge.spool.close()
        # kafka-python leaves the socket of each failed connection attempt to the garbage collector;
        # collect them here, so their ResourceWarnings are not raised in whichever test runs next.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
