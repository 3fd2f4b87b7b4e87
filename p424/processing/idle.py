"""When to check a session for silence: the timer rule of the Flink session function, kept pure."""

from __future__ import annotations


def next_idle_check(timer_ms: int, now_ms: int, idle_ms: int) -> int | None:
    """When to arm the session's idle timer on a new frame, or None if the armed one will do.

    A timer already due within ``idle_ms`` will do. One further out (the forget-after timer armed
    while the session was silent) will not: a resumed session must be checked for silence again,
    or its last windows and lap would wait for the forget horizon.
    """
    if now_ms < timer_ms <= now_ms + idle_ms:
        return None
    return now_ms + idle_ms
