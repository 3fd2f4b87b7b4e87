"""Protocol v1 telemetry frame: one UDP datagram per sample (see unity_bridge/PROTOCOL.md).

Layout, little-endian::

    offset size field
     0     4    magic            b"P424"
     4     1    version          1
     5     1    flags            bit 0: synthesised by the bridge from a compatibility input
     6     2    channel_count    N, payload channels in the frame
     8     4    catalog_hash     Catalog.hash of the sender's catalog
    12     2    car_id
    14     2    lap              lap (segment) number
    16     8    session_id       signed 64-bit, > 0
    24     4    sequence         per-session frame counter, wraps at 2**32
    28     4    markers          marker bitmask
    32     8    sim_time         session clock, seconds (float64)
    40     8    lap_distance     metres from the start line (float64)
    48     4*W  presence         W = ceil(N / 32) little-endian uint32 words; bit i = channel i present
    48+4W  4*N  values           float32 in catalog payload order; absent channels carry 0.0

A frame of any catalog version the receiver knows (``Catalog.known``) decodes: its values come
back in the receiver's catalog order, NaN for channels that version lacks. Decoding is pure and
total: any byte string either decodes or raises ``FrameError`` with a reason from
``RejectReason``; nothing else escapes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog

MAGIC = b"P424"
VERSION = 1
# The header, field by field: the one place its layout is written (offsets derive from it).
HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("magic", "4s"),
    ("version", "B"),
    ("flags", "B"),
    ("channel_count", "H"),
    ("catalog_hash", "I"),
    ("car_id", "H"),
    ("lap", "H"),
    ("session_id", "q"),
    ("sequence", "I"),
    ("markers", "I"),
    ("sim_time", "d"),
    ("lap_distance", "d"),
)
HEADER = struct.Struct("<" + "".join(fmt for _, fmt in HEADER_FIELDS))
HEADER_SIZE = HEADER.size  # 48
OFFSET: dict[str, int] = {
    name: struct.calcsize("<" + "".join(fmt for _, fmt in HEADER_FIELDS[:i]))
    for i, (name, _) in enumerate(HEADER_FIELDS)
}
_CAR_ID = slice(OFFSET["car_id"], OFFSET["car_id"] + 2)
_SESSION_ID = slice(OFFSET["session_id"], OFFSET["session_id"] + 8)
MAX_DATAGRAM = 1472  # one Ethernet MTU without IP fragmentation
FLAG_SYNTHESISED = 0x01
SEQUENCE_MODULO = 2**32

FloatArray = npt.NDArray[np.float32]


class RejectReason(StrEnum):
    TRUNCATED = "truncated"
    OVERSIZED = "oversized"
    BAD_MAGIC = "bad_magic"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_CATALOG = "unknown_catalog"
    SIZE_MISMATCH = "size_mismatch"
    BAD_HEADER = "bad_header"
    NON_FINITE = "non_finite"


class FrameError(ValueError):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class FrameHeader:
    car_id: int
    session_id: int
    sequence: int
    sim_time: float
    lap: int = 0
    lap_distance: float = 0.0
    markers: int = 0
    flags: int = 0
    catalog_hash: int = CATALOG.hash
    version: int = VERSION


@dataclass(frozen=True)
class Frame:
    header: FrameHeader
    values: FloatArray  # float32[N], catalog payload order; NaN where the channel is absent
    present: npt.NDArray[np.bool_] = field(repr=False)

    def value(self, name: str, catalog: Catalog = CATALOG) -> float | None:
        i = catalog.payload_index[name]
        return float(self.values[i]) if self.present[i] else None

    def as_dict(self, catalog: Catalog = CATALOG) -> dict[str, float]:
        """Header channels plus every present payload channel, by catalog name."""
        h = self.header
        out: dict[str, float] = {
            "sim_time": h.sim_time,
            "lap": float(h.lap),
            "lap_distance": h.lap_distance,
            "markers": float(h.markers),
        }
        for i in np.flatnonzero(self.present):
            out[catalog.payload_names[i]] = float(self.values[i])
        return out


def presence_words(n_channels: int) -> int:
    return (n_channels + 31) // 32


def frame_size(n_channels: int) -> int:
    return HEADER_SIZE + 4 * presence_words(n_channels) + 4 * n_channels


def pack_presence(present: npt.NDArray[np.bool_]) -> bytes:
    n = len(present)
    padded = np.zeros(presence_words(n) * 32, dtype=np.bool_)
    padded[:n] = present
    return np.packbits(padded, bitorder="little").tobytes()


def unpack_presence(raw: bytes, n_channels: int) -> npt.NDArray[np.bool_]:
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
    return bits[:n_channels].astype(np.bool_)


def pack_header(header: FrameHeader, n_channels: int) -> bytes:
    """The 48-byte header, refusing what a decoder would reject (so no sender emits it)."""
    if not (math.isfinite(header.sim_time) and math.isfinite(header.lap_distance)):
        raise FrameError(RejectReason.NON_FINITE, "sim_time and lap_distance must be finite")
    if header.session_id <= 0:
        raise FrameError(RejectReason.BAD_HEADER, f"session_id {header.session_id} must be positive")
    try:
        return HEADER.pack(
            MAGIC,
            header.version,
            header.flags,
            n_channels,
            header.catalog_hash,
            header.car_id,
            header.lap,
            header.session_id,
            header.sequence % SEQUENCE_MODULO,
            header.markers,
            header.sim_time,
            header.lap_distance,
        )
    except struct.error as err:
        raise FrameError(RejectReason.BAD_HEADER, f"a header field is out of range: {err}") from err


def encode_frame(
    header: FrameHeader,
    values: Mapping[str, float] | Sequence[float] | FloatArray,
    catalog: Catalog = CATALOG,
) -> bytes:
    """Encode one frame. ``values`` maps channel names to values (absent names are absent), or is
    a full catalog-ordered vector in which NaN marks an absent channel."""
    n = len(catalog.payload_channels)
    vec = np.zeros(n, dtype=np.float32)
    if isinstance(values, Mapping):
        present = np.zeros(n, dtype=np.bool_)
        for name, v in values.items():
            i = catalog.payload_index.get(name)
            if i is None:
                raise KeyError(f"{name!r} is not a payload channel of catalog {catalog.hash_hex}")
            vec[i] = v
            present[i] = True
    else:
        arr = np.asarray(values, dtype=np.float32)
        if arr.shape != (n,):
            raise ValueError(f"expected {n} values in catalog order, got shape {arr.shape}")
        present = ~np.isnan(arr)
        vec[present] = arr[present]
    if not np.isfinite(vec).all():
        bad = [catalog.payload_names[i] for i in np.flatnonzero(~np.isfinite(vec))]
        raise FrameError(RejectReason.NON_FINITE, f"present channels must be finite: {', '.join(bad[:5])}")
    return pack_header(header, n) + pack_presence(present) + vec.astype("<f4").tobytes()


class FrameEncoder:
    """Encoding many frames with the same set of present channels (replay, simulator, benches).

    The presence bitmap is packed once; each frame costs one header pack and one array copy.
    Values of absent channels are sent as 0.0 whatever the input holds.
    """

    def __init__(self, present: npt.NDArray[np.bool_] | None = None, catalog: Catalog = CATALOG) -> None:
        n = len(catalog.payload_channels)
        self.catalog = catalog
        self.present = np.ones(n, dtype=np.bool_) if present is None else np.asarray(present, dtype=np.bool_)
        if self.present.shape != (n,):
            raise ValueError(f"presence mask must have {n} entries")
        self._presence = pack_presence(self.present)
        self._absent = ~self.present
        self._n = n

    def encode(self, header: FrameHeader, values: FloatArray) -> bytes:
        vec = np.asarray(values, dtype="<f4")
        if self._absent.any():
            vec = vec.copy()
            vec[self._absent] = 0.0
        if not np.isfinite(vec).all():
            raise FrameError(RejectReason.NON_FINITE, "present channels must be finite")
        return pack_header(header, self._n) + self._presence + vec.tobytes()


class FrameIds(NamedTuple):
    """What a relay needs of a validated frame: whose it is, where it sits in its session, and
    which catalog version it was written with."""

    car_id: int
    session_id: int
    sequence: int
    catalog_hash: int


def frame_ids(data: bytes, catalog: Catalog = CATALOG) -> FrameIds:
    """Validate the header (as ``decode_header``) and return only the ids: the bridge's hot path."""
    _magic, _version, _flags, _n, chash, car, _lap, session, seq, _markers, _t, _dist = _checked_header(data, catalog)
    return FrameIds(car, session, seq, chash)


