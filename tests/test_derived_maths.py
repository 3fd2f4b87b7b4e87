"""Maths channels: the expression language, its unit checks, every load error's message, and the
vectorised evaluation against straightforward numpy/pandas on the real lap and on simulated frames.

The references below are written from the channel definitions (sums, ratios, torque x speed in SI
units), not from p424.derived; the real lap (tests/data, the simulator's own 50 Hz export) also
checks the shaft-power conversion against the physics the file records: in drive, electrical power
x (1 - efficiency) is the MGU loss the torque and speed channels imply.
"""

from __future__ import annotations

import math
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from p424 import derived
from p424.catalog import CATALOG
from p424.derived.dimensions import UnitError, parse_unit
from p424.derived.files import DefinitionError, Source
from p424.derived.maths import MathsSet, parse_maths
from p424.sim import CarSimulator
from tests.reference import reference_maths
from unity_bridge.lapfile import lap_frames, read_lap_file

C = len(CATALOG.payload_channels)


def maths(*channels: tuple[str, str, str]) -> MathsSet:
    text = "\n".join(
        f'[[channel]]\nname = "{name}"\nunit = "{unit}"\nexpression = """{expression}"""\n'
        for name, unit, expression in channels
    )
    return parse_maths(Source("maths.toml", text))


def error_of(*channels: tuple[str, str, str]) -> str:
    with pytest.raises(DefinitionError) as err:
        maths(*channels)
    return str(err.value)


# ---------------------------------------------------------------- every error names file, channel and problem
@pytest.mark.parametrize(
    ("channel", "message"),
    [
        (("x", "m/s", "speed +"), "maths.toml: maths channel 'x' ('speed +'): bad syntax: invalid syntax"),
        (("x", "m/s", "speed = 3"), "maths channel 'x' ('speed = 3'): bad syntax at column 7: invalid syntax"),
        (
            ("x", "m/s", "sped * 2"),
            "maths.toml: maths channel 'x' ('sped * 2'): unknown channel 'sped': not a catalog channel nor a maths "
            "channel (did you mean 'speed'?)",
        ),
        (
            ("x", "m/s", "speed + power_electrical_total"),
            "maths.toml: maths channel 'x' ('speed + power_electrical_total'): unit mismatch in 'speed + "
            "power_electrical_total': 'speed' is m/s but 'power_electrical_total' is kW",
        ),
        (
            ("x", "kW", "power_electrical_total + battery_total_heat"),
            "unit mismatch in 'power_electrical_total + battery_total_heat': 'power_electrical_total' is kW but "
            "'battery_total_heat' is W (the same dimension at another scale: convert(x, \"unit\") one of them)",
        ),
        (
            ("x", "kW", "speed * 2"),
            "maths.toml: maths channel 'x' ('speed * 2'): unit mismatch: the expression gives m/s (m/s) but the "
            "channel declares kW (1000 m2*kg/s3)",
        ),
        (
            ("x", "W", "power_electrical_front"),
            "unit mismatch: the expression gives kW (1000 m2*kg/s3) but the channel declares W (m2*kg/s3); "
            'convert(..., "W") gives it in the declared unit',
        ),
        (("x", "furlong", "speed"), "maths channel 'x' ('speed'): declared unit 'furlong': 'furlong' is not a unit"),
        (("x", "m/s", "sqrt(speed)"), "'sqrt(speed)': the square root of m/s has no unit (odd powers of m/s)"),
        (("x", "m/s", 'convert(speed, "kW")'), "m/s cannot be converted to kW: m/s is not 1000 m2*kg/s3"),
        (("x", "m/s", "speed > 5"), "the expression is a condition (true/false), not a value: use where("),
        (("x", "m/s", "where(speed, 1, 2)"), "'speed' is a value, not a condition (compare it: x > 0)"),
        (("x", "m/s", "1 < speed < 5"), "'1 < speed < 5': one comparison at a time (join them with and)"),
        (("x", "", "markers + 1"), "'markers' is a header channel expressions cannot read (they read sim_time, lap_distance)"),
        (("x", "m/s", "__import__('os')"), "__import__() is not a maths function (abs, sqrt, min, max, mean, hypot"),
        (("x", "m/s", "speed.real"), "'speed.real': attribute access is not allowed in a maths expression"),
        (("x", "m/s", "[speed][0]"), "'[speed][0]': indexing is not allowed in a maths expression"),
        (("x", "m/s", "(lambda: speed)()"), "'(lambda: speed)()': only the maths functions can be called (abs,"),
        (("x", "m/s", "min(speed, b=1)"), "'min(speed, b=1)': min() takes plain positional arguments"),
        (("x", "m/s", "clip(speed, 1)"), "'clip(speed, 1)': clip() takes 3 arguments, not 2"),
        (("x", "m/s", "speed ** speed"), "'speed ** speed': the exponent must be a number"),
        (("x", "m/s", "'fast'"), "\"'fast'\": only numbers are allowed here (strings only in convert)"),
        (("x", "m/s", "convert(speed, unit)"), 'convert(x, "unit") takes the unit as a quoted text'),
        (("speed", "m/s", "speed"), "maths.toml: maths channel 'speed': the name clashes with the catalog channel"),
        (("Speed2", "m/s", "speed"), "maths channel 'Speed2': the name must be snake_case"),
        (("where", "m/s", "speed"), "maths channel 'where': the name clashes with the function where()"),
        (("x", "m/s", "x + 1"), "maths channel 'x' ('x + 1'): refers to itself: x -> x"),
    ],
)
def test_each_load_error_names_the_file_the_channel_and_the_problem(channel: tuple[str, str, str], message: str) -> None:
    assert message in error_of(channel)


