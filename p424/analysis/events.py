"""A stored session's lap events and alarm transitions as pandas (what the stream job derives: p424.derived).

    from p424.analysis import get_session, session_alerts, session_events

    session = get_session(session_id)
    events = session_events(session)            # LapNumber, Kind, Corner, StartDistance, Duration, Peak, ...
    lap2 = session_events(session, lap=2)
    alerts = session_alerts(session)            # every raise and clear, in session time

Distances are lap distances (m), times session time (s) as in ``Lap`` and ``Telemetry``; ``Date``
is the session wall clock. An event with ``Complete`` false was still open when the session went
silent (the stream stopped mid-event).
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from p424.analysis.core import Session

EVENT_COLUMNS = {
    "lap": "LapNumber",
    "kind": "Kind",
    "corner": "Corner",
    "start_sim_time": "StartSessionTime",
    "ts": "Date",
    "duration": "Duration",
    "start_distance": "StartDistance",
    "end_distance": "EndDistance",
    "peak": "Peak",
    "peak_channel": "PeakChannel",
    "complete": "Complete",
    "summary": "Summary",
}
ALERT_COLUMNS = {
    "sim_time": "SessionTime",
    "ts": "Date",
    "lap": "LapNumber",
    "limit_name": "Limit",
    "kind": "Kind",
    "severity": "Severity",
    "channel": "Channel",
    "stat": "Stat",
    "value": "Value",
    "threshold": "Threshold",
    "unit": "Unit",
    "since_sim_time": "SinceSessionTime",
    "lap_distance": "Distance",
    "summary": "Summary",
}


def _frame(rows: list[dict[str, object]], columns: dict[str, str], order: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=list(columns.values()))
    df = pd.DataFrame(rows)[list(columns)].rename(columns=columns)
    df["Date"] = pd.to_datetime(df["Date"], utc=True)
    return df.sort_values(order).reset_index(drop=True)


def session_events(session: Session, lap: int | None = None) -> pd.DataFrame:
    """The session's lap events (of one lap when ``lap`` is given), by lap and start."""
    df = _frame(session.store.events(session.session_id), EVENT_COLUMNS, ["LapNumber", "StartSessionTime"])
    return df[df["LapNumber"] == lap].reset_index(drop=True) if lap is not None else df


def session_alerts(session: Session) -> pd.DataFrame:
    """The session's alarm raises and clears, in session time."""
    return _frame(session.store.alerts(session.session_id), ALERT_COLUMNS, ["SessionTime", "Limit"])


def event_counts(events: pd.DataFrame) -> dict[int, str]:
    """Per lap, its events counted by kind: ``{2: "lockup x2, off_track"}`` (the lap table's column)."""
    out: dict[int, str] = {}
    for lap, group in events.groupby("LapNumber"):
        counts = Counter(group["Kind"])
        out[int(str(lap))] = ", ".join(k if n == 1 else f"{k} x{n}" for k, n in sorted(counts.items()))
    return out