def decode_header(data: bytes, catalog: Catalog = CATALOG) -> FrameHeader:
    """Validate and decode only the header; checks the size too."""
    return _header(_checked_header(data, catalog))


def _header(fields: tuple[Any, ...]) -> FrameHeader:
    _magic, version, flags, _n, chash, car, lap, session, seq, markers, t, dist = fields
    return FrameHeader(car, session, seq, t, lap, dist, markers, flags, chash, version)


def sender_catalog(data: bytes, catalog: Catalog = CATALOG) -> Catalog:
    """The catalog version a header-validated frame was written with."""
    (chash,) = _CATALOG_HASH.unpack_from(data, OFFSET["catalog_hash"])
    found = catalog.known(chash)
    if found is None:
        raise FrameError(RejectReason.UNKNOWN_CATALOG, _unknown_catalog(chash, catalog))
    return found


def _unknown_catalog(chash: int, catalog: Catalog) -> str:
    known = ", ".join(f"{c.hash_hex} ({c.version})" for c in catalog.history.values())
    return f"sender catalog {chash:08x} is not one this platform knows (known: {known})"


_CATALOG_HASH = struct.Struct("<I")


def _checked_header(data: bytes, catalog: Catalog) -> tuple[Any, ...]:
    """The header's fields, unpacked, after every check a receiver makes on them."""
    size = len(data)
    if size < HEADER_SIZE:
        raise FrameError(RejectReason.TRUNCATED, f"{size} bytes is shorter than the {HEADER_SIZE}-byte header")
    if size > MAX_DATAGRAM:
        raise FrameError(RejectReason.OVERSIZED, f"{size} bytes exceeds {MAX_DATAGRAM}")
    fields = HEADER.unpack_from(data)
    magic, version, _flags, n, chash, _car, _lap, session, _seq, _markers, t, dist = fields
    if magic != MAGIC:
        raise FrameError(RejectReason.BAD_MAGIC, f"magic {magic!r} is not {MAGIC!r}")
    if version != VERSION:
        raise FrameError(RejectReason.UNSUPPORTED_VERSION, f"protocol version {version}, this decoder reads {VERSION}")
    sender = catalog if chash == catalog.hash else catalog.known(chash)
    if sender is None:
        raise FrameError(RejectReason.UNKNOWN_CATALOG, _unknown_catalog(chash, catalog))
    if n != len(sender.payload_channels):
        raise FrameError(
            RejectReason.UNKNOWN_CATALOG,
            f"sender catalog {chash:08x} has {len(sender.payload_channels)} payload channels, the frame says {n}",
        )
    expected = frame_size(n)
    if size != expected:
        reason = RejectReason.TRUNCATED if size < expected else RejectReason.SIZE_MISMATCH
        raise FrameError(reason, f"{size} bytes, a {n}-channel frame is {expected}")
    if session <= 0:
        raise FrameError(RejectReason.BAD_HEADER, f"session_id {session} must be positive")
    if not (math.isfinite(t) and math.isfinite(dist)):
        raise FrameError(RejectReason.NON_FINITE, "sim_time or lap_distance is not finite")
    return fields


