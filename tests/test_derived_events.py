"""Lap events on crafted streams: exact lists of what the session processor reports.

The stream is the real 50 Hz lap file replayed as a 2-lap stint, with slip ratios and marker bits
written into chosen frames; the expected events are read off those frame indices (their session
times and lap distances straight from the frame headers), per the definition in
p424/derived/events.py: an event starts at its first frame, lasts until the first frame after it
(or the lap's end) and ends, in distance, at its last frame.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from p424 import derived
from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder, FrameHeader
from p424.derived.events import EventSet, EventTracker, parse_events
from p424.derived.files import DefinitionError, Source
from p424.markers import MARKER_CONTACT, MARKER_IMPACT, MARKER_OFF_TRACK
from p424.processing.outputs import EventRow, Outputs
from p424.processing.session import SessionProcessor
from unity_bridge.lapfile import lap_frames, read_lap_file

T0_MS = 1_790_000_000_000
IDX = CATALOG.payload_index
SLIPS = ("slip_ratio_fl", "slip_ratio_fr", "slip_ratio_rl", "slip_ratio_rr")


def crafted(csv: Path) -> tuple[list[FrameHeader], np.ndarray]:
    samples = list(lap_frames(read_lap_file(csv), 2, 1, 77))
    headers = [h for h, _ in samples]
    values = np.vstack([v for _, v in samples]).astype(np.float32)
    for name in SLIPS:
        values[:, IDX[name]] = 0.02  # present in every frame, well inside the thresholds

    def slip(name: str, frames: range, value: float) -> None:
        values[frames.start : frames.stop, IDX[name]] = value

    def mark(frames: range, bit: int) -> None:
        for i in frames:
            headers[i] = dataclasses.replace(headers[i], markers=headers[i].markers | bit)

    slip("slip_ratio_fl", range(100, 110), -0.3)
    values[104, IDX["slip_ratio_fl"]] = -0.35  # the peak
    slip("slip_ratio_rr", range(200, 204), -0.3)  # 0.08 s: shorter than the 0.1 s minimum
    slip("slip_ratio_rl", range(300, 305), -0.25)  # exactly 0.1 s: counts
    slip("slip_ratio_rr", range(400, 420), 0.25)
    values[410, IDX["slip_ratio_rr"]] = 0.3
    mark(range(500, 525), MARKER_OFF_TRACK)
    mark(range(510, 512), MARKER_IMPACT)
    mark(range(700, 701), MARKER_CONTACT)
    mark(range(1090, 1106), MARKER_OFF_TRACK)  # across the line: lap 1's ends there, lap 2's starts
    slip("slip_ratio_fl", range(2190, 2202), 0.25)  # to the end of lap 2
    return headers, values


def expected(headers: list[FrameHeader], values: np.ndarray) -> list[tuple[Any, ...]]:
    t = [h.sim_time for h in headers]
    d = [h.lap_distance for h in headers]
    speed = values[:, IDX["speed"]]

    def event(lap: int, kind: str, corner: str, first: int, last: int, end: int, peak: float | None) -> tuple[Any, ...]:
        return (lap, kind, corner, t[first], d[first], d[last], t[end] - t[first], peak)

    return [
        event(1, "lockup", "fl", 100, 109, 110, -0.35),
        event(1, "lockup", "rl", 300, 304, 305, -0.25),
        event(1, "wheelspin", "rr", 400, 419, 420, 0.3),
        event(1, "off_track", "", 500, 524, 525, float(speed[500:525].max())),
        event(1, "impact", "", 510, 511, 512, None),  # its peak channel (accel_combined) is not in the file
        event(1, "contact", "", 700, 700, 701, None),
        event(1, "off_track", "", 1090, 1100, 1101, float(speed[1090:1101].max())),  # ends at lap 2's first frame
        event(2, "off_track", "", 1101, 1105, 1106, float(speed[1101:1106].max())),
        event(2, "wheelspin", "fl", 2190, 2201, 2202, 0.25),  # ends where lap 3 starts
    ]


def run(headers: list[FrameHeader], values: np.ndarray, flush_at: tuple[int, ...] = ()) -> Outputs:
    enc = FrameEncoder(~np.isnan(values[0]))
    proc = SessionProcessor(77, 1)
    out = Outputs()
    for i, (h, v) in enumerate(zip(headers, values, strict=True)):
        out.extend(proc.on_frame(enc.encode(h, v), T0_MS + i * 20))
        if i in flush_at:
            out.extend(proc.flush())
    out.extend(proc.flush())
    return out


def as_tuple(e: EventRow) -> tuple[Any, ...]:
    return (e.lap, e.kind, e.corner, e.start_sim_time, e.start_distance, e.end_distance, e.duration, e.peak)


def close(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    return len(a) == len(b) and all(x[:3] == y[:3] and x[3:] == pytest.approx(y[3:], abs=1e-5) for x, y in zip(a, b, strict=True))


def test_crafted_stream_gives_exactly_the_expected_events(fixture_csv: Path) -> None:
    headers, values = crafted(fixture_csv)
    out = run(headers, values)
    got = sorted((as_tuple(e) for e in out.events), key=lambda e: (e[0], e[3], e[1], e[2]))
    want = sorted(expected(headers, values), key=lambda e: (e[0], e[3], e[1], e[2]))
    assert close(got, want), f"\n got: {got}\nwant: {want}"
    assert all(e.complete for e in out.events)
    first = next(e for e in out.events if e.kind == "lockup" and e.corner == "fl")
    assert first.summary == (
        f"lockup FL: 0.20 s from {first.start_distance:.0f} m to {first.end_distance:.0f} m, peak slip_ratio_fl -0.35"
    )
    assert first.ts_ms == T0_MS - round(headers[0].sim_time * 1000) + round(first.start_sim_time * 1000)


def test_a_silence_mid_event_reports_it_provisionally_and_the_complete_row_replaces_it(fixture_csv: Path) -> None:
    headers, values = crafted(fixture_csv)
    whole = run(headers, values)
    interrupted = run(headers, values, flush_at=(105, 515, 1095, 2195))
    provisional = [e for e in interrupted.events if not e.complete]
    assert {(e.kind, e.corner) for e in provisional} == {
        ("lockup", "fl"),
        ("off_track", ""),
        ("wheelspin", "fl"),
    }  # 105: a lock-up 0.1 s in; 515: an excursion (the impact already ended); 1095; 2195
    assert all(e.summary.endswith("(still open)") for e in provisional)

    def stored(out: Outputs) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """What Cassandra ends up holding: the last write per primary key wins."""
        return {(e.session_id, e.lap, e.start_sim_time, e.kind, e.corner): (*as_tuple(e), e.complete) for e in out.events}

    assert stored(interrupted) == stored(whole)


def test_tracker_runs_across_blocks_and_absent_values_end_a_run() -> None:
    events = derived.default().events
    n = len(CATALOG.payload_channels) + len(derived.default().maths)
    tracker = EventTracker()
    t = np.arange(12) * 0.02
    d = np.arange(12) * 2.0
    block = np.full((12, n), 0.0, dtype=np.float32)
    block[2:11, IDX["slip_ratio_fr"]] = -0.4
    block[8, IDX["slip_ratio_fr"]] = np.nan  # absent: the run ends there
    markers = np.zeros(12, dtype=np.int64)
    ended = tracker.add_block(events, t[:4], d[:4], markers[:4], block[:4])
    ended += tracker.add_block(events, t[4:], d[4:], markers[4:], block[4:])
    assert [(e.kind, e.corner, e.start_sim_time, e.duration, e.end_distance) for e in ended] == [
        ("lockup", "fr", pytest.approx(0.04), pytest.approx(0.12), 14.0)
    ]  # frames 2..7 (across the two blocks); the run of frames 9 and 10 is 0.04 s, too short
    assert tracker.runs == {}


def test_event_file_errors_name_the_entry() -> None:
    m = derived.default().maths

    def error(text: str) -> str:
        with pytest.raises(DefinitionError) as err:
            parse_events(Source("events.toml", text), m)
        return str(err.value)

    assert error('[[threshold]]\nkind = "lockup"\nmin_duration_s = 0.1\nchannel = "slip_ratio_xx"\nbelow = -0.2').startswith(
        "events.toml: threshold event #1 ('lockup'): unknown channel 'slip_ratio_xx': not a catalog payload channel "
        "nor a maths channel (did you mean 'slip_ratio_"
    )
    assert "give exactly one of 'above' or 'below'" in error(
        '[[threshold]]\nkind = "x"\nmin_duration_s = 0.1\nchannel = "speed"'
    )
    assert "corners are fl, fr, rl, rr, not ['front']" in error(
        '[[threshold]]\nkind = "x"\nmin_duration_s = 0.1\nbelow = 1\ncorners = { front = "speed" }'
    )
    assert "marker event #1 ('x'): unknown marker 'offtrack' (markers: time_reset," in error(
        '[[marker]]\nkind = "x"\nmarker = "offtrack"'
    )
    assert "marker event #1 ('x'): peak_stat is 'max' or 'min', not 'mean'" in error(
        '[[marker]]\nkind = "x"\nmarker = "impact"\npeak = "speed"\npeak_stat = "mean"'
    )
    assert "threshold event #1 ('x'): channel 'speed': kW cannot be converted to m/s: 1000 m2*kg/s3 is not m/s" in error(
        '[[threshold]]\nkind = "x"\nmin_duration_s = 0\nabove = 1\nunit = "kW"\nchannel = "speed"'
    )
    assert "event 'x' is defined twice for corner '(car)'" in error(
        '[[marker]]\nkind = "x"\nmarker = "impact"\n[[marker]]\nkind = "x"\nmarker = "contact"'
    )


def test_thresholds_in_another_unit_are_converted() -> None:
    m = derived.default().maths
    events = parse_events(
        Source("events.toml", '[[threshold]]\nkind = "lockup"\nbelow = -20\nunit = "%"\nmin_duration_s = 0\nchannel = "slip_ratio_fl"'),
        m,
    )
    assert isinstance(events, EventSet) and events.tracks[0].below == pytest.approx(-0.2)
