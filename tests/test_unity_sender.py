"""The Unity sender (unity_bridge/unity/P424Telemetry) against today's simulator.

It compiles with Mono against compile-time stand-ins whose declarations are those of the newest
public PERRINN/project-424-unity sources (``MIRRORS`` below names the upstream files and versions),
reproduces every golden vector byte for byte, converts the simulator's display units exactly as
p424/units.py does, and the frames its MonoBehaviour sends decode in Python to the right SI values
and signs: from telemetry channels shaped like a real lap export, and from today's data bus when the
telemetry lacks them.

Needs Mono's ``mcs`` (C# up to 7.2, within what Unity 2021.3 compiles) and ``mono`` (Debian
packages mono-mcs and mono-runtime)."""

from __future__ import annotations

import csv
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from p424 import units
from p424.catalog import CATALOG
from p424.codec.frame import Frame, decode_frame
from unity_bridge import golden_vectors as gv

UNITY = gv.ROOT / "unity"
RUNTIME = sorted((UNITY / "P424Telemetry").glob("*.cs"))
STUBS = sorted((UNITY / "tests" / "stubs").glob("*.cs"))
TEST_PROGRAM = sorted((UNITY / "tests").glob("*.cs"))
GOLDEN = gv.ROOT / gv.GOLDEN_DIR

# What each stand-in mirrors: every string must appear in the stand-in's header comment.
# Newest versions as established from PERRINN/project-424-unity (see the stand-ins' comments).
MIRRORS: dict[str, tuple[str, ...]] = {
    "Perrinn424Stubs.cs": (
        "Assets/Scripts/Perrinn424CarController.cs",
        "index id 9091218912",  # header "Copyright 2011-2025"; commit id not resolvable
    ),
    "VehiclePhysicsStubs.cs": (
        "Assets/Scripts/API References/Telemetry API reference.cs @ 30802468a85ee015febf16af11da732b73500c43",
        "Assets/Scripts/API References/Databus API reference.cs @ a531eb1e6eca9659fe1733ca9e9ce77ad3f0d217",
        "Assets/Scripts/Telemetry/Perrinn424GenericTelemetry.cs",
        "index id 9387784521",
    ),
    "UnityEngineStubs.cs": (
        "Unity 2021.3",
        "ProjectSettings/ProjectVersion.txt @ 2bc4e156f17d154a5ed632b5de7fdd898f42f7ba",
    ),
}

# Perrinn424Data of the newest Perrinn424CarController.cs (index id 9091218912): the custom data bus
# the sender falls back to. Names the 2022 and older layouts had and today's dropped.
NEWEST_BUS_LAYOUT: dict[str, int] = {
    "ThrottlePosition": 0, "BrakePosition": 1, "SteeringWheelAngle": 2, "EngagedGear": 3, "DrsPosition": 4,
    "FrontDiffFriction": 5, "RearDiffFriction": 6, "FrontRideHeight": 10, "FrontRollAngle": 11,
    "RearRideHeight": 12, "RearRollAngle": 13, "GroundAngle": 14, "GroundSlope": 15, "UndersteerAngle": 16,
    "FrontMguBase": 20, "RearMguBase": 40, "Rpm": 0, "Load": 1, "PowerBalanceFeedForward": 2, "PowerBalance": 3,
    "Efficiency": 4, "ElectricalPower": 5, "MguPower": 6, "MguTorque": 7, "MguStatorTorque": 8,
    "MguRotorTorque": 9, "ShaftsTorque": 10, "WheelsTorque": 11, "EnableProcessedInput": 60,
    "InputThrottlePosition": 51, "InputBrakePosition": 52, "InputSteerAngle": 53, "InputGear": 54,
    "InputDrsPosition": 55, "InputLiftAndCoast": 56,
}
DROPPED_BUS_NAMES = (
    "ThrottleInput", "BrakePressure", "ElectricalTorque", "MechanicalTorque", "StatorTorque", "RotorTorque",
    "InputMguThrottle", "InputBrakePressure", "PreEfficiencyPower", "PreEfficiencyTorque",
)

