"""Per-session sequence accounting: lost, duplicated and out-of-order frames.

Sequence numbers are 32-bit and wrap; they are unwrapped against the highest number seen so a
session can run past 2**32 frames. A sliding bitmap of the most recent ``window`` numbers tells
duplicates from late arrivals with bounded memory per session.
"""

from __future__ import annotations

from dataclasses import dataclass

MODULO = 2**32
HALF = 2**31


def unwrap(seq32: int, highest: int) -> int:
    """The unwrapped sequence number closest to ``highest`` whose low 32 bits are ``seq32``."""
    candidate = (highest & ~(MODULO - 1)) | seq32
    if candidate - highest > HALF:
        candidate -= MODULO
    elif highest - candidate > HALF:
        candidate += MODULO
    return candidate


@dataclass
class SequenceStats:
    received: int = 0  # unique frames
    duplicated: int = 0
    out_of_order: int = 0  # arrived behind a newer frame, first time seen
    too_old: int = 0  # older than the bitmap window: cannot tell, counted apart
    first: int = -1
    highest: int = -1

    @property
    def lost(self) -> int:
        """Sequence numbers between the first and the highest never seen (so far)."""
        if self.highest < 0:
            return 0
        return max(0, self.highest - self.first + 1 - self.received - self.too_old)


class SequenceTracker:
    """Classifies each arriving sequence number of one session."""

    NEW, DUPLICATE, OUT_OF_ORDER, TOO_OLD = "new", "duplicate", "out_of_order", "too_old"

    def __init__(self, window: int = 4096) -> None:
        self.window = window
        self._mask = (1 << window) - 1
        self.stats = SequenceStats()
        self._seen = 0  # bit i set: sequence (highest - i) was seen

    def observe(self, seq32: int) -> tuple[int, str]:
        s = self.stats
        if s.highest < 0:
            s.first = s.highest = seq32
            s.received = 1
            self._seen = 1
            return seq32, self.NEW
        seq = unwrap(seq32, s.highest)
        if seq > s.highest:
            shift = seq - s.highest
            self._seen = ((self._seen << shift) | 1) & self._mask if shift < self.window else 1
            s.highest = seq
            s.received += 1
            return seq, self.NEW
        age = s.highest - seq
        if age >= self.window:
            s.too_old += 1
            return seq, self.TOO_OLD
        bit = 1 << age
        if self._seen & bit:
            s.duplicated += 1
            return seq, self.DUPLICATE
        self._seen |= bit
        s.received += 1
        s.out_of_order += 1
        s.first = min(s.first, seq)
        return seq, self.OUT_OF_ORDER
