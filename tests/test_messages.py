"""Derived-topic messages: the fast JSON path matches the typed one."""

from __future__ import annotations

import json

import numpy as np
import orjson

from p424.catalog import CATALOG
from p424.kafka.messages import (
    LapMessage,
    SessionQualitySnapshot,
    WindowMessage,
    lap_message,
    window_message,
    window_message_json,
)
from p424.processing.outputs import LapRow, MathsStats, WindowRow

N = len(CATALOG.payload_channels)


def test_fast_window_json_is_the_same_document_as_the_typed_message() -> None:
    n = len(CATALOG.payload_channels)
    rng = np.random.default_rng(4)
    means = rng.normal(size=n).astype(np.float32)
    means[[0, 5, 9]] = np.nan  # absent channels are left out of the message
    row = WindowRow(session_id=7, car_id=3, window_ms=100, lap=2, part=0, ts_ms=1_790_000_012_300, window_start=12.3,
                    lap_time=4.5, lap_distance=1234.5, frame_count=5, mins=means - 1, maxs=means + 1, means=means,
                    lasts=means * 2, lap_energy_drawn_kwh=0.5, lap_energy_regen_kwh=0.1)
    quality = SessionQualitySnapshot(
        frames_received=100, frames_lost=1, frames_duplicated=2, frames_late=3, frames_out_of_order=4
    )
    fast = window_message_json(row, quality=quality)
    typed = window_message(row, quality=quality).to_json()
    assert json.loads(fast) == json.loads(typed)
    parsed = WindowMessage.from_json(fast)
    assert set(parsed.channels) == {name for i, name in enumerate(CATALOG.payload_names) if i not in (0, 5, 9)}
    assert parsed.quality == quality


# ---------------------------------------------------------------- the documents, pinned
def test_window_documents_are_pinned() -> None:
    row = WindowRow(
        session_id=7, car_id=3, window_ms=100, lap=2, part=0, ts_ms=1_790_000_012_300, window_start=12.3,
        lap_time=4.5, lap_distance=1234.5, frame_count=5,
        mins=np.arange(N, dtype=np.float32) - 0.25, maxs=np.arange(N, dtype=np.float32) + 0.5,
        means=np.where(np.arange(N) % 4 == 0, np.nan, np.arange(N) + 0.125).astype(np.float32),
        lasts=np.arange(N, dtype=np.float32) * 2, lap_energy_drawn_kwh=0.5, lap_energy_regen_kwh=0.1,
    )
    quality = SessionQualitySnapshot(
        frames_received=100, frames_lost=1, frames_duplicated=2, frames_late=3, frames_out_of_order=4
    )
    expected = {
        "session_id": 7,
        "car_id": 3,
        "window_ms": 100,
        "lap": 2,
        "window_start": 12.3,
        "ts_ms": 1_790_000_012_300,
        "lap_time": 4.5,
        "lap_distance": 1234.5,
        "frame_count": 5,
        "channels": {
            name: {"min": i - 0.25, "max": i + 0.5, "mean": i + 0.125, "last": i * 2.0}
            for i, name in enumerate(CATALOG.payload_names)
            if i % 4  # a channel absent from the window (NaN mean) is left out
        },
        "lap_energy_drawn_kwh": 0.5,
        "lap_energy_regen_kwh": 0.1,
        "quality": {
            "frames_received": 100,
            "frames_lost": 1,
            "frames_duplicated": 2,
            "frames_late": 3,
            "frames_out_of_order": 4,
        },
        "maths": {},  # a window without maths channels
    }
    assert window_message_json(row, quality=quality) == orjson.dumps(expected)
    assert window_message(row, quality=quality).to_json() == json.dumps(expected, separators=(",", ":")).encode()


def test_lap_documents_are_pinned() -> None:
    keys = CATALOG.key_channels()
    row = LapRow(
        session_id=41, car_id=42, lap=43, start_sim_time=44.5, end_sim_time=45.5, start_ts_ms=46, lap_time=47.5,
        distance=48.5, frames=49, complete=True, invalidated=False, max_speed=50.5, mean_speed=None,
        energy_drawn_kwh=51.5, energy_regen_kwh=52.5, energy_net_kwh=53.5, sector_times=[54.5, 55.5],
        mins=np.where(np.arange(len(keys)) == 1, np.nan, np.arange(len(keys)) - 0.5).astype(np.float32),
        maxs=np.arange(len(keys), dtype=np.float32) + 0.75,
    )
    expected = {
        "session_id": 41,
        "car_id": 42,
        "lap": 43,
        "start_sim_time": 44.5,
        "end_sim_time": 45.5,
        "start_ts_ms": 46,
        "lap_time": 47.5,
        "distance": 48.5,
        "frames": 49,
        "complete": True,
        "invalidated": False,
        "max_speed": 50.5,
        "mean_speed": None,
        "energy_drawn_kwh": 51.5,
        "energy_regen_kwh": 52.5,
        "energy_net_kwh": 53.5,
        "sector_times": [54.5, 55.5],
        "channel_extremes": {c.name: [i - 0.5, i + 0.75] for i, c in enumerate(keys) if i != 1},
    }
    message = lap_message(row)
    assert message.to_json() == json.dumps(expected, separators=(",", ":")).encode()
    assert LapMessage.from_json(message.to_json()) == message


def test_window_documents_carry_the_maths_channels_present() -> None:
    zeros = np.zeros(N, dtype=np.float32)
    values = np.array([[1.5, np.nan], [2.5, np.nan], [2.0, np.nan], [2.25, np.nan]], dtype=np.float32)
    row = WindowRow(
        session_id=7, car_id=3, window_ms=100, lap=2, part=0, ts_ms=5, window_start=12.3, lap_time=4.5,
        lap_distance=1234.5, frame_count=5, mins=zeros, maxs=zeros, means=np.full(N, np.nan, np.float32), lasts=zeros,
        lap_energy_drawn_kwh=0.5, lap_energy_regen_kwh=0.1,
        maths=MathsStats(names=("power_mgu_total", "slip_ratio_front"), units=("kW", "ratio"), values=values),
    )
    doc = orjson.loads(window_message_json(row))
    assert doc["channels"] == {} and doc["quality"] is None
    assert doc["maths"] == {"power_mgu_total": {"min": 1.5, "max": 2.5, "mean": 2.0, "last": 2.25}}  # absent left out
    typed = window_message(row)
    assert json.loads(typed.to_json()) == doc
    assert WindowMessage.from_json(window_message_json(row)) == typed
