"""Analysis API over stored telemetry, shaped like FastF1 (session -> laps -> telemetry as pandas)."""

from p424.analysis.core import Lap, Laps, Session, Telemetry, compare_laps, delta_time, get_session, list_sessions
from p424.analysis.events import session_alerts, session_events

__all__ = [
    "Lap",
    "Laps",
    "Session",
    "Telemetry",
    "compare_laps",
    "delta_time",
    "get_session",
    "list_sessions",
    "session_alerts",
    "session_events",
]
