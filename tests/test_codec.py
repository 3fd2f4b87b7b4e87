"""Frame codec: round trips, validation, and a decoder that never crashes on any byte string."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p424.catalog import CATALOG, CHANNELS, Catalog
from p424.codec.dmg1 import DMG1_CHANNELS, decode_dmg1, encode_dmg1
from p424.codec.frame import (
    HEADER_SIZE,
    MAX_DATAGRAM,
    OFFSET,
    FrameEncoder,
    FrameError,
    FrameHeader,
    RejectReason,
    decode_frame,
    encode_frame,
    frame_size,
    rows_finite,
    validate_frame,
)
from tests.catalogs import channel
from unity_bridge.intake import Accepted, Dmg1Adapter, Rejected, classify, classify_batch, classify_dmg1

N = len(CATALOG.payload_channels)
finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def frames(draw: st.DrawFn) -> tuple[FrameHeader, np.ndarray]:
    header = FrameHeader(
        car_id=draw(st.integers(0, 2**16 - 1)),
        session_id=draw(st.integers(1, 2**63 - 1)),
        sequence=draw(st.integers(0, 2**32 - 1)),
        sim_time=draw(st.floats(0, 1e6)),
        lap=draw(st.integers(0, 2**16 - 1)),
        lap_distance=draw(st.floats(0, 3e4)),
        markers=draw(st.integers(0, 2**32 - 1)),
    )
    values = np.array([draw(st.one_of(st.just(math.nan), finite32)) for _ in range(N)], dtype=np.float32)
    return header, values


@given(frames())
def test_round_trip_preserves_header_values_and_presence(frame: tuple[FrameHeader, np.ndarray]) -> None:
    header, values = frame
    data = encode_frame(header, values)
    assert len(data) == frame_size(N) <= MAX_DATAGRAM
    decoded = decode_frame(data)
    assert decoded.header == header
    np.testing.assert_array_equal(np.isnan(decoded.values), np.isnan(values))
    np.testing.assert_array_equal(decoded.values[~np.isnan(values)], values[~np.isnan(values)])
    assert FrameEncoder(~np.isnan(values)).encode(header, np.nan_to_num(values)) == data


@settings(max_examples=1500)
@given(st.binary(max_size=2 * MAX_DATAGRAM))
def test_decoder_never_crashes_on_arbitrary_bytes(data: bytes) -> None:
    try:
        decode_frame(data)
    except FrameError as err:
        assert isinstance(err.reason, RejectReason)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(frames(), st.data())
def test_decoder_never_crashes_on_corrupted_frames(frame: tuple[FrameHeader, np.ndarray], data: st.DataObject) -> None:
    raw = bytearray(encode_frame(*frame))
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(FrameError):
        decode_frame(bytes(raw[:cut]))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b[:40], RejectReason.TRUNCATED),
        (lambda b: b[:-1], RejectReason.TRUNCATED),
        (lambda b: b + bytes(MAX_DATAGRAM), RejectReason.OVERSIZED),
        (lambda b: b"XXXX" + b[4:], RejectReason.BAD_MAGIC),
        (lambda b: b[:4] + bytes([9]) + b[5:], RejectReason.UNSUPPORTED_VERSION),
        (lambda b: b[: OFFSET["catalog_hash"]] + struct.pack("<I", 12345) + b[OFFSET["catalog_hash"] + 4 :], RejectReason.UNKNOWN_CATALOG),
        (lambda b: b + b"\0\0\0\0", RejectReason.SIZE_MISMATCH),
        (lambda b: b[:16] + struct.pack("<q", -5) + b[24:], RejectReason.BAD_HEADER),
        (lambda b: b[:32] + struct.pack("<d", math.inf) + b[40:], RejectReason.NON_FINITE),
        (lambda b: b[:-4] + struct.pack("<f", math.nan), RejectReason.NON_FINITE),
    ],
)
def test_each_reject_reason(mutate, reason: RejectReason) -> None:  # type: ignore[no-untyped-def]
    good = encode_frame(FrameHeader(1, 7, 0, 1.0), {"speed": 50.0})
    with pytest.raises(FrameError) as err:
        validate_frame(mutate(good))
    assert err.value.reason is reason


def test_encoder_refuses_what_the_decoder_would_reject() -> None:
    with pytest.raises(FrameError) as err:
        encode_frame(FrameHeader(1, 0, 0, 1.0), {"speed": 1.0})
    assert err.value.reason is RejectReason.BAD_HEADER
    with pytest.raises(FrameError):
        encode_frame(FrameHeader(70000, 1, 0, 1.0), {})
    with pytest.raises(FrameError) as err:
        encode_frame(FrameHeader(1, 1, 0, 1.0), {"speed": math.inf})
    assert "speed" in err.value.detail
    with pytest.raises(KeyError):
        encode_frame(FrameHeader(1, 1, 0, 1.0), {"not_a_channel": 1.0})


def test_catalog_hash_changes_with_layout_not_with_display_metadata() -> None:
    last = CHANNELS[-1]
    renamed = Catalog([*CHANNELS[:-1], dataclasses.replace(last, name=last.name + "2")], "0.0.1")
    relabelled = Catalog(
        [*CHANNELS[:-1], dataclasses.replace(last, group="other", lo=-5, hi=500, description="another", sim_name="X")],
        "0.0.2",
    )
    assert renamed.hash != CATALOG.hash
    assert relabelled.hash == CATALOG.hash
    # A decoder that has never known the sender's catalog refuses its frames, naming the sender's hash.
    appended = Catalog([*CHANNELS, channel("new_channel", unit="V")], "0.0.3")
    frame = encode_frame(FrameHeader(1, 7, 0, 1.0), {"speed": 3.0})
    with pytest.raises(FrameError) as err:
        decode_frame(frame, appended)
    assert err.value.reason is RejectReason.UNKNOWN_CATALOG
    assert CATALOG.hash_hex in err.value.detail


def test_catalog_validation() -> None:
    with pytest.raises(ValueError, match="twice"):
        Catalog([*CHANNELS, CHANNELS[-1]], "0.0.1")
    with pytest.raises(ValueError, match="snake_case"):
        Catalog([*CHANNELS, channel("Bad-Name")], "0.0.1")


def test_header_is_48_bytes_and_frames_fit_one_datagram() -> None:
    assert HEADER_SIZE == 48
    assert frame_size(N) <= MAX_DATAGRAM


def test_dmg1_maps_onto_catalog_channels_and_gets_a_session_per_source() -> None:
    values = dict(zip(DMG1_CHANNELS, [1.5, -2.0, 0.1, 0.2, 0.3, 0.4, 5.0, 61.0], strict=False))
    raw = encode_dmg1(12.5, values)
    assert len(raw) == 72
    sample = decode_dmg1(raw)
    assert sample.sim_time == 12.5 and sample.values == values
    adapter = Dmg1Adapter(car_id=3)
    sim = ("10.0.0.1", 5000)
    a = classify_dmg1(raw, sim, adapter)
    b = classify_dmg1(encode_dmg1(12.52, values), sim, adapter)
    c = classify_dmg1(encode_dmg1(0.0, values), sim, adapter)  # simulator restarted
    d = classify_dmg1(raw, ("10.0.0.2", 5000), adapter)
    assert isinstance(a, Accepted) and isinstance(b, Accepted) and isinstance(c, Accepted) and isinstance(d, Accepted)
    assert a.ids.session_id == b.ids.session_id != c.ids.session_id
    assert d.ids.session_id != a.ids.session_id
    assert (a.ids.sequence, b.ids.sequence) == (0, 1)
    assert a.ids.catalog_hash == CATALOG.hash
    frame = decode_frame(a.frame)
    assert frame.value("speed") == 61.0 and frame.value("accel_lateral") == -2.0 and frame.value("throttle") is None
    bad = classify_dmg1(struct.pack("<9d", *([math.nan] * 9)), sim, adapter)
    assert isinstance(bad, Rejected) and bad.reason is RejectReason.NON_FINITE
    short = classify_dmg1(raw[:-8], sim, adapter)
    assert isinstance(short, Rejected) and short.reason is RejectReason.SIZE_MISMATCH


def test_the_frame_socket_never_takes_a_dmg1_datagram_for_motion_data() -> None:
    """PROTOCOL.md: what a datagram is follows from the socket it arrived on, never from its content."""
    motion = encode_dmg1(3.0, dict.fromkeys(DMG1_CHANNELS, 1.0))
    result = classify(motion)
    assert isinstance(result, Rejected) and result.reason is RejectReason.BAD_MAGIC


# Up to 12 full-catalog frames an example: on a loaded machine generating them trips Hypothesis's speed check.
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(frames(), st.integers(0, 4), st.integers(0, 400)), max_size=12))
def test_batch_classification_matches_one_by_one(items: list[tuple[tuple[FrameHeader, np.ndarray], int, int]]) -> None:
    """The bridge's batched fast path gives each datagram exactly the outcome ``classify`` gives it."""
    datagrams = []
    for (header, values), damage, where in items:
        raw = bytearray(encode_frame(header, values))
        if damage == 1:  # a non-finite value
            struct.pack_into("<f", raw, len(raw) - 4 * (1 + where % N), math.inf)
        elif damage == 2:  # one corrupted byte, frame size unchanged
            raw[where % len(raw)] ^= 0xA5
        elif damage == 3:  # truncated
            raw = raw[: where % len(raw)]
        elif damage == 4:  # a DMG1 motion datagram sent to the wrong port
            raw = bytearray(encode_dmg1(where / 10, dict.fromkeys(DMG1_CHANNELS, float(where))))
        datagrams.append(bytes(raw))
    batch = classify_batch(datagrams)
    single = [classify(d) for d in datagrams]
    assert batch == single


def test_rows_finite_flags_each_frame() -> None:
    h = FrameHeader(car_id=1, session_id=5, sequence=0, sim_time=1.0)
    good = encode_frame(h, np.zeros(N, dtype=np.float32))
    bad = bytearray(good)
    struct.pack_into("<f", bad, len(bad) - 4, math.nan)
    assert rows_finite([good, bytes(bad), good]) == [True, False, True]
    assert rows_finite([]) == []
