"""A session that goes silent past the compaction horizon and resumes continues its figures (issue 15).

The stream job flushes a silent session (a preview of its open windows and lap), compacts it after
FLINK_COMPACT_AFTER_MS, and resumes it from the compacted state when its frames come back. These
tests drive the processor through exactly that and compare every row it writes after the resume
with what a processor that never went quiet writes; the job's timer rule is the pure
``p424.processing.idle.on_timer``. The frames are a real 50 Hz lap exported by the simulator
(tests/data, see tests/conftest.py), looped as a stint.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest

from p424.config import load_config
from p424.processing import session as session_module
from p424.processing.idle import DAY_MS, Horizons, Step, TimerDecision, horizons_of, on_timer
from p424.processing.outputs import Outputs
from p424.processing.resume import Compacted, compact, resume
from p424.processing.session import SessionProcessor
from p424.processing.state import SessionState
from tests.catalogs import channel, grown
from tests.test_processing import T0_MS, encode_stint

SILENCE_MS = 2 * 3_600_000  # longer than the compaction horizon
SESSION = 77


def plain(value: object) -> object:
    """A row as comparable plain values (arrays as lists, NaN as None), so a mismatch names its field."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [plain(x) for x in value]
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def rows(out: Outputs) -> dict[str, object]:
    return {f.name: plain(getattr(out, f.name)) for f in dataclasses.fields(out)}


def feed(proc: SessionProcessor, stream: list[tuple[bytes, int]]) -> Outputs:
    out = Outputs()
    for raw, received in stream:
        out.extend(proc.on_frame(raw, received))
    return out


def timeline(raws: list[bytes], silent_after: int) -> list[tuple[bytes, int]]:
    """Frames as received: 50 Hz, with SILENCE_MS of nothing after frame ``silent_after``."""
    return [(raw, T0_MS + i * 20 + (SILENCE_MS if i >= silent_after else 0)) for i, raw in enumerate(raws)]


def through_compaction(stream: list[tuple[bytes, int]], silent_after: int) -> tuple[Outputs, Outputs, Compacted]:
    """What the job does: frames, the idle flush, compaction, resume, the rest, the final flush.

    Returns the rows written before the compaction, those written after the resume, and the state held.
    """
    proc = SessionProcessor(SESSION, 1)
    before = feed(proc, stream[:silent_after])
    before.extend(proc.flush())
    held = compact(proc, last_seen_ms=stream[silent_after - 1][1])
    resumed = resume(pickle.loads(pickle.dumps(held)))  # through keyed state, as Flink keeps it
    after = feed(resumed, stream[silent_after:])
    after.extend(resumed.flush())
    return before, after, held


def uninterrupted(stream: list[tuple[bytes, int]], silent_after: int) -> tuple[Outputs, Outputs]:
    """The same frames and the same idle flush, the processor never compacted."""
    proc = SessionProcessor(SESSION, 1)
    before = feed(proc, stream[:silent_after])
    before.extend(proc.flush())
    after = feed(proc, stream[silent_after:])
    after.extend(proc.flush())
    return before, after


def test_a_session_resumed_mid_lap_writes_what_an_uninterrupted_one_writes(fixture_csv: Path) -> None:
    # A paused simulator, or the bridge's spool draining after a long outage: sequence and session
    # time continue where they stopped, inside an open lap and an open window.
    raws, headers, _ = encode_stint(fixture_csv, laps=3)
    silent_after = len(raws) * 3 // 2 // 3 + 3  # lap 2, mid-window
    assert headers[silent_after].lap == 2 and headers[silent_after - 1].lap == 2
    stream = timeline(raws, silent_after)
    before, after, _ = through_compaction(stream, silent_after)
    want_before, want_after = uninterrupted(stream, silent_after)
    assert rows(before) == rows(want_before)
    assert rows(after) == rows(want_after)  # quality, laps, windows, profile, events, alerts, sessions
    # The resumed frames complete the window that was open (and previewed) at the silence.
    key = (after.windows[0].window_ms, after.windows[0].lap, after.windows[0].part, after.windows[0].ts_ms)
    assert key in {(w.window_ms, w.lap, w.part, w.ts_ms) for w in before.windows}
    # The lap open at the silence is completed with all of its frames, not restarted.
    lap2 = next(lap for lap in after.laps if lap.lap == 2 and lap.complete)
    assert lap2.frames == sum(1 for h in headers if h.lap == 2)
    assert [lap.lap for lap in after.laps if lap.complete] == [2, 3]
    q = after.quality[-1]
    assert (q.frames_received, q.frames_lost, q.first_seq, q.last_seq) == (len(raws), 0, 0, len(raws) - 1)
    assert after.sessions[-1].started_at_ms == before.sessions[-1].started_at_ms  # the same session clock


def test_a_session_resumed_after_a_gap_counts_the_gap_as_lost(fixture_csv: Path) -> None:
    # Frames sent while nothing reached the job are gone: sequence and session time jump.
    raws, headers, _ = encode_stint(fixture_csv, laps=3)
    silent_after, gap = len(raws) // 2, 150
    kept = raws[:silent_after] + raws[silent_after + gap :]
    assert headers[silent_after + gap].lap == headers[silent_after].lap  # the gap stays inside one lap
    stream = timeline(kept, silent_after)
    _, after, _ = through_compaction(stream, silent_after)
    _, want_after = uninterrupted(stream, silent_after)
    assert rows(after) == rows(want_after)
    q = after.quality[-1]
    assert (q.frames_received, q.frames_lost, q.last_seq) == (len(kept), gap, len(raws) - 1)