def test_cycles_and_duplicates() -> None:
    assert "maths channel 'a' ('b + 1'): is part of a cycle: a -> b -> a" in error_of(
        ("a", "m/s", "b + 1"), ("b", "m/s", "a + 1")
    )
    assert "maths channel 'a': defined twice" in error_of(("a", "m/s", "speed"), ("a", "m/s", "speed"))
    # Order in the file does not matter without a cycle: b is evaluated before a.
    m = maths(("a", "m/s", "b * 2"), ("b", "m/s", "speed + 1"))
    values = np.full((1, C), np.nan, dtype=np.float32)
    values[0, CATALOG.payload_index["speed"]] = 10.0
    np.testing.assert_array_equal(m.extend(values, np.zeros(1), np.zeros(1))[0, C:], [22.0, 11.0])


def test_file_level_errors() -> None:
    with pytest.raises(DefinitionError, match=r"maths\.toml: not valid TOML"):
        parse_maths(Source("maths.toml", "[[channel]\nname ="))
    with pytest.raises(DefinitionError, match=r"maths channel #1 \('x'\): unknown key 'expresion' \(keys: 'name'"):
        parse_maths(Source("maths.toml", '[[channel]]\nname = "x"\nunit = ""\nexpresion = "1"\nexpression = "1"'))
    with pytest.raises(DefinitionError, match=r"maths channel #1 \('x'\): missing 'expression'"):
        parse_maths(Source("maths.toml", '[[channel]]\nname = "x"\nunit = ""'))
    with pytest.raises(DefinitionError, match=r"'unit' must be a str, not 5"):
        parse_maths(Source("maths.toml", '[[channel]]\nname = "x"\nunit = 5\nexpression = "1"'))
    with pytest.raises(DefinitionError, match=r"unknown section \['channels'\]"):
        parse_maths(Source("maths.toml", '[[channels]]\nname = "x"'))
    with pytest.raises(DefinitionError, match=r"nowhere\.toml: cannot read the definitions"):
        Source.read("/nonexistent/nowhere.toml")


# ---------------------------------------------------------------- units
def test_unit_texts_of_the_catalog_all_parse() -> None:
    for c in CATALOG.channels:
        parse_unit(c.unit)  # every stored unit is one the checker knows
    assert math.isclose(parse_unit("kWh/km").scale, 3600.0) and parse_unit("kWh/km").same(parse_unit("kJ/m") ** 1) is False
    assert math.isclose(parse_unit("kWh").scale, 3.6e6)
    assert math.isclose(parse_unit("Nm").scale * parse_unit("rpm").scale, 2 * math.pi / 60)
    assert parse_unit("m/s2").same(parse_unit("m/s/s")) and parse_unit("m/s2").same(parse_unit("m*s^-2"))
    assert not parse_unit("deg").same(parse_unit("ratio")) and parse_unit("deg").same_dimension(parse_unit("ratio"))
    with pytest.raises(UnitError, match="'parsec' is not a unit this platform knows"):
        parse_unit("kW/parsec")


