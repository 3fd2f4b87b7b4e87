"""Classifying arriving datagrams: protocol-v1 frames, DMG1 motion datagrams, or rejects.

Pure functions and a small state machine for DMG1 sessions; no sockets, no Kafka.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from p424.catalog import CATALOG, Catalog
from p424.codec.dmg1 import DMG1_SIZE, decode_dmg1
from p424.codec.frame import (
    FLAG_SYNTHESISED,
    MAGIC,
    FrameError,
    FrameHeader,
    RejectReason,
    encode_frame,
    validate_frame,
)


@dataclass(frozen=True)
class Accepted:
    header: FrameHeader
    frame: bytes  # the protocol-v1 datagram to forward (synthesised for DMG1 input)
    compat: bool = False


@dataclass(frozen=True)
class Rejected:
    reason: RejectReason
    detail: str


@dataclass
class _MotionSession:
    session_id: int
    sequence: int = 0
    last_sim_time: float = float("-inf")


@dataclass
class Dmg1Adapter:
    """Wraps DMG1 datagrams from each source address into protocol-v1 frames.

    A DMG1 source has no session or sequence: each source address gets a session, and a new one
    starts when its simulation clock jumps back by more than ``restart_s`` (the simulator restarted).
    """

    car_id: int
    restart_s: float = 1.0
    catalog: Catalog = CATALOG
    sessions: dict[str, _MotionSession] = field(default_factory=dict)

    def adapt(self, data: bytes, source: str) -> Accepted:
        sample = decode_dmg1(data)
        s = self.sessions.get(source)
        if s is None or sample.sim_time < s.last_sim_time - self.restart_s:
            s = self.sessions[source] = _MotionSession(session_id=new_session_id())
        s.last_sim_time = sample.sim_time
        header = FrameHeader(
            car_id=self.car_id,
            session_id=s.session_id,
            sequence=s.sequence,
            sim_time=sample.sim_time,
            flags=FLAG_SYNTHESISED,
            catalog_hash=self.catalog.hash,
        )
        s.sequence += 1
        return Accepted(header, encode_frame(header, sample.values, self.catalog), compat=True)


def new_session_id() -> int:
    """A random positive signed 64-bit session id."""
    return secrets.randbits(63) or 1


def classify(data: bytes, source: str, dmg1: Dmg1Adapter, catalog: Catalog = CATALOG) -> Accepted | Rejected:
    try:
        if len(data) == DMG1_SIZE and data[:4] != MAGIC:
            return dmg1.adapt(data, source)
        return Accepted(validate_frame(data, catalog), data)
    except FrameError as err:
        return Rejected(err.reason, err.detail)
