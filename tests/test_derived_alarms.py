"""Alarms: a simulated session that crosses every limit of config/alarms.toml gets exactly the expected
raises and clears, and values hovering around a limit never flap.

The session is p424.sim.CarSimulator's (two laps at 50 Hz, on which the default limits stay quiet),
with each limit's channel overwritten, window by window, in its own stretch of the session: values
alternating around the limit (no raise), beyond it for exactly ``for_s`` (the raise), hovering
between the limit and the clear margin (no clear), back inside for less than ``clear_for_s`` (no
clear), then for ``clear_for_s`` (the clear). The expected times follow from those window counts
and the rule in p424/derived/alarms.py, not from running it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from p424 import derived
from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder
from p424.derived.alarms import AlarmTracker, Limit, parse_alarms
from p424.derived.files import DefinitionError, Source
from p424.kafka.messages import AlertMessage, alert_message
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from p424.sim import CarSimulator

T0_MS = 1_790_000_000_000
W = 0.1  # the smallest window, s
IDX = CATALOG.payload_index
RPM_TO_RAD_S = 2 * math.pi / 60


@dataclass(frozen=True)
class Expected:
    limit: str
    kind: str
    sim_time: float
    value: float | None  # in the limit's unit; None: not checked


Setter = Callable[[np.ndarray, np.ndarray, float], None]


def setter(limit: Limit) -> Setter:
    """How to give the frames ``rows`` (a mask) of ``values`` the value ``v`` (stored unit) of the limit's channel."""

    def columns(*names: str) -> Setter:
        def put(values: np.ndarray, rows: np.ndarray, v: float) -> None:
            for n in names:
                values[rows, IDX[n]] = v

        return put

    def power(axle: str) -> Setter:
        # Shaft power kept at 96 % of the electrical power, so the MGU-loss maths channel stays quiet.
        def put(values: np.ndarray, rows: np.ndarray, v: float) -> None:
            values[rows, IDX[f"power_electrical_{axle}"]] = v
            rpm = values[rows, IDX[f"motor_rpm_{axle}"]]
            values[rows, IDX[f"torque_mechanical_{axle}"]] = 0.96 * v * 1000 / (rpm * RPM_TO_RAD_S)

        return put

    def mgu_loss(values: np.ndarray, rows: np.ndarray, v: float) -> None:
        # No shaft power at all: the loss is the electrical power, split between the axles.
        for axle in ("front", "rear"):
            values[rows, IDX[f"torque_mechanical_{axle}"]] = 0.0
            values[rows, IDX[f"power_electrical_{axle}"]] = v / 2

    by_channel: dict[str, Setter] = {
        "slip_ratio_front": columns("slip_ratio_fl", "slip_ratio_fr"),
        "slip_ratio_rear": columns("slip_ratio_rl", "slip_ratio_rr"),
        "ride_height_min": columns("ride_height_front", "ride_height_rear"),
        "tyre_temperature_max": columns(*(f"tyre_temperature_{c}" for c in ("fl", "fr", "rl", "rr"))),
        "mgu_loss_total": mgu_loss,
        "power_electrical_front": power("front"),
        "power_electrical_rear": power("rear"),
    }
    if limit.channel in by_channel:
        return by_channel[limit.channel]
    assert limit.channel in IDX, f"no way to drive {limit.channel} in this test"
    return columns(limit.channel)


def scenario(limit: Limit, rng: np.random.Generator) -> tuple[list[float], int, int]:
    """Window values (stored unit) of one limit's stretch; the windows (from its start) that end with
    the raise and the clear."""
    s = 1.0 if limit.direction == "above" else -1.0
    t, m = limit.threshold, limit.clear_margin
    n_raise, n_clear = round(limit.for_s / W), round(limit.clear_for_s / W)

    def beyond() -> float:
        return t + s * m * (0.3 + rng.random())  # beyond the limit

    def between() -> float:
        return t - s * m * (0.1 + 0.8 * rng.random())  # inside, but not by the margin

    def back() -> float:
        return t - s * m * (1.2 + rng.random())  # inside by more than the margin

    values = [back() for _ in range(10)]
    values += [beyond() if i % 2 == 0 else between() for i in range(20)]  # noise around the limit
    values += [beyond() for _ in range(n_raise)]  # the raise, at the end of the last of these
    raise_at = len(values)
    values += [beyond() for _ in range(10)]
    values += [between() if i % 2 == 0 else beyond() for i in range(20)]  # hovering: no clear
    values += [back() for _ in range(n_clear - 1)] + [beyond()]  # back, but not for long enough
    values += [back() for _ in range(n_clear)]  # the clear
    clear_at = len(values)
    values += [back() for _ in range(10)]
    return values, raise_at, clear_at


