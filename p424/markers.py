"""Bits of a frame header's ``markers`` (unity_bridge/PROTOCOL.md): the simulator's, ORed per frame.

The Unity sender's C# keeps its own copy (P424TelemetrySender.cs); tests/test_unity_sender.py runs
it and checks the bits it sends.
"""

from __future__ import annotations

MARKER_TIME_RESET = 1 << 0
MARKER_DISTANCE_RESET = 1 << 1
MARKER_REPOSITION = 1 << 2
MARKER_START_LINE = 1 << 3
MARKER_SECTOR_LINE = 1 << 4
MARKER_DRIVER = 1 << 8
MARKER_OFF_TRACK = 1 << 9
MARKER_CONTACT = 1 << 10
MARKER_IMPACT = 1 << 11

# Names of the bits, as definition files (config/events.toml) refer to them.
MARKER_BITS = {
    "time_reset": MARKER_TIME_RESET,
    "distance_reset": MARKER_DISTANCE_RESET,
    "reposition": MARKER_REPOSITION,
    "start_line": MARKER_START_LINE,
    "sector_line": MARKER_SECTOR_LINE,
    "driver": MARKER_DRIVER,
    "off_track": MARKER_OFF_TRACK,
    "contact": MARKER_CONTACT,
    "impact": MARKER_IMPACT,
}
