"""When a session's pending outputs go to the sink: the emission rule of the Flink session function.

Every element the sink receives costs a fixed overhead (driver requests, callbacks, an event-loop
wakeup) on top of its rows. Emitting each 100 ms window on its own keeps the live path as fresh
as possible but caps throughput near 2,000 frames/s on two cores; grouping a session's windows
amortises the overhead. So the rule adapts: while the operator is quiet every window goes out at
once, and once it sees more than ``busy_fps`` frames per second it groups up to ``interval_ms`` of
each session's windows (adding at most that much latency). Pure and clock-injected for tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from p424.processing.outputs import Outputs

MAX_PENDING_FRAMES = 64  # raw frames go out in per-session batches of at most this many


@dataclass
class EmitPolicy:
    interval_ms: int  # grouping under load, in session time (multiples of the smallest window)
    smallest_window_ms: int
    busy_fps: float = 1000.0
    rate_fps: float = 0.0  # operator-wide frames per second, over the last whole second
    _count: int = 0
    _since_ms: int = 0

    def observe_frame(self, now_ms: int) -> None:
        """Count one frame into the operator-wide rate."""
        self._count += 1
        elapsed = now_ms - self._since_ms
        if elapsed >= 1000:
            # Averaged over the whole span, so a pause brings the rate down at the next frame.
            self.rate_fps = self._count * 1000.0 / elapsed
            self._count, self._since_ms = 0, now_ms

    @property
    def windows_per_element(self) -> int:
        if self.rate_fps < self.busy_fps:
            return 1
        return max(1, self.interval_ms // self.smallest_window_ms)

    def due(self, pending: Outputs) -> bool:
        """Whether a session's pending outputs should go to the sink now."""
        if len(pending.frames) >= MAX_PENDING_FRAMES or pending.laps or pending.alerts:
            return True  # alarm transitions go out at once, like laps
        closed = sum(1 for w in pending.windows if w.window_ms == self.smallest_window_ms)
        return closed >= self.windows_per_element