def payload_offset(n_channels: int) -> int:
    return HEADER_SIZE + 4 * presence_words(n_channels)


def decode_values(data: bytes, catalog: Catalog = CATALOG) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Values (NaN where absent) and presence of a frame whose header is already validated, in
    ``catalog``'s payload order whichever known catalog version the frame was written with."""
    return _values(data, sender_catalog(data, catalog), catalog)


def decode_header_values(data: bytes, catalog: Catalog = CATALOG) -> tuple[FrameHeader, FloatArray]:
    """``decode_header`` and ``decode_values``'s values with the header unpacked once: the stream
    job's per-frame path. Raises FrameError as they do."""
    header = _header(_checked_header(data, catalog))
    chash = header.catalog_hash
    sender = catalog if chash == catalog.hash else catalog.known(chash)
    assert sender is not None  # _checked_header refused unknown catalogs
    return header, _values(data, sender, catalog)[0]


def _values(data: bytes, sender: Catalog, catalog: Catalog) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    n = len(sender.payload_channels)
    off = payload_offset(n)
    present = unpack_presence(data[HEADER_SIZE:off], n)
    values = np.frombuffer(data, dtype="<f4", count=n, offset=off).astype(np.float32)
    if not np.isfinite(values).all():
        bad = [sender.payload_names[i] for i in np.flatnonzero(~np.isfinite(values))]
        raise FrameError(RejectReason.NON_FINITE, f"non-finite values in {', '.join(bad[:5])}")
    values[~present] = np.nan
    if sender is not catalog:
        values = catalog.from_payload(values, sender)
        present = ~np.isnan(values)
    return values, present


