"""Batch decoding of stored frames (``decode_values_many``, the analysis API's raw read) against the
one-frame decoder, on real laps written by senders of two catalog versions."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from p424.catalog import CATALOG
from p424.codec.frame import (
    FrameEncoder,
    FrameError,
    FrameHeader,
    RejectReason,
    decode_values,
    decode_values_many,
)
from tests import analysis_reference as ref

V1 = CATALOG.known(0xB512F2CA)  # catalog 1.0.0


def mixed_frames() -> list[bytes]:
    """The real excerpt as today's sender writes it, interleaved with the real fixture as a 1.0.0 sender did."""
    today, _ = ref.stint_frames([ref.excerpt_lap()], 11, 1)
    assert V1 is not None
    lap = ref.fixture_lap()
    present = np.isin(V1.payload_names, lap.channels.columns)
    encoder = FrameEncoder(present, V1)
    old = []
    for i in range(len(lap.time)):
        values = np.zeros(len(V1.payload_names), dtype=np.float32)
        for name, v in lap.channels.iloc[i].items():
            values[V1.payload_index[str(name)]] = v
        header = FrameHeader(car_id=2, session_id=12, sequence=i, sim_time=float(lap.time[i]), catalog_hash=V1.hash)
        old.append(encoder.encode(header, values))
    return [f for pair in zip(today, old, strict=False) for f in pair]


def test_a_batch_decodes_as_each_frame_does() -> None:
    frames = mixed_frames()
    got = decode_values_many(frames)
    want = np.vstack([decode_values(f)[0] for f in frames])
    np.testing.assert_array_equal(got, want)  # NaN where absent, in the same places
    assert np.isnan(got[1::2, CATALOG.payload_index["position_x"]]).all()  # 1.0.0 has no position
    assert np.isfinite(got[0::2, CATALOG.payload_index["position_x"]]).all()
    assert decode_values_many([]).shape == (0, len(CATALOG.payload_names))


def test_a_bad_frame_in_a_batch_is_refused_with_its_reason() -> None:
    frames = mixed_frames()[:10]
    bad_magic = b"XXXX" + frames[3][4:]
    with pytest.raises(FrameError) as err:
        decode_values_many([*frames, bad_magic])
    assert err.value.reason is RejectReason.BAD_MAGIC
    n = len(CATALOG.payload_names)
    off = len(frames[0]) - 4 * n
    nan = bytearray(frames[0])
    nan[off : off + 4] = struct.pack("<f", float("nan"))
    with pytest.raises(FrameError, match=f"non-finite value in {CATALOG.payload_names[0]}") as err:
        decode_values_many([frames[2], bytes(nan)])
    assert err.value.reason is RejectReason.NON_FINITE