def test_inferred_units_and_conversions_give_the_declared_values() -> None:
    m = maths(
        ("shaft", "kW", 'convert(torque_mechanical_front * motor_rpm_front, "kW")'),
        ("per_km", "kWh/km", 'battery_net_energy / convert(lap_distance, "km")'),
        ("g_lat", "g", 'convert(accel_lateral, "g")'),
        ("hot", "degC", "where(battery_temperature > 60, battery_temperature - 60, 0)"),
        ("half", "m/s", "speed / 2 + 1"),
    )
    values = np.full((1, C), np.nan, dtype=np.float32)
    idx = CATALOG.payload_index
    values[0, idx["torque_mechanical_front"]] = 100.0  # Nm
    values[0, idx["motor_rpm_front"]] = 6000.0  # rpm
    values[0, idx["battery_net_energy"]] = 2.5  # kWh
    values[0, idx["accel_lateral"]] = 9.80665 * 1.5
    values[0, idx["battery_temperature"]] = 63.0
    values[0, idx["speed"]] = 50.0
    out = m.extend(values, np.array([1.0]), np.array([5000.0]))[0, C:]
    np.testing.assert_allclose(out, [100 * 6000 * 2 * math.pi / 60 / 1000, 0.5, 1.5, 3.0, 26.0], rtol=1e-6)


def test_absent_inputs_give_absent_values_never_errors_or_warnings() -> None:
    m = maths(
        ("ratio_fr", "ratio", "power_electrical_front / power_electrical_total"),
        ("low", "kW", "min(power_electrical_front, power_electrical_rear)"),
        ("gone", "kW", "where(power_electrical_total > 0, power_electrical_total, None)"),
    )
    values = np.full((3, C), np.nan, dtype=np.float32)
    idx = CATALOG.payload_index
    values[:, idx["power_electrical_front"]] = [10.0, 5.0, np.nan]
    values[:, idx["power_electrical_rear"]] = [20.0, np.nan, 1.0]
    values[:, idx["power_electrical_total"]] = [0.0, -5.0, 1.0]
    out = m.extend(values, np.zeros(3), np.zeros(3))[:, C:]
    # 10 / 0 is infinite: stored as absent. min() with an absent input is absent.
    np.testing.assert_array_equal(out, [[np.nan, 10.0, np.nan], [-1.0, np.nan, np.nan], [np.nan, np.nan, 1.0]])


# ---------------------------------------------------------------- the default file on real and simulated data
def test_the_default_files_load_with_at_least_ten_maths_channels_and_limits() -> None:
    d = derived.default()
    assert len(d.maths) >= 10 and len(d.alarms.limits) >= 10
    assert {"lockup", "wheelspin", "off_track", "contact", "impact"} <= {t.kind for t in d.events.tracks}
    assert pickle.loads(pickle.dumps(d)).maths.names == d.maths.names  # shipped to Flink workers pickled


def check_against_reference(values: np.ndarray, t: np.ndarray, d: np.ndarray) -> dict[str, int]:
    m = derived.default().maths
    out = m.extend(values, t, d)
    np.testing.assert_array_equal(out[:, :C], values)  # the catalog's columns are untouched
    df = pd.DataFrame(values.astype(np.float64), columns=list(CATALOG.payload_names))
    df["lap_distance"] = d
    ref = reference_maths(df)
    assert sorted(ref) == sorted(m.names), "the reference covers every default maths channel"
    present = {}
    for j, name in enumerate(m.names):
        expected = ref[name].replace([np.inf, -np.inf], np.nan).to_numpy()  # x / 0 is stored as absent
        np.testing.assert_allclose(out[:, C + j], expected, rtol=2e-5, atol=1e-4, equal_nan=True, err_msg=name)
        present[name] = int(np.isfinite(out[:, C + j]).sum())
    return present


