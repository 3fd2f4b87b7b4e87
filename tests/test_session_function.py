"""Idle-timer and emission rules of the Flink session function (the job itself is tested end to end)."""

from __future__ import annotations

import numpy as np
import pytest

from p424.processing.emit import MAX_PENDING_FRAMES, EmitPolicy
from p424.processing.idle import next_idle_check
from p424.processing.outputs import Outputs, WindowRow


def test_a_first_frame_arms_the_idle_timer() -> None:
    assert next_idle_check(0, 10_000, 2000) == 12_000


def test_a_timer_due_within_the_idle_period_is_kept() -> None:
    assert next_idle_check(11_000, 10_000, 2000) is None


def test_a_resumed_session_is_armed_again_despite_a_far_forget_timer() -> None:
    # Regression: after a preview flush the session's timer pointed an hour ahead (the forget
    # horizon); when its frames resumed no idle timer was armed, so its last windows and lap
    # waited an hour (seen with 100 cars draining a backlog).
    assert next_idle_check(10_000 + 3_600_000, 10_000, 2000) == 12_000


# ---------------------------------------------------------------- emission grouping
def _windows(n: int, window_ms: int = 100) -> Outputs:
    stats = np.zeros(1, np.float32)
    w = WindowRow(
        session_id=1, car_id=1, window_ms=window_ms, lap=1, part=0, ts_ms=0, window_start=0.0, lap_time=0.0,
        lap_distance=0.0, frame_count=5, mins=stats, maxs=stats, means=stats, lasts=stats, lap_energy_drawn_kwh=0.0,
        lap_energy_regen_kwh=0.0,
    )
    return Outputs(windows=[w] * n)


def _run_at(policy: EmitPolicy, fps: int, seconds: int) -> None:
    for i in range(fps * seconds):
        policy.observe_frame(i * 1000 // fps)


def test_a_quiet_operator_emits_every_window_at_once() -> None:
    policy = EmitPolicy(interval_ms=500, smallest_window_ms=100)
    _run_at(policy, 200, 3)
    assert policy.windows_per_element == 1
    assert policy.due(_windows(1))
    assert not policy.due(Outputs())


def test_a_busy_operator_groups_half_a_second_of_windows() -> None:
    policy = EmitPolicy(interval_ms=500, smallest_window_ms=100)
    _run_at(policy, 5000, 3)
    assert policy.rate_fps == pytest.approx(5000, rel=0.01)
    assert not policy.due(_windows(4))
    assert not policy.due(_windows(1, 1000)), "larger windows ride along with the smallest"
    assert policy.due(_windows(5))


def test_frames_laps_and_alerts_are_never_held_back_by_grouping() -> None:
    policy = EmitPolicy(interval_ms=500, smallest_window_ms=100)
    _run_at(policy, 5000, 2)
    assert policy.due(Outputs(frames=[None] * MAX_PENDING_FRAMES))  # type: ignore[list-item]
    assert policy.due(Outputs(laps=[None]))  # type: ignore[list-item]
    assert policy.due(Outputs(alerts=[None]))  # type: ignore[list-item]  # alarm transitions go out at once


def test_the_rate_falls_back_when_the_stream_pauses() -> None:
    policy = EmitPolicy(interval_ms=500, smallest_window_ms=100)
    _run_at(policy, 5000, 2)
    policy.observe_frame(60_000)  # a minute later: one frame
    assert policy.windows_per_element == 1
