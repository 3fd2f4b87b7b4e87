"""Derived-topic messages: the fast JSON path matches the typed one."""

from __future__ import annotations

import json

import numpy as np

from p424.catalog import CATALOG
from p424.kafka.messages import SessionQualitySnapshot, WindowMessage, window_message, window_message_json
from p424.processing.outputs import WindowRow


def test_fast_window_json_is_the_same_document_as_the_typed_message() -> None:
    n = len(CATALOG.payload_channels)
    rng = np.random.default_rng(4)
    means = rng.normal(size=n).astype(np.float32)
    means[[0, 5, 9]] = np.nan  # absent channels are left out of the message
    row = WindowRow(session_id=7, car_id=3, window_ms=100, lap=2, part=0, ts_ms=1_790_000_012_300, window_start=12.3,
                    lap_time=4.5, lap_distance=1234.5, frame_count=5, mins=means - 1, maxs=means + 1, means=means,
                    lasts=means * 2, lap_energy_drawn_kwh=0.5, lap_energy_regen_kwh=0.1)
    quality = SessionQualitySnapshot(100, 1, 2, 3, 4)
    fast = window_message_json(row, quality=quality)
    typed = window_message(row, quality=quality).to_json()
    assert json.loads(fast) == json.loads(typed)
    parsed = WindowMessage.from_json(fast)
    assert set(parsed.channels) == {name for i, name in enumerate(CATALOG.payload_names) if i not in (0, 5, 9)}
    assert parsed.quality == quality