def test_a_simulated_session_crossing_every_limit_gets_exactly_the_expected_raises_and_clears() -> None:
    alarms = derived.default().alarms
    sim = CarSimulator(car_id=3, session_id=11, seed=1, rate_hz=50, laps=2)
    block = sim.run()
    values = block.values.copy()
    window = np.floor(block.sim_time * 1000 / (W * 1000)).astype(np.int64)  # as the processor aligns them
    boundary = int(window[np.argmax(block.lap == 2)])
    rng = np.random.default_rng(7)
    # Outside the stretches each limit is driven through, its channel sits well inside every limit on
    # it: the simulator's own laps may cross a limit (its ride height touches a few millimetres as the
    # real car's does), and only the driven raises and clears are expected.
    safe: dict[str, tuple[Setter, float]] = {}
    for limit in alarms.limits:
        s = 1.0 if limit.direction == "above" else -1.0
        inside = limit.threshold - s * limit.clear_margin * 3
        put, known = safe.get(limit.channel, (setter(limit), inside))
        safe[limit.channel] = (put, min(known, inside) if s > 0 else max(known, inside))
    everywhere = np.ones(len(block), dtype=bool)
    for put, inside in safe.values():
        put(values, everywhere, inside)
    expected: list[Expected] = []
    start = 50  # window 50: 5 s into the session
    # The two battery-temperature limits share a channel: the 55 degC one goes first (its values stay
    # below 60), and while the 60 degC one is driven it raises and clears too (see below).
    order = sorted(alarms.limits, key=lambda limit: limit.name != "battery_temperature_derate")
    for limit in order:
        windows, raise_at, clear_at = scenario(limit, rng)
        if start <= boundary + 30 and start + len(windows) >= boundary - 30:
            start = boundary + 30  # keep clear of the lap's line (its window is split in two rows)
        put = setter(limit)
        for k, v in enumerate(windows):
            put(values, window == start + k, v)
        expected.append(Expected(limit.name, "raise", (start + raise_at) * W, windows[raise_at - 1] * limit.factor))
        expected.append(Expected(limit.name, "clear", (start + clear_at) * W, windows[clear_at - 1] * limit.factor))
        if limit.name == "battery_temperature_high":
            # Its whole stretch is above 55 degC (even back() is 55.6 degC or more): the derate limit
            # raises 5 s into it, and clears 2 s into the 53 degC that follows it.
            derate = next(x for x in alarms.limits if x.name == "battery_temperature_derate")
            expected.append(Expected(derate.name, "raise", (start + round(derate.for_s / W)) * W, None))
            for k in range(30):
                put(values, window == start + len(windows) + k, 53.0)
            cleared = start + len(windows) + round(derate.clear_for_s / W)
            expected.append(Expected(derate.name, "clear", cleared * W, None))
            start += 30
        start += len(windows) + 20
    assert start < window[-1], "every stretch fits in the session"

    enc = FrameEncoder(~np.isnan(values[0]))
    proc = SessionProcessor(11, 3)
    out = Outputs()
    for i in range(len(block)):
        out.extend(proc.on_frame(enc.encode(block.header(i), values[i]), T0_MS + i * 20))
    out.extend(proc.flush())

    got = [(a.limit_name, a.kind, round(a.sim_time, 6)) for a in out.alerts]
    want = [(e.limit, e.kind, round(e.sim_time, 6)) for e in sorted(expected, key=lambda e: e.sim_time)]
    assert got == want
    assert len({a.limit_name for a in out.alerts}) == len(alarms.limits) >= 10  # every limit raised and cleared
    for a, e in zip(out.alerts, sorted(expected, key=lambda e: e.sim_time), strict=True):
        limit = next(x for x in alarms.limits if x.name == a.limit_name)
        assert (a.unit, a.threshold, a.severity, a.channel) == (
            limit.unit,
            pytest.approx(limit.threshold * limit.factor),
            limit.severity,
            limit.channel,
        )
        if e.value is not None:
            assert a.value == pytest.approx(e.value, rel=1e-5, abs=1e-6)
        assert a.lap == (1 if a.sim_time < block.sim_time[np.argmax(block.lap == 2)] else 2)
    soc = next(a for a in out.alerts if a.limit_name == "battery_soc_low" and a.kind == "raise")
    assert soc.summary.startswith("State of charge below 10 % (battery_soc mean ") and soc.summary.endswith(" %)")


