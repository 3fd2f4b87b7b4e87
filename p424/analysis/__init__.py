"""Analysis API over stored telemetry, shaped like FastF1 (session -> laps -> telemetry as pandas)."""

from p424.analysis.compare import CatalogChannels, ChannelSource, Comparison, LapRef, TrackMismatchError, compare
from p424.analysis.core import (
    Lap,
    Laps,
    Session,
    Telemetry,
    compare_laps,
    delta_time,
    get_session,
    list_sessions,
    mini_sectors,
)
from p424.analysis.events import session_alerts, session_events
from p424.analysis.minisectors import MiniSectorSettings, Status, TheoreticalBest

__all__ = [
    "CatalogChannels",
    "ChannelSource",
    "Comparison",
    "Lap",
    "LapRef",
    "Laps",
    "MiniSectorSettings",
    "Session",
    "Status",
    "Telemetry",
    "TheoreticalBest",
    "TrackMismatchError",
    "compare",
    "compare_laps",
    "delta_time",
    "get_session",
    "list_sessions",
    "mini_sectors",
    "session_alerts",
    "session_events",
]