def decode_values_many(frames: Sequence[bytes], catalog: Catalog = CATALOG) -> FloatArray:
    """``decode_values`` for a batch: (frames, channels) in ``catalog``'s payload order, NaN where absent.

    Every header is checked as ``decode_header`` checks it; the values of all frames written with
    one catalog version are then read in one numpy pass (a stored lap is ~15,000 frames).
    """
    out = np.full((len(frames), len(catalog.payload_channels)), np.nan, dtype=np.float32)
    by_sender: dict[int, list[int]] = {}
    for i, data in enumerate(frames):
        by_sender.setdefault(_checked_header(data, catalog)[4], []).append(i)
    for chash, rows in by_sender.items():
        sender = sender_catalog(frames[rows[0]], catalog)
        n = len(sender.payload_channels)
        off = payload_offset(n)
        raw = np.frombuffer(b"".join(frames[i] for i in rows), dtype=np.uint8).reshape(len(rows), frame_size(n))
        present = np.unpackbits(raw[:, HEADER_SIZE:off], axis=1, bitorder="little")[:, :n].astype(np.bool_)
        values = raw[:, off:].view("<f4").astype(np.float32)
        finite = np.isfinite(values)
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            raise FrameError(
                RejectReason.NON_FINITE,
                f"non-finite value in {sender.payload_names[col]} (batch frame {rows[row]}, catalog {chash:08x})",
            )
        values[~present] = np.nan
        out[rows] = catalog.from_payload(values, sender)
    return out


def check_values_finite(data: bytes, catalog: Catalog = CATALOG) -> None:
    """Reject a header-validated frame whose values hold NaN or infinity (cheap: no copy)."""
    n = int.from_bytes(data[OFFSET["channel_count"] : OFFSET["channel_count"] + 2], "little")
    if not np.isfinite(np.frombuffer(data, dtype="<f4", count=n, offset=payload_offset(n))).all():
        decode_values(data, catalog)  # raises with the channel names


def rows_finite(frames: Sequence[bytes], catalog: Catalog = CATALOG) -> list[bool]:
    """For full-size frames of ``catalog``: whether each one's values are all finite.

    One numpy pass over the whole batch instead of one call per frame (a per-call overhead of
    several microseconds, which at 20,000 frames/s is a tenth of a core).
    """
    n = len(catalog.payload_channels)
    size, off = frame_size(n), payload_offset(n)
    if not frames:
        return []
    rows = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), size)
    values = rows[:, off:].view("<f4")
    return np.isfinite(values).all(axis=1).tolist()  # type: ignore[no-any-return]


def validate_frame(data: bytes, catalog: Catalog = CATALOG) -> FrameHeader:
    """Everything a receiver checks before accepting a datagram; returns its header."""
    header = decode_header(data, catalog)
    check_values_finite(data, catalog)
    return header


def decode_frame(data: bytes, catalog: Catalog = CATALOG) -> Frame:
    header = decode_header(data, catalog)
    values, present = decode_values(data, catalog)
    return Frame(header, values, present)


def session_key(data: bytes) -> bytes:
    """Kafka key of a validated frame: car id and session id, so a session keeps its order."""
    return data[_CAR_ID] + data[_SESSION_ID]


