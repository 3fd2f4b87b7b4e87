"""When to check a session for silence, and what to do when its timer fires: the timer rules of
the Flink session function, kept pure.

A session's life in the job's keyed state: active; silent for the idle timeout -> flushed (its
open windows and lap previewed, still resumable); silent for ``compact_after_ms`` -> compacted
(``p424.processing.resume``: small, still resumable); silent for ``drop_after_ms`` -> dropped.
Until it is dropped, frames that resume a session continue its figures; so the job's state holds
at most the sessions that sent a frame within ``drop_after_ms``, each compacted after the first hour.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from p424.config import Config

DAY_MS = 86_400_000


def next_idle_check(timer_ms: int, now_ms: int, idle_ms: int) -> int | None:
    """When to arm the session's idle timer on a new frame, or None if the armed one will do.

    A timer already due within ``idle_ms`` will do. One further out (the compaction or drop timer
    armed while the session was silent) will not: a resumed session must be checked for silence
    again, or its last windows and lap would wait for that horizon.
    """
    if now_ms < timer_ms <= now_ms + idle_ms:
        return None
    return now_ms + idle_ms


@dataclass(frozen=True, kw_only=True)
class Horizons:
    idle_ms: int  # silent this long: flushed
    compact_after_ms: int  # silent this long (and flushed): compacted
    drop_after_ms: int  # silent this long: the state is dropped; later frames start the session afresh

    def __post_init__(self) -> None:
        if not 0 < self.idle_ms < self.compact_after_ms < self.drop_after_ms:
            raise ValueError(
                "session horizons must grow: 0 < SESSION_IDLE_TIMEOUT_S < FLINK_COMPACT_AFTER_MS < "
                f"FLINK_RESUME_HORIZON_DAYS, got {self.idle_ms} ms, {self.compact_after_ms} ms, {self.drop_after_ms} ms"
            )


def horizons_of(cfg: Config) -> Horizons:
    """The settings' horizons (SESSION_IDLE_TIMEOUT_S, FLINK_COMPACT_AFTER_MS, FLINK_RESUME_HORIZON_DAYS)."""
    return Horizons(
        idle_ms=cfg.session_idle_timeout_s * 1000,
        compact_after_ms=cfg.flink_compact_after_ms,
        drop_after_ms=cfg.flink_resume_horizon_days * DAY_MS,
    )


class Step(enum.Enum):
    WAIT = "wait"  # nothing to do yet
    FLUSH = "flush"  # preview the open windows and lap
    COMPACT = "compact"  # keep the flushed processor compacted
    DROP = "drop"  # forget the session


@dataclass(frozen=True, kw_only=True)
class TimerDecision:
    step: Step
    next_timer_ms: int | None  # when to look again; None once dropped


def on_timer(
    *, now_ms: int, last_seen_ms: int, flushed: bool, compacted: bool, quiet: bool, horizons: Horizons
) -> TimerDecision:
    """What a session's timer does at ``now_ms``.

    ``quiet``: the session is judged silent (the operator has seen later data, or the whole stream
    went quiet); ``flushed``: its preview is out and no frame came since; ``compacted``: it is
    held compacted.
    """
    idle = now_ms - last_seen_ms
    compact_at = last_seen_ms + horizons.compact_after_ms
    drop_at = last_seen_ms + horizons.drop_after_ms
    if not (flushed or compacted):  # a session's figures are previewed before anything is let go
        if quiet:
            return TimerDecision(step=Step.FLUSH, next_timer_ms=compact_at)
        return TimerDecision(step=Step.WAIT, next_timer_ms=now_ms + horizons.idle_ms)
    if idle >= horizons.drop_after_ms:
        return TimerDecision(step=Step.DROP, next_timer_ms=None)
    if compacted:
        return TimerDecision(step=Step.WAIT, next_timer_ms=drop_at)
    if idle >= horizons.compact_after_ms:
        return TimerDecision(step=Step.COMPACT, next_timer_ms=drop_at)
    return TimerDecision(step=Step.WAIT, next_timer_ms=compact_at)