def test_default_maths_on_the_real_lap_match_pandas_and_the_recorded_efficiency(fixture_csv: Path) -> None:
    samples = list(lap_frames(read_lap_file(fixture_csv), 1, 1, 5))
    values = np.vstack([v for _, v in samples]).astype(np.float32)
    t = np.array([h.sim_time for h, _ in samples])
    d = np.array([h.lap_distance for h, _ in samples])
    present = check_against_reference(values, t, d)
    n = len(samples)
    assert {k for k, v in present.items() if v == n} == {
        "power_mgu_total",
        "power_mechanical_front",
        "power_mechanical_rear",
        "mgu_loss_total",
        "regen_power",
    }  # the MGU channels the real file records; the others' inputs are not in it
    assert 0.9 * n < present["power_balance_front"] < n  # absent where the MGUs are near 0 kW
    m = derived.default().maths
    out = m.extend(values, t, d)
    idx = CATALOG.payload_index
    pf, pr = values[:, idx["power_electrical_front"]], values[:, idx["power_electrical_rear"]]
    ef, er = values[:, idx["efficiency_front"]], values[:, idx["efficiency_rear"]]
    drive = pf > 50
    loss = out[:, C + m.names.index("mgu_loss_total")]
    # The simulator's shaft power is efficiency x electrical power in drive: the loss from torque x speed
    # (rpm and Nm converted to kW) agrees with it to ~2 kW on losses of ~28 kW.
    assert drive.sum() > 600
    assert np.abs(loss[drive] - (pf * (1 - ef) + pr * (1 - er))[drive]).max() < 3.0
    np.testing.assert_allclose(out[:, C + m.names.index("power_mgu_total")], values[:, idx["power_electrical_total"]], atol=1e-3)


def test_default_maths_on_simulated_and_crafted_frames_match_pandas() -> None:
    block = CarSimulator(car_id=1, session_id=5, seed=2, rate_hz=50, laps=1).run()
    n = 3000
    present = check_against_reference(block.values[:n], block.sim_time[:n], block.lap_distance[:n])
    assert present["slip_ratio_front"] == present["accel_combined"] == present["tyre_temperature_max"] == n
    # Channels of catalog 1.1.0 the simulator leaves absent: crafted values, some absent, some zero.
    rng = np.random.default_rng(4)
    values = np.full((400, C), np.nan, dtype=np.float32)
    for name in CATALOG.payload_names:
        values[:, CATALOG.payload_index[name]] = rng.uniform(-2, 80, 400)
    values[rng.random((400, C)) < 0.05] = np.nan
    values[::50, CATALOG.payload_index["aero_drag"]] = 0.0  # divisions by zero: absent
    present = check_against_reference(values, np.arange(400) * 0.02, rng.uniform(0, 20000, 400))
    assert all(v > 100 for v in present.values()), present


def test_expression_trees_hold_no_python_code() -> None:
    # What is evaluated is built from whitelisted node classes and numpy functions only.
    m = derived.default().maths
    text = repr(m.nodes)
    assert not re.search(r"\b(eval|exec|compile|__import__|lambda)\b", text)


def test_compiled_programs_give_what_the_trees_give() -> None:
    """The closures the job runs and the node classes' own evaluation agree on every default channel."""
    from p424.derived.expressions import program

    m = derived.default().maths
    rng = np.random.default_rng(9)
    slots: list[np.ndarray] = [rng.uniform(-100, 100, 50) for _ in range(len(m.payload_inputs) + len(m.header_inputs))]
    for s in slots:
        s[rng.random(50) < 0.1] = np.nan
        s[rng.random(50) < 0.05] = 0.0
    base = len(slots)
    slots += [np.full(50, np.nan)] * len(m)
    with np.errstate(all="ignore"):
        for j in m.order:
            tree = m.nodes[j].eval(slots)
            compiled = program(m.nodes[j])(slots)
            np.testing.assert_array_equal(compiled, tree, err_msg=m.names[j])
            slots[base + j] = tree
    copy = pickle.loads(pickle.dumps(m))  # closures are rebuilt after unpickling
    values = np.full((2, C), 1.0, dtype=np.float32)
    np.testing.assert_array_equal(copy.extend(values, np.zeros(2), np.zeros(2)), m.extend(values, np.zeros(2), np.zeros(2)))
