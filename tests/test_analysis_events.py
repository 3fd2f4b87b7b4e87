"""The analysis API's events and alerts, from rows shaped as the tables store them (columns and values of
p424.storage.writes' upserts), and the lap table's events column."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from p424.analysis import Session, session_alerts, session_events
from p424.analysis.events import event_counts
from p424.processing.outputs import Outputs
from p424.storage import writes
from tests.test_derived_events import crafted, run


def stored(statement: str, params: tuple[object, ...]) -> dict[str, Any]:
    columns = re.fullmatch(r"INSERT INTO ks\.\w+ \(([^)]*)\) VALUES .*", statement)
    assert columns is not None
    row = dict(zip(columns[1].split(", "), params, strict=True))
    for key in ("ts", "end_ts"):
        if key in row:
            row[key] = pd.Timestamp(row[key], unit="ms", tz="UTC").to_pydatetime()  # the driver returns datetimes
    return row


class Store:
    """The reader's queries answered from rows as Cassandra would return them."""

    def __init__(self, out: Outputs) -> None:
        st = writes.Statements("ks")
        self.event_rows = [stored(st.event, writes.event_params(e)) for e in out.events]
        self.alert_rows = [stored(st.alert, writes.alert_params(a)) for a in out.alerts]

    def session_row(self, session_id: int) -> dict[str, Any]:
        return {"session_id": session_id}

    def events(self, session_id: int) -> list[dict[str, Any]]:
        return list(reversed(self.event_rows))  # any order: the API sorts

    def alerts(self, session_id: int) -> list[dict[str, Any]]:
        return self.alert_rows


def test_session_events_list_every_event_per_lap(fixture_csv: Path) -> None:
    out = run(*crafted(fixture_csv))
    session = Session(77, Store(out), source="cassandra")  # type: ignore[arg-type]
    events = session_events(session)
    assert list(events.columns) == [
        "LapNumber", "Kind", "Corner", "StartSessionTime", "Date", "Duration", "StartDistance", "EndDistance", "Peak",
        "PeakChannel", "Complete", "Summary",
    ]
    assert list(events["Kind"]) == [
        "lockup", "lockup", "wheelspin", "off_track", "impact", "contact", "off_track", "off_track", "wheelspin",
    ]
    assert events["StartSessionTime"].is_monotonic_increasing
    assert list(session_events(session, lap=2)["Corner"]) == ["", "fl"]
    assert event_counts(events) == {1: "contact, impact, lockup x2, off_track x2, wheelspin", 2: "off_track, wheelspin"}
    assert isinstance(events["Date"].dtype, pd.DatetimeTZDtype)


def test_a_session_without_events_or_alerts_gives_empty_frames_with_the_columns(fixture_csv: Path) -> None:
    session = Session(77, Store(Outputs()), source="cassandra")  # type: ignore[arg-type]
    assert session_events(session).empty and "Kind" in session_events(session).columns
    assert session_alerts(session).empty and "Limit" in session_alerts(session).columns
    assert event_counts(session_events(session)) == {}
