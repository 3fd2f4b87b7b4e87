"""Idle-timer rule of the Flink session function (the job itself is tested end to end)."""

from __future__ import annotations

from p424.processing.idle import next_idle_check


def test_a_first_frame_arms_the_idle_timer() -> None:
    assert next_idle_check(0, 10_000, 2000) == 12_000


def test_a_timer_due_within_the_idle_period_is_kept() -> None:
    assert next_idle_check(11_000, 10_000, 2000) is None


def test_a_resumed_session_is_armed_again_despite_a_far_forget_timer() -> None:
    # Regression: after a preview flush the session's timer pointed an hour ahead (the forget
    # horizon); when its frames resumed no idle timer was armed, so its last windows and lap
    # waited an hour (seen with 100 cars draining a backlog).
    assert next_idle_check(10_000 + 3_600_000, 10_000, 2000) == 12_000
