"""Maths channels, lap events and alarms through the running stack: bridge -> Kafka -> Flink -> Cassandra and
telemetry.alerts.v1. Needs the job of this branch deployed (and `provision` run: migration 0004 and the
maths columns), so it fails against a stack running older code.

The session is the crafted real-lap stint of tests/test_derived_events.py (lock-ups, wheelspin, an
off-track excursion across the line, an impact, a contact) with the battery at 63 degC for 4 s. What
the stack stores is compared with the same frames run through SessionProcessor in this process (whose
events, alarms and maths statistics the unit tests check exactly) and with pandas.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from p424 import derived
from p424.analysis import get_session, session_alerts, session_events
from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from tests.helpers import Stack, unique_session_id, wait_for
from tests.reference import reference_maths
from tests.test_derived_events import crafted
from tests.test_pipeline import send, stored_quality

pytestmark = pytest.mark.platform


def session_frames(csv: Path, sid: int) -> tuple[list[bytes], np.ndarray, pd.DataFrame, Outputs]:
    headers, values = crafted(csv)
    headers = [dataclasses.replace(h, session_id=sid) for h in headers]
    values[:, CATALOG.payload_index["battery_temperature"]] = 40.0
    values[600:800, CATALOG.payload_index["battery_temperature"]] = 63.0  # 4 s above 60 degC, then 40 again
    enc = FrameEncoder(~np.isnan(values[0]))
    frames = [enc.encode(h, v) for h, v in zip(headers, values, strict=True)]
    proc = SessionProcessor(sid, 1)
    expected = Outputs()
    for i, raw in enumerate(frames):
        expected.extend(proc.on_frame(raw, 1_790_000_000_000 + i * 20))
    expected.extend(proc.flush())
    df = pd.DataFrame(values.astype(np.float64), columns=list(CATALOG.payload_names))
    df["sim_time"] = [h.sim_time for h in headers]
    df["lap"] = [h.lap for h in headers]
    df["lap_distance"] = [h.lap_distance for h in headers]
    return frames, values, df, expected


def test_maths_events_and_alerts_are_stored_and_published(stack: Stack, fixture_csv: Path) -> None:
    sid = unique_session_id()
    frames, _, df, expected = session_frames(fixture_csv, sid)
    assert {(a.limit_name, a.kind) for a in expected.alerts} == {
        ("battery_temperature_high", "raise"),
        ("battery_temperature_high", "clear"),
    }
    alerts_topic = stack.cfg.kafka_topic_alerts
    windows_topic = stack.cfg.kafka_topic_windows
    alert_offsets, window_offsets = stack.end_offsets(alerts_topic), stack.end_offsets(windows_topic)
    send(stack, frames)
    wait_for(lambda: stored_quality(stack, sid, len(frames)), 300, "every frame to reach Cassandra")
    key = str(sid).encode()

    # Lap events: the processor's list, stored once each.
    stored_events = wait_for(
        lambda: (rows if len(rows := stack.store.events(sid)) >= len(expected.events) else None), 60, "lap events"
    )
    got = sorted(
        (r["lap"], r["kind"], r["corner"], round(r["start_sim_time"], 6), round(r["duration"], 6)) for r in stored_events
    )
    want = sorted((e.lap, e.kind, e.corner, round(e.start_sim_time, 6), round(e.duration, 6)) for e in expected.events)
    assert got == want and all(r["complete"] for r in stored_events)

    # Alarms: in Cassandra by session and by limit, and on the alerts topic, keyed by session.
    stored_alerts = stack.store.alerts(sid)
    assert [(r["limit_name"], r["kind"], round(r["sim_time"], 6)) for r in stored_alerts] == [
        (a.limit_name, a.kind, round(a.sim_time, 6)) for a in expected.alerts
    ]
    recent = stack.store.session.execute(
        f"SELECT session_id, kind, raised FROM {stack.store.ks}.recent_alerts WHERE limit_name = %s",
        ("battery_temperature_high",),
        timeout=30,
    )
    assert [(r["kind"], r["raised"]) for r in recent if r["session_id"] == sid] == [("raise", 1), ("clear", 0)]
    records = stack.records_since(alerts_topic, alert_offsets, until_count=2, key=key)
    messages = [json.loads(r.value) for r in records]
    assert [(m["limit_name"], m["kind"], m["unit"]) for m in messages] == [
        ("battery_temperature_high", "raise", "degC"),
        ("battery_temperature_high", "clear", "degC"),
    ]

    # Maths channels: through the analysis API (the blob), in the 1 s columns Grafana reads, live.
    names = derived.default().maths.names
    ref = pd.DataFrame(reference_maths(df)).assign(lap=df["lap"], sim_time=df["sim_time"])
    session = get_session(sid, stack.store)
    lap = session.laps.pick_lap(1)
    for window_ms in (100, 1000):
        tel = lap.get_telemetry(channels=["power_mgu_total", "mgu_loss_total", "speed"], window_ms=window_ms)
        keyed = ref[ref["lap"] == 1].groupby(np.floor(ref["sim_time"] * 1000 / window_ms))
        np.testing.assert_allclose(tel["power_mgu_total"], keyed["power_mgu_total"].mean(), rtol=1e-4)
        np.testing.assert_allclose(tel["mgu_loss_total"], keyed["mgu_loss_total"].mean(), rtol=1e-3, atol=1e-3)
    columns = ", ".join(f"{n}_mean" for n in names)
    rows = list(
        stack.store.session.execute(
            f"SELECT {columns} FROM {stack.store.ks}.channel_windows WHERE session_id = %s AND window_ms = 1000 "
            "AND lap = 1 AND part = 0",
            (sid,),
            timeout=30,
        )
    )
    assert rows and all(r["power_mgu_total_mean"] is not None for r in rows)
    assert all(r["aero_balance_front_mean"] is None for r in rows)  # its inputs are not in the file: unset
    window_records = stack.records_since(windows_topic, window_offsets, until_count=len(frames) // 5, key=key)
    docs: list[dict[str, Any]] = [json.loads(r.value) for r in window_records]
    assert docs and all("power_mgu_total" in d["maths"] for d in docs if d["frame_count"])

    # The analysis API lists the events and alerts.
    events = session_events(session)
    assert len(events) == len(expected.events) and set(events["Kind"]) == {e.kind for e in expected.events}
    assert list(session_alerts(session)["Kind"]) == ["raise", "clear"]
    with pytest.raises(ValueError, match="unknown channel 'no_such_maths'"):
        lap.get_telemetry(channels=["no_such_maths"])
