"""Append-only spool between the UDP socket and Kafka: the bridge's write-ahead log.

Every accepted frame and every rejected datagram is appended here before anything is sent to
Kafka; a forwarder reads the spool in order and advances a committed offset only once Kafka
acknowledged everything before it. So a broker outage only grows the spool (the socket loop
never waits for Kafka), and after a restart the forwarder resumes at the committed offset:
at-least-once, in order. Consumers drop the duplicates a resend can cause by sequence number.

The spool is bounded (``max_bytes``): a Kafka outage long enough to fill it makes ``append``
refuse new records (the caller counts them) rather than fill the disk, and nothing already spooled
is touched; as Kafka acknowledges, space frees and appends are taken again.

Layout: segment files ``<first offset:020d>.log`` under one directory; offsets are byte positions
across segments. Record: ``u32 body length | u8 kind | u64 receive time (ns) | body``.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

RECORD_HEAD = struct.Struct("<IBQ")
KIND_FRAME = 0
KIND_DEADLETTER = 1
DEADLETTER_HEAD = struct.Struct("<BHH")  # reason length, detail length, source length
_REASON_MAX, _DETAIL_MAX, _SOURCE_MAX = 100, 2000, 100  # bytes kept of each
DEADLETTER_MAX_HEAD = DEADLETTER_HEAD.size + _REASON_MAX + _DETAIL_MAX + _SOURCE_MAX  # what a dead letter adds


class SpoolRecord(NamedTuple):  # a tuple, not a dataclass: one is built per frame forwarded
    offset: int  # offset of the record's first byte
    end: int  # offset just past it: what to commit once it is acknowledged
    kind: int
    received_ns: int
    body: bytes


def record_size(body: bytes) -> int:
    return RECORD_HEAD.size + len(body)


def pack_deadletter(reason: str, detail: str, source: str, raw: bytes) -> bytes:
    r, d, s = reason.encode()[:_REASON_MAX], detail.encode()[:_DETAIL_MAX], source.encode()[:_SOURCE_MAX]
    return DEADLETTER_HEAD.pack(len(r), len(d), len(s)) + r + d + s + raw


def unpack_deadletter(body: bytes) -> tuple[str, str, str, bytes]:
    rl, dl, sl = DEADLETTER_HEAD.unpack_from(body)
    p = DEADLETTER_HEAD.size
    reason = body[p : p + rl].decode()
    detail = body[p + rl : p + rl + dl].decode()
    source = body[p + rl + dl : p + rl + dl + sl].decode()
    return reason, detail, source, body[p + rl + dl + sl :]


class Spool:
    def __init__(self, directory: Path, segment_bytes: int = 64 * 2**20, max_bytes: int = 0) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes  # unacknowledged bytes the spool may hold; 0 = unbounded
        self._commit_file = self.dir / "committed"
        self._committed = self._read_committed()
        self._pending = bytearray()
        self._cond = threading.Condition()
        self._reader: tuple[int, BinaryIO] | None = None  # (segment base, open file) of the forwarder
        segments = self._scan_segments()
        if segments:
            last = segments[-1]
            self._write_base = last
            self._write_size = self._repair(self._segment_path(last))
        else:
            self._write_base = self.committed()
            self._write_size = 0
        self._file = self._segment_path(self._write_base).open("ab")
        self._segment_list = sorted({*segments, self._write_base})

    # ---------- segments ----------
    def _scan_segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob("*.log"))

    def _segments(self) -> list[int]:
        return list(self._segment_list)

    def _segment_path(self, base: int) -> Path:
        return self.dir / f"{base:020d}.log"

    @staticmethod
    def _repair(path: Path) -> int:
        """Cut a torn record at the end of the last segment (a crash mid-write); returns the size kept."""
        data = path.read_bytes()
        pos = 0
        while pos + RECORD_HEAD.size <= len(data):
            length = RECORD_HEAD.unpack_from(data, pos)[0]
            if pos + RECORD_HEAD.size + length > len(data):
                break
            pos += RECORD_HEAD.size + length
        if pos != len(data):
            with path.open("r+b") as f:
                f.truncate(pos)
        return pos

    @property
    def end_offset(self) -> int:
        """Offset after the last record written to disk (buffered appends not included)."""
        return self._write_base + self._write_size

    # ---------- writer side (the socket loop) ----------
    def append(self, kind: int, received_ns: int, body: bytes) -> None:
        """Buffer a record, unchecked: the caller made sure there is ``room`` (the hot path)."""
        self._pending += RECORD_HEAD.pack(len(body), kind, received_ns)
        self._pending += body

    def try_append(self, kind: int, received_ns: int, body: bytes) -> bool:
        """Buffer a record if it fits under ``max_bytes``; False, and nothing written, if not."""
        if record_size(body) > self.room():
            return False
        self.append(kind, received_ns, body)
        return True

    def room(self) -> int:
        """Bytes of records the spool takes before it is full (unbounded: a very large number)."""
        return self.max_bytes - self.backlog_bytes() if self.max_bytes else 2**62

    def flush(self) -> None:
        """Write buffered records to the segment file (page cache) and wake the forwarder."""
        if not self._pending:
            return
        data = bytes(self._pending)
        self._pending.clear()
        with self._cond:
            if self._write_size and self._write_size + len(data) > self.segment_bytes:
                self._file.close()
                self._write_base += self._write_size
                self._write_size = 0
                self._file = self._segment_path(self._write_base).open("ab")
                self._segment_list.append(self._write_base)
            self._file.write(data)
            self._file.flush()
            self._write_size += len(data)
            self._cond.notify_all()

    def sync(self) -> None:
        """fsync the open segment: survives a machine crash, not only a process crash."""
        with self._cond:
            os.fsync(self._file.fileno())

    # ---------- reader side (the forwarder) ----------
    def wait_for_data(self, offset: int, timeout: float) -> bool:
        with self._cond:
            if self.end_offset > offset:
                return True
            self._cond.wait(timeout)
            return self.end_offset > offset

    def read(self, offset: int, max_bytes: int = 4 * 2**20) -> Iterator[SpoolRecord]:
        """Records from ``offset`` (a record boundary) up to what is on disk now."""
        with self._cond:  # a consistent view while the writer may be rotating
            end = self.end_offset
            segments = self._segments()
        for i, base in enumerate(segments):
            seg_end = segments[i + 1] if i + 1 < len(segments) else end
            if seg_end <= offset:
                continue
            start = max(offset, base)
            f = self._reader_file(base)
            f.seek(start - base)
            data = f.read(min(seg_end - start, max_bytes))
            pos = 0
            while pos + RECORD_HEAD.size <= len(data):
                length, kind, received = RECORD_HEAD.unpack_from(data, pos)
                stop = pos + RECORD_HEAD.size + length
                if stop > len(data):
                    break
                yield SpoolRecord(start + pos, start + stop, kind, received, data[pos + RECORD_HEAD.size : stop])
                pos = stop
            return  # one segment (or one chunk of it) per call; the caller continues from the last end

    def _reader_file(self, base: int) -> BinaryIO:
        if self._reader is None or self._reader[0] != base:
            if self._reader is not None:
                self._reader[1].close()
            self._reader = (base, self._segment_path(base).open("rb"))
        return self._reader[1]

    # ---------- commit ----------
    def _read_committed(self) -> int:
        try:
            return int(self._commit_file.read_text())
        except (OSError, ValueError):
            segments = self._scan_segments()
            return segments[0] if segments else 0

    def committed(self) -> int:
        return self._committed

    def commit(self, offset: int) -> None:
        tmp = self._commit_file.with_suffix(".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self._commit_file)
        self._committed = offset
        # Whole segments before the committed offset are no longer needed.
        with self._cond:
            done = [b for b, nxt in itertools.pairwise(self._segment_list) if nxt <= offset]
            for base in done:
                self._segment_list.remove(base)
        for base in done:
            if self._reader is not None and self._reader[0] == base:
                self._reader[1].close()
                self._reader = None
            self._segment_path(base).unlink(missing_ok=True)

    def backlog_bytes(self) -> int:
        """Bytes spooled and not yet acknowledged by Kafka, buffered appends included."""
        return self.end_offset + len(self._pending) - self._committed

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        if self._reader is not None:
            self._reader[1].close()
            self._reader = None