# Header, units row and first three samples of a real lap export of the simulator:
# PERRINN/project-424-unity Assets/Features/AI Speed Estimator/Trainer/data/training_data.csv
# @ 77288b99ff198132fa04f94a60c2a9f04abb6c1c, bytes as published (CRLF).
TRAINING_DATA_HEAD = UNITY / "tests" / "data" / "training_data_head.csv"
# Its first ten columns are Telemetry.DataRow fields the lap writer adds, not telemetry channels.
DATA_ROW_COLUMNS = (
    "Frame", "Time", "Distance", "TotalTime", "TotalDistance", "SegmentNum", "Sector", "Markers",
    "MarkerTime", "MarkerFlag",
)
# The lap writer exports value x displayMultiplier with the channel's displayUnits, so a display
# unit fixes the multiplier the telemetry applied to its raw value:
DISPLAY_MULTIPLIER: dict[str, float] = {
    "km/h": 3.6,  # Semantic.Speed: GenericTelemetry's Speed is vehicle.speed (m/s), exported in km/h
    "%": 100.0,  # Semantic.Ratio: Throttle is throttlePosition (0..1), exported as 100.00000
    "mm": 1000.0,  # Semantic.SuspensionTravel: RideHeight is the bus value / 1000 (m), exported as 61.0
    "km": 0.001,  # GenericTelemetry's distance semantic: SetRangeAndFormat(..., " km", multiplier:0.001f)
    "°/s": 180 / math.pi,  # Semantic.AngularVelocity: GenericTelemetry sets its range in rad/s
    "G": 1 / units.STANDARD_GRAVITY,  # Semantic.Acceleration, raw m/s2 (VPP's exact g constant is not public)
}  # every other unit of the export (m, °, rpm, Nm, kW, none) is displayed as computed: multiplier 1


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` not found: the Unity sender tests compile C# with Mono. `./launchcommand.sh test` "
            "installs it (Debian packages mono-mcs and mono-runtime)."
        )
    return path


def _compile(out: Path, sources: list[Path], *flags: str) -> None:
    cmd = [_tool("mcs"), "-warnaserror+", "-warn:4", "-r:System.dll", f"-out:{out}", *flags, *map(str, sources)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"mcs failed:\n{done.stdout}{done.stderr}"


def _run(exe: Path, *args: str) -> list[str]:
    done = subprocess.run([_tool("mono"), str(exe), *args], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{exe.name} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.splitlines()
    assert lines[-1] == "ALL PASSED" and not [ln for ln in lines if ln.startswith("FAIL")]
    return lines


def _frames(lines: list[str]) -> list[Frame]:
    return [decode_frame(bytes.fromhex(ln.split()[1])) for ln in lines if ln.startswith("FRAME ")]


def _present(frame: Frame) -> set[str]:
    return {CATALOG.payload_names[i] for i in np.flatnonzero(frame.present)}


def _f32(v: float) -> float:
    return float(np.float32(v))


@pytest.fixture(scope="module")
def test_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("unity_sender") / "P424BridgeTests.exe"
    _compile(exe, [*STUBS, *RUNTIME, *TEST_PROGRAM])
    return exe


# ---------------------------------------------------------------- sources and stand-ins


def test_sources_are_present() -> None:
    assert [p.name for p in RUNTIME] == [
        "P424Catalog.g.cs", "P424FrameWriter.cs", "P424TelemetrySender.cs", "P424Units.g.cs",
    ]
    assert sorted(p.name for p in STUBS) == sorted(MIRRORS) and TEST_PROGRAM


def test_each_stand_in_names_the_upstream_sources_it_mirrors() -> None:
    for stub in STUBS:
        text = stub.read_text(encoding="utf-8")
        header = text[: text.index("using ")]
        assert "COMPILE-TIME STAND-INS" in header, stub.name
        missing = [ref for ref in MIRRORS[stub.name] if ref not in " ".join(header.split())]
        assert not missing, f"{stub.name} does not name {missing}"


def test_the_data_bus_stand_in_is_todays_layout() -> None:
    text = (UNITY / "tests" / "stubs" / "Perrinn424Stubs.cs").read_text(encoding="utf-8")
    body = text[text.index("public struct Perrinn424Data"):text.index("public class Perrinn424CarController")]
    declared = {m[1]: int(m[2]) for m in re.finditer(r"public const int (\w+)\s*=\s*(-?\d+);", body)}
    assert declared == NEWEST_BUS_LAYOUT
    assert not [name for name in DROPPED_BUS_NAMES if re.search(rf"\b{name}\b", text.split("using ", 1)[1])]
    # Today's controller exposes its inputs read-only; the 2020-era throttleInput/brakePressure are gone.
    for member in ("float throttlePosition", "float brakePosition", "float steerAngle", "int gear"):
        assert re.search(rf"public {member} {{ get {{ return m_\w+; }} }}", text), member
    assert not re.search(r"\b(throttleInput|brakePressure)\b", text)


def test_sender_scripts_compile_as_a_library(tmp_path: Path) -> None:
    # Only what goes into the Unity project, against the stand-ins; warnings are errors.
    _compile(tmp_path / "P424Telemetry.dll", [*STUBS, *RUNTIME], "-target:library")
    assert (tmp_path / "P424Telemetry.dll").stat().st_size > 0


# ---------------------------------------------------------------- encoding and units


def test_csharp_writer_reproduces_every_golden_vector(test_exe: Path) -> None:
    lines = _run(test_exe, "golden", str(GOLDEN))
    produced = dict(ln.split(" ", 2)[1:] for ln in lines if ln.startswith("HEX "))
    expected_cases = sorted(p.stem for p in GOLDEN.glob("*.json"))
    assert sorted(produced) == expected_cases and len(expected_cases) >= 4
    for name in expected_cases:
        expected = gv.read_hex((GOLDEN / f"{name}.hex").read_text(encoding="utf-8"))
        assert bytes.fromhex(produced[name]) == expected, name
    for check in ("encoding allocates nothing", "non-finite values are absent", "session id 0 refused"):
        assert f"PASS {check}" in lines


def test_csharp_unit_conversion_is_p424_units(test_exe: Path, tmp_path: Path) -> None:
    written = [*units.UNITS, *sorted(units.UNSTATED), " km/h ", "furlong"]
    stored = sorted({c.unit for c in CATALOG.channels} | {u for u, _ in units.UNITS.values()})
    pairs = [(w, s) for w in written for s in stored]
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{w}\t{s}\n" for w, s in pairs), encoding="utf-8")
    lines = [ln.split(" ", 3) for ln in _run(test_exe, "units", str(path)) if ln.startswith("UNIT ")]
    assert [int(ln[1]) for ln in lines] == list(range(len(pairs)))
    converted = 0
    for (w, s), (_, _, status, detail) in zip(pairs, lines, strict=True):
        try:
            factor = units.conversion(w, s).factor
        except units.UnitError:
            assert status == "ERR", (w, s, detail)
            continue
        assert status == "OK" and float(detail) == factor, (w, s, detail)  # exactly the same double
        converted += 1
    assert converted > len(units.UNITS)
    assert "unknown unit 'furlong' (known: " in dict(zip(pairs, (d for *_, d in lines), strict=True))[("furlong", "m")]


def test_a_unit_table_change_makes_the_generated_csharp_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(units.UNITS, "mph", ("m/s", 0.44704))
    assert f"stale {gv.CSHARP_UNITS}" in gv.stale_files()
    assert gv.main(["--check"]) == 1


# ---------------------------------------------------------------- the sender over today's simulator


def test_sender_streams_the_data_bus_inputs_transform_and_wheels_of_todays_car(test_exe: Path) -> None:
    frames = _frames(_run(test_exe, "sender"))

    # Scripted run (P424BridgeTests.RunSender): 10 physics steps at 50 Hz, rate 25 Hz, a start-line
    # marker on step 5 and sector-line + custom marker on step 7, then one step of a new session.
    steps = [0, 2, 4, 5, 6, 7, 8]
    assert len(frames) == len(steps) + 1
    first, second = frames[:-1], frames[-1]
    session = first[0].header.session_id
    assert session > 0 and all(f.header.session_id == session for f in first)
    assert [f.header.sequence for f in first] == list(range(len(steps)))
    assert second.header.session_id > session and second.header.sequence == 0
    assert all(f.header.car_id == 7 and f.header.flags == 0 and f.header.catalog_hash == CATALOG.hash for f in frames)
    assert [f.header.sim_time for f in first] == [(k + 1) * 0.02 for k in steps]
    assert [f.header.lap for f in first] == [3, 3, 3, 4, 4, 4, 4]
    assert [f.header.lap_distance for f in first] == [100.0 + k for k in steps]
    assert [f.header.markers for f in first] == [0, 0, 0, 1 << 3, 0, (1 << 4) | (1 << 16), 0]
    # 1-based after the start line; absent before the first start line was seen.
    assert [f.value("sector") for f in first] == [None, None, None, 1, 1, 2, 2]
    assert [f.value("total_distance") for f in first] == [5000.0 + k for k in steps]

    rpm = 30 / math.pi  # per rad/s
    deg = 180 / math.pi  # per rad
    expected = {
        # telemetry channels by today's names, display value converted (Speed in km/h x 3.6, VelocityYaw
        # in °/s, sim_sign -1), or by an alias (°C)
        "speed": 72.25, "motor_rpm_front": 8500.0, "battery_temperature": 41.0, "yaw_rate": -0.2,
        "tyre_temperature_fl": 95.5,
        # the controller's own inputs (the bus copy is 1/1000 coarser): brake position, not pressure
        "throttle": 0.8125, "brake_position": 0.0625, "steering_angle": -4.75, "gear": 1.0,
        # input channel: raw device values, lift and coast on the retarder slot
        "raw_steer": -347.0, "raw_throttle": 10000.0, "raw_brake": 625.0, "automatic_gear": 4.0,
        "lift_and_coast": 1.0,
        # today's custom data bus: MGU blocks at 20 and 40, ElectricalPower in W (-> kW),
        # MguTorque -> torque_mechanical, MguRotorTorque -> torque_rotor
        "motor_rpm_rear": 8800.5, "power_electrical_front": -150.0, "power_electrical_rear": -280.0,
        "power_electrical_total": -430.0, "efficiency_front": 0.93, "efficiency_rear": 0.931,
        "torque_mechanical_front": -180.5, "torque_mechanical_rear": -361.0,
        "torque_rotor_front": -178.25, "torque_rotor_rear": -357.75,
        "power_balance": 0.333, "power_balance_feed_forward": 0.32, "power_balance_offset": 0.013,
        "power_balance_delivered": 150 / 430, "wheel_torque_balance": 1 / 3,
        "torque_friction_front": 12.5, "torque_friction_rear": -25.0,
        "ride_height_front": 0.032, "ride_height_rear": 0.058, "roll_angle_front": 0.8, "roll_angle_rear": 0.9,
        "roll_angle": 0.85, "ground_slope": 1.25, "ground_grade": -0.022,
        # transform: Unity world position, heading 0..360, pitch and roll wrapped to ±180
        "position_x": 1523.25, "position_y": 118.5, "position_z": -2210.75,
        "heading": 247.5, "attitude_pitch": -0.75, "attitude_roll": 0.5,
        # Unity local axes to ISO 8855
        "accel_longitudinal": -37.75, "accel_lateral": -1.5, "accel_vertical": 9.5,
        "roll_acceleration": -0.125, "pitch_acceleration": 0.25, "yaw_acceleration": 0.5,
        "roll_rate": 0.03, "pitch_rate": 0.01,
        # wheel states FL, FR, RL, RR (RR airborne: no camber, no slip)
        "wheel_rpm_fl": 150 * rpm, "wheel_rpm_fr": 152 * rpm, "wheel_rpm_rl": 155 * rpm, "wheel_rpm_rr": 154.5 * rpm,
        "wheel_rpm_diff_front": -2 * rpm, "wheel_rpm_diff_rear": 0.5 * rpm,
        "torque_diff_front": 10.0, "torque_diff_rear": -20.0,
        "camber_fl": 0.05 * deg, "camber_fr": -0.06 * deg, "camber_rl": 0.03 * deg,
        "slip_ratio_fl": -0.08, "slip_ratio_fr": -0.07, "slip_ratio_rl": -0.06,
        "slip_angle_fl": 1.0, "slip_angle_fr": 2.0, "slip_angle_rl": 3.0,
        "total_distance": 5000.0,  # sector: absent, no start line seen yet
    }
    f = first[0]
    for name, v in expected.items():
        assert f.value(name) == pytest.approx(_f32(v), rel=1e-6, abs=1e-6), name
    # No source: absent, never a fake 0. brake_pressure (bar) is a 2020-era channel; the bus NaN of DRS
    # and understeer (both axles airborne) stays absent; a ratio aliased as a torque is refused.
    assert _present(f) == set(expected)
    for name in (
        "brake_pressure", "drs_position", "understeer_angle", "steering_torque", "camber_rr", "slip_ratio_rr", "sector"
    ):
        assert f.value(name) is None, name


def _training_data_head() -> tuple[list[str], list[str], list[list[str]]]:
    with TRAINING_DATA_HEAD.open(encoding="utf-8", newline="") as fh:
        header, units_row, *rows = csv.reader(fh)
    assert tuple(header[: len(DATA_ROW_COLUMNS)]) == DATA_ROW_COLUMNS
    assert len(units_row) == len(header) == 60 and all(len(r) == 60 for r in rows)
    return header, units_row, rows


def test_sender_converts_todays_telemetry_display_units_like_the_lap_file(test_exe: Path, tmp_path: Path) -> None:
    """Stand-in telemetry shaped like a real export: its channel names, its units row as each channel's
    displayUnits, the multiplier that unit implies, and its first sample as the values."""
    header, units_row, rows = _training_data_head()
    sample = dict(zip(header, rows[0], strict=True))
    unit_of = dict(zip(header, units_row, strict=True))
    channels = header[len(DATA_ROW_COLUMNS):]
    late = ("RideHeightFront", "RideHeightRear")  # registered after the first frame

    lines = [
        "\t".join(["ROW", str(int(float(sample["Frame"]))), sample["TotalTime"], sample["Distance"],
                   sample["TotalDistance"], str(int(float(sample["SegmentNum"])))])
    ]
    for name in channels:
        multiplier = DISPLAY_MULTIPLIER.get(unit_of[name], 1.0)
        raw = np.float32(float(sample[name]) / multiplier)  # what the telemetry holds
        suffix = unit_of[name] if unit_of[name] in ("", "°") else " " + unit_of[name]  # VPP suffixes carry a space
        lines.append("\t".join(["LATE" if name in late else "CH", name, suffix, repr(multiplier), repr(float(raw))]))
    scenario = tmp_path / "scenario.tsv"
    scenario.write_text("\n".join(lines) + "\n", encoding="utf-8")

    out = _run(test_exe, "telemetry", str(scenario))
    frames = _frames(out)
    assert len(frames) == 2

    # Expected: what reading this sample from the lap file gives, by the catalog's sim_name (exact
    # case, as VPP's GetChannelIndex) or an alias, through p424/units.py and the catalog's sim_sign.
    expected: dict[str, float] = {}
    source: dict[str, str] = {}
    for c in CATALOG.payload_channels:
        column = next((n for n in (c.sim_name, *c.sim_aliases) if n in channels), None)
        if column is not None:
            factor = units.conversion(unit_of[column], c.unit).factor
            expected[c.name] = float(sample[column]) * factor * c.sim_sign
            source[c.name] = column
    # Every telemetry channel of the export reaches the platform, except LapDistance (the header's
    # lap_distance comes from the telemetry's DataRow).
    assert set(channels) - set(source.values()) == {"LapDistance"}
    resolved = next(ln.split()[1:] for ln in out if ln.startswith("RESOLVED "))
    late_channels = {n for n, col in source.items() if col in late}
    assert [int(x) for x in resolved] == [len(expected) - len(late_channels), len(expected)]

    first, second = frames
    assert first.header.sim_time == float(sample["TotalTime"]) and first.header.lap == 1
    assert first.header.lap_distance == float(sample["Distance"])
    assert _present(first) == set(expected) - late_channels and _present(second) == set(expected)
    for name, v in expected.items():
        assert second.value(name) == pytest.approx(v, rel=1e-6, abs=1e-9), (name, source[name])

    # The same, spelled out for the units the brief names (values of the sample row, SI and ISO 8855).
    spelled = {
        "speed": 135.15450 / 3.6,  # km/h
        "accel_lateral": -11.50478 * 9.80665,  # G, ISO 8855 y points left: sign flipped
        "accel_longitudinal": 0.45174 * 9.80665,
        "yaw_rate": -187.35150 * math.pi / 180,  # °/s, ISO 8855 yaw positive turning left
        "suspension_travel_fl": 0.04815316,  # mm
        "ride_height_rear": 0.068,
        "throttle": 1.0, "brake_position": 0.0,  # %
        "drs_position": 0.5759998,
        "wheel_speed_rr": 150.54960 / 3.6,
        "position_x": 513.28530, "position_y": 139.28270, "position_z": 2357.73900,  # m
        "heading": 120.27070, "attitude_pitch": -2.09354, "attitude_roll": 0.28393,  # °
        "pre_efficiency_power_rear": 552.638,  # kW
        "torque_rotor_front": 1999.722, "wheel_rpm_fl": 1117.716, "gear": 1.0,
    }
    for name, v in spelled.items():
        assert second.value(name) == pytest.approx(v, rel=1e-6), name


def test_sender_frame_loop_allocates_nothing(test_exe: Path) -> None:
    lines = _run(test_exe, "alloc")
    assert "PASS sender frame loop allocates nothing" in lines