def tracker_run(limit_text: str, windows: list[tuple[float, float, float]]) -> list[tuple[str, float, float]]:
    """Transitions of one limit over (start, end, value) windows of the channel 'speed'."""
    alarms = parse_alarms(Source("alarms.toml", limit_text), derived.default().maths)
    tracker = AlarmTracker()
    n = len(CATALOG.payload_channels) + len(derived.default().maths)
    out = []
    for start, end, v in windows:
        stats = [np.full(n, v, dtype=np.float32)] * 4
        out += [(t.kind, t.since, t.sim_time) for t in tracker.on_window(alarms, start, end, stats)]
    return out


LIMIT = '[[limit]]\nname = "fast"\nchannel = "speed"\nabove = 50\nfor_s = 0.3\nclear_margin = 5\nclear_for_s = 0.2\nsummary = "x"'


def test_hysteresis_rules_on_explicit_windows() -> None:
    w = [(k * 0.1, (k + 1) * 0.1) for k in range(30)]
    # 3 windows beyond raise at the end of the third; the clear needs 2 windows at or below 45.
    seq = [40, 51, 52, 53, 48, 44, 46, 45, 44, 40]
    assert tracker_run(LIMIT, [(*w[k], v) for k, v in enumerate(seq)]) == [
        ("raise", pytest.approx(0.1), pytest.approx(0.4)),
        ("clear", pytest.approx(0.7), pytest.approx(0.9)),
    ]
    # An absent window, or a gap in session time, breaks a run.
    assert tracker_run(LIMIT, [(*w[0], 51), (*w[1], math.nan), (*w[2], 51), (*w[3], 51)]) == []
    assert tracker_run(LIMIT, [(*w[0], 51), (*w[1], 51), (*w[5], 51), (*w[6], 51)]) == []
    # A window split at the lap's line (the same start twice) continues the run.
    split = [(*w[0], 51), (*w[1], 51), (*w[2], 51), (*w[2], 51)]
    assert tracker_run(LIMIT, split) == [("raise", pytest.approx(0.0), pytest.approx(0.3))]


def test_alarm_file_errors_name_the_limit() -> None:
    m = derived.default().maths

    def error(text: str) -> str:
        with pytest.raises(DefinitionError) as err:
            parse_alarms(Source("alarms.toml", text), m)
        return str(err.value)

    base = '[[limit]]\nname = "x"\nfor_s = 1\nsummary = "s"\n'
    assert error(base + 'channel = "battery_temp"\nabove = 60').startswith(
        "alarms.toml: limit #1 ('x'): unknown channel 'battery_temp': not a catalog payload channel nor a maths channel"
    )
    assert error(base + 'channel = "battery_soc"\nbelow = 10\nunit = "degC"') == (
        "alarms.toml: limit #1 ('x'): channel 'battery_soc': degC cannot be converted to ratio: K is not 1"
    )
    assert error(base + 'channel = "speed"\nabove = 1\nbelow = 0') == (
        "alarms.toml: limit #1 ('x'): give exactly one of 'above' or 'below'"
    )
    assert "stat is one of min, max, mean, last, not 'median'" in error(base + 'channel = "speed"\nabove = 1\nstat = "median"')
    assert "severity is one of info, warning, critical, not 'fatal'" in error(
        base + 'channel = "speed"\nabove = 1\nseverity = "fatal"'
    )
    assert "limit #1 ('x'): unknown key 'for'" in error(base + 'channel = "speed"\nabove = 1\nfor = 2')
    assert "limit 'x' is defined twice" in error(base + 'channel = "speed"\nabove = 1\n' + base + 'channel = "speed"\nabove = 2')
    assert "[defaults]: unknown key 'channel'" in error('[defaults]\nchannel = "speed"\n')


def test_alert_messages_carry_the_row() -> None:
    limit = derived.default().alarms.limits[0]
    from p424.processing.outputs import AlertRow

    row = AlertRow(
        session_id=1, sim_time=12.5, limit_name=limit.name, kind="raise", car_id=2, lap=3, ts_ms=4, since_sim_time=10.5,
        lap_distance=1234.5, channel=limit.channel, stat="mean", value=61.5, threshold=60.0, unit="degC",
        severity="critical", summary="hot",
    )
    msg = alert_message(row)
    assert AlertMessage.from_json(msg.to_json()) == msg
    assert msg.limit_name == limit.name and msg.value == 61.5 and msg.since_sim_time == 10.5