def test_a_frame_resent_after_the_silence_is_still_a_duplicate(fixture_csv: Path) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=2)
    silent_after = 1000
    stream = timeline(raws, silent_after)
    stream.insert(silent_after, (raws[silent_after - 5], stream[silent_after][1]))  # resent by the sender
    _, after, _ = through_compaction(stream, silent_after)
    _, want_after = uninterrupted(stream, silent_after)
    assert rows(after) == rows(want_after)
    assert after.quality[-1].frames_duplicated == 1 and after.quality[-1].frames_received == len(raws)


def test_a_fresh_processor_would_overwrite_the_open_lap_with_partial_figures(fixture_csv: Path) -> None:
    """The behaviour the issue reported (state dropped after an hour), kept as the contrast."""
    raws, _, _ = encode_stint(fixture_csv, laps=3)
    silent_after = len(raws) // 2
    stream = timeline(raws, silent_after)
    _, after, _ = through_compaction(stream, silent_after)
    fresh = feed(SessionProcessor(SESSION, 1), stream[silent_after:])
    open_lap = after.laps[0].lap
    resumed_lap = next(lap for lap in after.laps if lap.lap == open_lap)
    fresh_lap = next(lap for lap in fresh.laps if lap.lap == open_lap)
    assert fresh_lap.frames < resumed_lap.frames
    assert fresh.quality[-1].frames_received < after.quality[-1].frames_received


def test_the_compacted_state_is_small(fixture_csv: Path) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=2)
    stream = timeline(raws, 1500)
    _, _, held = through_compaction(stream, 1500)
    proc = resume(held)
    full = len(pickle.dumps(SessionState(proc)))
    small = len(pickle.dumps(held))
    assert small < 3_000 and small * 3 < full, (small, full)


def test_only_a_flushed_processor_is_compacted(fixture_csv: Path) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=1)
    proc = SessionProcessor(SESSION, 1)
    feed(proc, timeline(raws[:100], 100))
    with pytest.raises(ValueError, match=f"session {SESSION} still holds .* frames .* flush it"):
        compact(proc, last_seen_ms=0)


def test_a_state_compacted_under_catalog_n_resumes_under_n_plus_1(
    fixture_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws, _, _ = encode_stint(fixture_csv, laps=1)
    proc = SessionProcessor(SESSION, 1)
    feed(proc, timeline(raws[:500], 500))
    proc.flush()
    held = compact(proc, last_seen_ms=0)
    bigger = grown(channel("brake_temperature_fl", unit="degC", group="brakes", hi=1200, key=True))
    monkeypatch.setattr(session_module, "CATALOG", bigger)  # the job redeployed with catalog N+1
    resumed = resume(held)
    assert resumed.layout_hash == bigger.hash
    assert resumed.quality() == proc.quality()


def test_compacted_state_of_another_session_is_refused() -> None:
    held = compact(SessionProcessor(5, 1), last_seen_ms=0)
    with pytest.raises(ValueError, match="compacted state of session 6"):
        resume(dataclasses.replace(held, session_id=6))


# ---------------------------------------------------------------- the job's timer rule
H = Horizons(idle_ms=2_000, compact_after_ms=3_600_000, drop_after_ms=30 * DAY_MS)
SEEN = 1_000_000


def decide(after_ms: int, *, flushed: bool = False, compacted: bool = False, quiet: bool = False) -> TimerDecision:
    return on_timer(
        now_ms=SEEN + after_ms, last_seen_ms=SEEN, flushed=flushed, compacted=compacted, quiet=quiet, horizons=H
    )


def test_a_silent_session_is_flushed_then_compacted_then_dropped() -> None:
    assert decide(1_000) == TimerDecision(step=Step.WAIT, next_timer_ms=SEEN + 1_000 + H.idle_ms)
    assert decide(2_000, quiet=True) == TimerDecision(step=Step.FLUSH, next_timer_ms=SEEN + H.compact_after_ms)
    assert decide(60_000, flushed=True) == TimerDecision(step=Step.WAIT, next_timer_ms=SEEN + H.compact_after_ms)
    assert decide(H.compact_after_ms, flushed=True) == TimerDecision(
        step=Step.COMPACT, next_timer_ms=SEEN + H.drop_after_ms
    )
    assert decide(H.compact_after_ms + 1, compacted=True) == TimerDecision(
        step=Step.WAIT, next_timer_ms=SEEN + H.drop_after_ms
    )
    assert decide(H.drop_after_ms, compacted=True) == TimerDecision(step=Step.DROP, next_timer_ms=None)


def test_a_checkpoint_from_before_compaction_is_compacted_not_dropped() -> None:
    # Such state (SessionState, flushed, no compacted form) was cleared after an hour; now it is kept.
    assert decide(H.compact_after_ms + 5_000, flushed=True).step is Step.COMPACT
    assert decide(H.drop_after_ms, flushed=True).step is Step.DROP


def test_a_session_is_never_let_go_before_its_preview() -> None:
    assert decide(H.drop_after_ms).step is Step.WAIT
    assert decide(H.drop_after_ms, quiet=True).step is Step.FLUSH


def test_the_settings_give_growing_horizons() -> None:
    h = horizons_of(load_config(environ={}))  # toolchain-config.env as shipped
    assert h.idle_ms < h.compact_after_ms < h.drop_after_ms
    with pytest.raises(ValueError, match=r"FLINK_COMPACT_AFTER_MS .* got 2000 ms, 1000 ms"):
        Horizons(idle_ms=2_000, compact_after_ms=1_000, drop_after_ms=DAY_MS)
