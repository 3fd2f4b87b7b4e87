"""Measuring what a fault does to a stream: progress samples, and the stall and recovery they show.

While a test streams a session, a ``ProgressRecorder`` samples three counters a few times a second:
frames sent to the bridge, frames the bridge has had acknowledged by Kafka (accepted minus what its
spool still holds unacknowledged, from its /health), and frames the Flink job has accounted for in
Cassandra (``session_quality.frames_received``, which the sink writes with every batch). ``impact`` turns the samples around a fault into the two
figures the node-loss tests report: the stall (the longest time a stage made no progress while
frames were waiting for it) and the recovery (from the fault until that stage's backlog was back to
what it was before the fault). The arithmetic is pure and unit-tested (tests/test_faults.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests


@dataclass(frozen=True, kw_only=True)
class Sample:
    t: float  # seconds since the recorder started
    sent: int  # frames sent to the bridge so far
    acked: int | None  # frames the bridge has had acknowledged by Kafka (None: it did not answer)
    stored: int | None  # frames the job has stored for the session (None: the read failed)


@dataclass(frozen=True, kw_only=True)
class Impact:
    stall_s: float  # the longest time the stage made no progress with frames waiting for it
    recovery_s: float  # from the fault until its backlog was back to the level before the fault
    backlog_before: int  # the largest backlog (frames) in the seconds before the fault
    backlog_peak: int  # the largest backlog after the fault

    def as_json(self) -> dict[str, float | int]:
        return {
            "stall_s": round(self.stall_s, 2),
            "recovery_s": round(self.recovery_s, 2),
            "backlog_before_frames": self.backlog_before,
            "backlog_peak_frames": self.backlog_peak,
        }


Stage = Callable[[Sample], int | None]


def stored(s: Sample) -> int | None:
    return s.stored


def acked(s: Sample) -> int | None:
    return s.acked


def impact(
    samples: Sequence[Sample],
    t_fault: float,
    t_end: float,
    stage: Stage,
    before_s: float = 4.0,
    baseline: int | None = None,
) -> Impact:
    """What the fault at ``t_fault`` did to ``stage`` (its progress counter) up to ``t_end``.

    Progress is the counter's running maximum, so a restored job re-storing frames it had stored
    before (its count restarts from the checkpoint) counts as no progress. The backlog is frames
    sent minus that progress; recovered means back to ``baseline`` (default: the largest backlog in
    the ``before_s`` seconds before the fault; pass the steady backlog when faults follow each other).
    """
    progress: list[tuple[Sample, int]] = []
    best = 0
    for s in samples:
        value = stage(s)
        if value is not None:
            best = max(best, value)
            progress.append((s, best))
    if not progress:
        raise ValueError("no sample of this stage was read")
    before = [s.sent - p for s, p in progress if t_fault - before_s <= s.t < t_fault]
    backlog_before = max(before, default=0) if baseline is None else baseline
    window = [(s, p) for s, p in progress if t_fault <= s.t <= t_end]
    # The stall: gaps between progress events, counted from the last progress before the fault and
    # only while frames were outstanding (an idle stage is not stalled).
    last_progress_t, last_value = t_fault, 0
    for s, p in progress:
        if s.t > t_fault:
            break
        if p > last_value:
            last_progress_t, last_value = s.t, p
    stall = 0.0
    for s, p in window:
        if p > last_value:
            stall = max(stall, s.t - last_progress_t)
            last_progress_t, last_value = s.t, p
        elif s.sent > p:
            stall = max(stall, s.t - last_progress_t)
    backlogs = [(s.t, s.sent - p) for s, p in window]
    peak_t, peak = max(backlogs, key=lambda b: b[1], default=(t_fault, 0))
    if peak <= backlog_before:
        return Impact(stall_s=stall, recovery_s=0.0, backlog_before=backlog_before, backlog_peak=peak)
    recovered = next((t for t, b in backlogs if t >= peak_t and b <= backlog_before), None)
    recovery = (recovered if recovered is not None else t_end) - t_fault
    return Impact(stall_s=stall, recovery_s=recovery, backlog_before=backlog_before, backlog_peak=peak)


class ProgressRecorder(threading.Thread):
    """Samples sent / acked / stored every ``interval_s`` until stopped.

    ``record_bytes`` is the size of one frame's spool record (unity_bridge.spool.record_size), which
    turns the bridge's unacknowledged spool bytes into frames.
    """

    def __init__(
        self,
        sent: Callable[[], int],
        stored_frames: Callable[[], int | None],
        bridge_health_url: str,
        record_bytes: int,
        interval_s: float = 0.25,
    ) -> None:
        super().__init__(name="progress-recorder", daemon=True)
        self.sent = sent
        self.stored_frames = stored_frames
        self.url = bridge_health_url
        self.record_bytes = record_bytes
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self.t0 = time.monotonic()
        self.acked_at_start = self._acked() or 0
        self.stopping = threading.Event()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _acked(self) -> int | None:
        try:
            health = requests.get(self.url, timeout=1).json()
            return int(health["accepted"]) - int(health["spool_backlog_bytes"]) // self.record_bytes
        except (requests.RequestException, ValueError, KeyError):
            return None

    def _stored(self) -> int | None:
        try:
            return self.stored_frames()
        except Exception:  # a read failing while a node is lost is data, not an error
            return None

    def run(self) -> None:
        while not self.stopping.is_set():
            acked = self._acked()
            self.samples.append(
                Sample(
                    t=self.now(),
                    sent=self.sent(),
                    acked=None if acked is None else acked - self.acked_at_start,
                    stored=self._stored(),
                )
            )
            self.stopping.wait(self.interval_s)

    def stop(self) -> list[Sample]:
        self.stopping.set()
        self.join(timeout=10)
        return list(self.samples)
