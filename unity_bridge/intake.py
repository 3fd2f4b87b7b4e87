"""Classifying arriving datagrams: protocol-v1 frames, DMG1 motion datagrams, or rejects.

Each input has its own socket, so what a datagram is follows from where it arrived, never from
its content: the frame socket reads protocol v1 only (of any catalog version the platform
knows), the DMG1 socket reads the simulator's motion datagrams only. Pure functions and a small
state machine for DMG1 sessions; no sockets, no Kafka.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from p424.catalog import CATALOG, Catalog
from p424.codec.dmg1 import decode_dmg1
from p424.codec.frame import (
    FLAG_SYNTHESISED,
    FrameError,
    FrameHeader,
    FrameIds,
    RejectReason,
    check_values_finite,
    encode_frame,
    frame_ids,
    frame_size,
    rows_finite,
)

Address = tuple[str, int]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SENDER_NOT_ALLOWED = "sender_not_allowed"  # the reason datagrams from outside BRIDGE_ALLOWED_SENDERS are dropped


def sender_allowed(host: str, networks: Sequence[Network]) -> bool:
    """Whether a datagram from ``host`` (as ``recvfrom`` names it) comes from an allowed network.
    An IPv4-mapped IPv6 sender (``::ffff:a.b.c.d``) is judged by its IPv4 address."""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])  # an IPv6 zone index names no network
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in n for n in networks)


class SenderFilter:
    """``sender_allowed`` remembered per sender host: a session sends from one address at up to
    thousands of datagrams a second, so each host is parsed once."""

    MAX_REMEMBERED = 4096  # forgets everything beyond this (a scan from many addresses cannot grow it)

    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = tuple(networks)
        self._seen: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        verdict = self._seen.get(host)
        if verdict is None:
            if len(self._seen) >= self.MAX_REMEMBERED:
                self._seen.clear()
            verdict = self._seen[host] = sender_allowed(host, self.networks)
        return verdict


def address_text(address: Address) -> str:
    """``host:port``, as the dead-letter headers and logs name a source."""
    return f"{address[0]}:{address[1]}"


class Accepted(NamedTuple):
    ids: FrameIds
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
        frame = encode_frame(header, sample.values, self.catalog)
        ids = FrameIds(header.car_id, header.session_id, header.sequence, self.catalog.hash)
        return Accepted(ids, frame, compat=True)


def new_session_id() -> int:
    """A random positive signed 64-bit session id."""
    return secrets.randbits(63) or 1


def classify(data: bytes, catalog: Catalog = CATALOG) -> Accepted | Rejected:
    """A datagram from the frame socket: a protocol-v1 frame of a known catalog version, or a reject."""
    try:
        ids = frame_ids(data, catalog)
        check_values_finite(data, catalog)
        return Accepted(ids, data)
    except FrameError as err:
        return Rejected(err.reason, err.detail)


def classify_dmg1(data: bytes, source: Address, dmg1: Dmg1Adapter) -> Accepted | Rejected:
    """A datagram from the DMG1 socket: wrapped into a synthesised frame, or a reject."""
    try:
        return dmg1.adapt(data, address_text(source))
    except FrameError as err:
        return Rejected(err.reason, err.detail)


def classify_batch(datagrams: Sequence[bytes], catalog: Catalog = CATALOG) -> list[Accepted | Rejected]:
    """``classify`` for the datagrams one read of the frame socket returned, in order.

    Full-size frames of the current catalog take a fast path (one vectorised finite check for the
    batch, the header checked without building a FrameHeader); anything else (older catalog
    versions included), or anything the fast path refuses, goes through ``classify`` so the
    outcome and reject reason are exactly the same.
    """
    size = frame_size(len(catalog.payload_channels))
    full = [d for d in datagrams if len(d) == size]
    finite = iter(rows_finite(full, catalog))
    out: list[Accepted | Rejected] = []
    for data in datagrams:
        if len(data) == size and next(finite):
            try:
                out.append(Accepted(frame_ids(data, catalog), data))
                continue
            except FrameError:
                pass
        out.append(classify(data, catalog))
    return out
