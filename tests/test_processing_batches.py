"""Closed windows aggregated in groups give exactly what aggregating them one at a time gives.

Under load the Flink function lets a session's closed 100 ms windows wait and aggregates them
together (``SessionProcessor.batch_windows``, from the emit policy), because for blocks of a handful
of frames the number of numpy calls is the cost. The group size follows the operator's frame rate,
so it differs between a run and its replay after a restore: every stored figure must therefore be
bit-for-bit independent of it. Checked here on the real 50 Hz lap (three laps, the default maths
channels, lap events and a limit the lap crosses) and on crafted slips and markers that raise
events, with group sizes 1, 2, 5 and 7 and with the size changing from frame to frame.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from p424 import derived
from p424.codec.frame import FrameEncoder
from p424.derived.files import Source
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from tests.test_derived_events import crafted
from tests.test_processing import T0_MS, encode_stint
from tests.test_processing_derived import FULL_POWER


def canonical(value: object) -> object:
    """A record as nested tuples, arrays by dtype, shape and bytes: equal means bit-for-bit equal."""
    if isinstance(value, np.ndarray):
        return (str(value.dtype), value.shape, np.ascontiguousarray(value).tobytes())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple((f.name, canonical(getattr(value, f.name))) for f in dataclasses.fields(value))
    if isinstance(value, list | tuple):
        return tuple(canonical(v) for v in value)
    if isinstance(value, float):
        return value.hex()
    return value


def stored(out: Outputs) -> dict[str, object]:
    """What the sink would leave in Cassandra: every row in order; quality and session rows are
    upserts of one key, so only their last value is stored."""
    return {
        "frames": canonical(out.frames),
        "windows": canonical(out.windows),
        "laps": canonical(out.laps),
        "profile": canonical(out.profile),
        # Events are rows keyed by their start; events ending in the same group of windows come in
        # the order of their definitions rather than of their ends, which no reader sees.
        "events": sorted((canonical(e) for e in out.events), key=repr),
        "alerts": canonical(out.alerts),
        "quality": canonical(out.quality[-1]),
        "session": canonical(out.sessions[-1]),
    }


def run(raws: list[bytes], definitions: derived.Definitions, batch: Callable[[int], int]) -> Outputs:
    proc = SessionProcessor(77, 1, definitions=definitions)
    out = Outputs()
    for i, raw in enumerate(raws):
        proc.batch_windows = batch(i)
        out.extend(proc.on_frame(raw, T0_MS + i * 20))
    out.extend(proc.flush())
    return out


def with_alarm() -> derived.Definitions:
    return derived.from_sources(
        Source.read("config/maths_channels.toml"), Source.read("config/events.toml"), Source("alarms.toml", FULL_POWER)
    )


@pytest.fixture(scope="module")
def stint(fixture_csv: Path) -> list[bytes]:
    raws, _, _ = encode_stint(fixture_csv, laps=3)
    # A few frames out of order (released by the watermark) and one duplicate, as a network gives them.
    raws[400], raws[401] = raws[401], raws[400]
    raws[900:903] = [raws[902], raws[900], raws[901]]
    raws.insert(1500, raws[1499])
    return raws


@pytest.mark.parametrize("size", [2, 5, 7])
def test_windows_laps_profile_events_and_alerts_do_not_depend_on_the_group_size(stint: list[bytes], size: int) -> None:
    defs = with_alarm()
    one_at_a_time = stored(run(stint, defs, lambda _: 1))
    grouped = stored(run(stint, defs, lambda _: size))
    assert grouped == one_at_a_time
    out = run(stint, defs, lambda _: size)
    assert len(out.laps) == 3 and out.alerts and out.profile  # the comparison covered them (events: below)


def test_a_group_size_changing_as_the_load_does_changes_nothing(stint: list[bytes]) -> None:
    defs = with_alarm()
    sizes = random.Random(7)
    changing = [sizes.choice((1, 1, 2, 5, 9)) for _ in stint]
    assert stored(run(stint, defs, lambda i: changing[i])) == stored(run(stint, defs, lambda _: 1))


def test_events_from_crafted_slips_and_markers_do_not_depend_on_the_group_size(fixture_csv: Path) -> None:
    headers, values = crafted(fixture_csv)
    enc = FrameEncoder(~np.isnan(values[0]))
    raws = [enc.encode(h, v) for h, v in zip(headers, values, strict=True)]
    defs = derived.default()
    one_at_a_time = run(raws, defs, lambda _: 1)
    assert len(one_at_a_time.events) >= 5
    assert stored(run(raws, defs, lambda _: 5)) == stored(one_at_a_time)


def test_a_flush_aggregates_the_waiting_windows_before_previewing_the_open_one(stint: list[bytes]) -> None:
    defs = with_alarm()
    proc = SessionProcessor(77, 1, definitions=defs)
    proc.batch_windows = 1000  # nothing aggregated until the flush or a lap boundary
    out = Outputs()
    for i, raw in enumerate(stint[:300]):
        out.extend(proc.on_frame(raw, T0_MS + i * 20))
    assert not out.windows
    out.extend(proc.flush())
    reference = run(stint[:300], defs, lambda _: 1)
    assert stored(out) == stored(reference)
