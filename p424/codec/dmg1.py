"""The simulator's existing motion-platform datagram (DMG1) as a compatibility input.

An unmodified PERRINN 424 simulator sends 72-byte datagrams of nine little-endian float64 with no
header: accelX, accelY, accelZ, angAccelX, angAccelY, angAccelZ, steeringTorque, carSpeed,
simulationTime. They carry no session, sequence, lap or powertrain data, so the bridge wraps them
into protocol-v1 frames with a synthesised session and sequence (``FLAG_SYNTHESISED``).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from p424.codec.frame import FrameError, RejectReason

DMG1 = struct.Struct("<9d")
DMG1_SIZE = DMG1.size  # 72

# DMG1 field order -> catalog channel names (simulationTime goes to the header's sim_time).
DMG1_CHANNELS = (
    "accel_longitudinal",
    "accel_lateral",
    "accel_vertical",
    "roll_acceleration",
    "pitch_acceleration",
    "yaw_acceleration",
    "steering_torque",
    "speed",
)


@dataclass(frozen=True)
class MotionSample:
    sim_time: float
    values: dict[str, float]


def decode_dmg1(data: bytes) -> MotionSample:
    if len(data) != DMG1_SIZE:
        raise FrameError(RejectReason.SIZE_MISMATCH, f"DMG1 datagrams are {DMG1_SIZE} bytes, got {len(data)}")
    fields = DMG1.unpack(data)
    if not all(math.isfinite(f) for f in fields):
        raise FrameError(RejectReason.NON_FINITE, "DMG1 datagram holds a non-finite value")
    *channels, sim_time = fields
    return MotionSample(sim_time=sim_time, values=dict(zip(DMG1_CHANNELS, channels, strict=False)))


def encode_dmg1(sim_time: float, values: dict[str, float]) -> bytes:
    """What the simulator sends; used by tests and by the compatibility example."""
    return DMG1.pack(*(values.get(name, 0.0) for name in DMG1_CHANNELS), sim_time)
