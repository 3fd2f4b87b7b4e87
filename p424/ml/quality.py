"""Data-quality checks of stored sessions: loss, late frames and incomplete laps against thresholds.

The rules are pure and use the standard library only (Airflow's environment imports this module to
word the failure); ``collect`` reads ``session_quality`` and ``laps`` from Cassandra and is called
from the platform environment.

Incomplete laps: a session's first lap may start mid-lap (a replay, a car joining) and its last lap
may still be running, so only laps between them count: an incomplete lap there means frames went
missing around a start line or processing split a lap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    max_loss_ratio: float = 0.01  # frames lost / frames sent (received + lost)
    max_late_ratio: float = 0.01  # frames late / frames received
    max_incomplete_laps: int = 0  # incomplete laps between a session's first and last lap
    min_frames: int = 50  # sessions smaller than this are reported, not judged


@dataclass(frozen=True)
class SessionQuality:
    session_id: int
    frames_received: int
    frames_lost: int
    frames_duplicated: int
    frames_late: int
    laps: int
    incomplete_inner_laps: int
    updated_at: str

    @property
    def loss_ratio(self) -> float:
        sent = self.frames_received + self.frames_lost
        return self.frames_lost / sent if sent else 0.0

    @property
    def late_ratio(self) -> float:
        return self.frames_late / self.frames_received if self.frames_received else 0.0


@dataclass(frozen=True)
class Violation:
    session_id: int
    check: str
    value: float
    threshold: float

    def message(self) -> str:
        return f"session {self.session_id}: {self.check} {self.value:.4g} exceeds {self.threshold:.4g}"


def incomplete_inner_laps(laps: Sequence[Mapping[str, Any]]) -> int:
    ordered = sorted(laps, key=lambda r: int(r["lap"]))
    return sum(1 for r in ordered[1:-1] if not r.get("complete"))


def violations(sessions: Iterable[SessionQuality], t: Thresholds) -> list[Violation]:
    out: list[Violation] = []
    for s in sessions:
        if s.frames_received < t.min_frames:
            continue
        if s.loss_ratio > t.max_loss_ratio:
            out.append(Violation(s.session_id, "frame loss ratio", s.loss_ratio, t.max_loss_ratio))
        if s.late_ratio > t.max_late_ratio:
            out.append(Violation(s.session_id, "late frame ratio", s.late_ratio, t.max_late_ratio))
        if s.incomplete_inner_laps > t.max_incomplete_laps:
            out.append(Violation(s.session_id, "incomplete laps", s.incomplete_inner_laps, t.max_incomplete_laps))
    return out


def report(sessions: Sequence[SessionQuality], t: Thresholds) -> dict[str, Any]:
    """JSON-able summary: what was checked, against what, and every violation."""
    found = violations(sessions, t)
    return {
        "checked_sessions": len(sessions),
        "thresholds": asdict(t),
        "violations": [{**asdict(v), "message": v.message()} for v in found],
        "worst": {
            "loss_ratio": max((s.loss_ratio for s in sessions), default=0.0),
            "late_ratio": max((s.late_ratio for s in sessions), default=0.0),
            "incomplete_inner_laps": max((s.incomplete_inner_laps for s in sessions), default=0),
        },
    }


def failure_message(rep: Mapping[str, Any], limit: int = 20) -> str:
    v = list(rep["violations"])
    lines = [f"data quality failed: {len(v)} violation(s) in {rep['checked_sessions']} checked session(s)"]
    lines += [f"  - {x['message']}" for x in v[:limit]]
    if len(v) > limit:
        lines.append(f"  ... and {len(v) - limit} more")
    lines.append(
        "Look at the bridge (/metrics drops), Kafka lag and the Flink job: ./launchcommand.sh status shows them."
    )
    return "\n".join(lines)


def collect(
    host: str, port: int, keyspace: str, lookback_hours: float, session_ids: Sequence[int] = ()
) -> list[SessionQuality]:
    """Quality rows of sessions updated in the last ``lookback_hours`` (0: all), with their laps."""
    from p424.config import load_config
    from p424.storage.reader import TelemetryStore

    cfg = load_config().replace(cassandra_host=host, cassandra_port=port, cassandra_keyspace=keyspace)
    since = datetime.now(UTC) - timedelta(hours=lookback_hours) if lookback_hours > 0 else None
    out: list[SessionQuality] = []
    with TelemetryStore(cfg) as store:
        rows = [store.quality(s) for s in session_ids] if session_ids else store.all_quality()
        for q in rows:
            if q is None:
                continue
            updated = q.get("updated_at")
            if since is not None and updated is not None and updated.replace(tzinfo=UTC) < since:
                continue
            laps = store.laps(int(q["session_id"]))
            out.append(
                SessionQuality(
                    int(q["session_id"]),
                    int(q.get("frames_received") or 0),
                    int(q.get("frames_lost") or 0),
                    int(q.get("frames_duplicated") or 0),
                    int(q.get("frames_late") or 0),
                    len(laps),
                    incomplete_inner_laps(laps),
                    updated.isoformat() if updated is not None else "",
                )
            )
    return out
