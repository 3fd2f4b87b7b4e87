"""The stall and recovery arithmetic of tests/faults.py on made-up progress samples."""

from __future__ import annotations

import pytest

from tests.faults import Sample, acked, impact, stored

RATE = 100  # frames sent per second in these samples


def run(stored_at: dict[float, int | None], until: float = 20.0, step: float = 0.5) -> list[Sample]:
    """Frames sent at RATE; stored as given at the listed times (held in between)."""
    out, last = [], 0
    t = 0.0
    while t <= until:
        value = stored_at.get(t, last)
        if value is not None:
            last = value
        out.append(Sample(t=t, sent=min(int(t * RATE), 1500), acked=int(t * RATE), stored=value))
        t += step
    return out


def steady(t: float, lag_s: float = 0.5) -> int:
    return max(0, int((t - lag_s) * RATE))


def test_a_stage_that_stops_for_five_seconds_after_the_fault_stalls_five_seconds_and_recovers_once_caught_up() -> None:
    stored_at: dict[float, int | None] = {t / 2: steady(t / 2) for t in range(0, 41)}
    for t in (6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 10.5):
        stored_at[t] = steady(5.5)  # nothing new from 5.5 s to 11 s
    stored_at[11.0] = steady(8.0)  # catching up ...
    stored_at[11.5] = steady(11.5)  # ... caught up
    result = impact(run(stored_at), t_fault=6.0, t_end=20.0, stage=stored)
    assert result.stall_s == pytest.approx(5.5)  # last progress 5.5 s, next 11.0 s
    assert result.recovery_s == pytest.approx(5.5)  # backlog back to 50 frames at 11.5 s
    assert result.backlog_before == 50 and result.backlog_peak == 1050 - steady(5.5)  # at 10.5 s


def test_failed_reads_and_a_restored_count_going_back_are_no_progress() -> None:
    stored_at: dict[float, int | None] = {t / 2: steady(t / 2) for t in range(0, 41)}
    stored_at.update({6.0: None, 6.5: None, 7.0: steady(3.0), 7.5: steady(4.0), 8.0: steady(8.0)})
    result = impact(run(stored_at), t_fault=6.0, t_end=20.0, stage=stored)
    assert result.stall_s == pytest.approx(2.5)  # 5.5 s -> 8.0 s: the re-stored frames are not progress


def test_a_fault_without_effect_has_no_stall_beyond_sampling_and_no_recovery() -> None:
    samples = run({t / 2: steady(t / 2) for t in range(0, 41)})
    result = impact(samples, t_fault=6.0, t_end=20.0, stage=stored)
    assert result.stall_s == pytest.approx(0.5) and result.recovery_s == 0.0
    assert impact(samples, t_fault=6.0, t_end=20.0, stage=acked).backlog_peak == 0


def test_an_idle_stage_is_not_stalled() -> None:
    # Everything sent (1500 frames by 15 s) is stored by 15.5 s; nothing is outstanding afterwards.
    samples = run({t / 2: min(steady(t / 2), 1500) for t in range(0, 41)})
    assert impact(samples, t_fault=16.0, t_end=20.0, stage=stored).stall_s == 0.0


def test_a_stage_never_read_is_an_error() -> None:
    with pytest.raises(ValueError, match="no sample"):
        impact(run({t / 2: None for t in range(0, 41)}), t_fault=6.0, t_end=20.0, stage=stored)