def frame_session_id(data: bytes) -> int:
    """The session id of a validated frame, without decoding the rest."""
    return int.from_bytes(data[_SESSION_ID], "little", signed=True)


def frame_car_id(data: bytes) -> int:
    """The car id of a validated frame, without decoding the rest."""
    return int.from_bytes(data[_CAR_ID], "little")


# ------------------------------------------------------------------------------------------- batches
_NUMPY_FORMAT = {"4s": "S4", "B": "u1", "H": "<u2", "I": "<u4", "q": "<i8", "d": "<f8"}
HEADER_DTYPE = np.dtype([(name, _NUMPY_FORMAT[fmt]) for name, fmt in HEADER_FIELDS])
assert HEADER_DTYPE.itemsize == HEADER_SIZE


class FrameBatch(NamedTuple):
    """Frames decoded together: ``headers`` a structured array of the header fields
    (``HEADER_DTYPE``), ``values`` float32 (frames x channels) in the receiver's catalog order, NaN
    where absent; rows in input order."""

    headers: npt.NDArray[np.void]
    values: FloatArray


def decode_batch(frames: Sequence[bytes], catalog: Catalog = CATALOG) -> FrameBatch:
    """Many stored frames at once, as ``decode_frame`` decodes each (the archive reads a session's
    hundreds of thousands this way: one numpy pass per catalog version instead of a call per frame).

    Every frame is checked as ``decode_frame`` checks it; the first one that fails raises its
    ``FrameError``.
    """
    n = len(frames)
    headers = np.empty(n, dtype=HEADER_DTYPE)
    values: FloatArray | None = None
    sizes = np.fromiter((len(f) for f in frames), dtype=np.int64, count=n)
    for size in np.unique(sizes):
        idx = np.flatnonzero(sizes == size)
        if size < HEADER_SIZE:
            decode_frame(frames[int(idx[0])], catalog)  # raises with the reason
        whole = len(idx) == n  # the usual case: one frame size, read without gathering rows
        chunk = frames if whole else [frames[i] for i in idx.tolist()]
        rows = np.frombuffer(b"".join(chunk), dtype=np.uint8).reshape(len(idx), int(size))
        head = rows[:, :HEADER_SIZE].copy().view(HEADER_DTYPE).ravel()
        for chash in np.unique(head["catalog_hash"]):
            sub = np.flatnonzero(head["catalog_hash"] == chash)
            sender = catalog.known(int(chash))
            k = len(sender.payload_channels) if sender is not None else -1
            h = head[sub]
            ok = (
                sender is not None
                and int(size) == frame_size(k)
                and bool((h["magic"] == MAGIC).all())
                and bool((h["version"] == VERSION).all())
                and bool((h["channel_count"] == k).all())
                and bool((h["session_id"] > 0).all())
                and bool(np.isfinite(h["sim_time"]).all() and np.isfinite(h["lap_distance"]).all())
            )
            off = payload_offset(k) if ok else 0
            part = rows if len(sub) == len(rows) else rows[sub]
            vals = np.ascontiguousarray(part[:, off:]).view("<f4") if ok else None
            if vals is None or not np.isfinite(vals).all():
                for i in idx[sub].tolist():  # the codec names what is wrong with the first bad frame
                    decode_frame(frames[i], catalog)
                raise FrameError(RejectReason.BAD_HEADER, "a frame of this batch does not decode")
            assert sender is not None
            bits = np.unpackbits(part[:, HEADER_SIZE:off], axis=1, bitorder="little")[:, :k].astype(np.bool_)
            vals[~bits] = np.nan
            mapped = vals if sender is catalog else catalog.from_payload(vals, sender).astype(np.float32)
            if whole and len(sub) == n:
                return FrameBatch(head, mapped)
            if values is None:
                values = np.full((n, len(catalog.payload_channels)), np.nan, dtype=np.float32)
            headers[idx[sub]] = h
            values[idx[sub]] = mapped
    if values is None:
        values = np.full((n, len(catalog.payload_channels)), np.nan, dtype=np.float32)
    return FrameBatch(headers, values)
