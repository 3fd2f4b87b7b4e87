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
