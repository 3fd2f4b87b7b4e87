"""The Unity sender (unity_bridge/unity/P424Telemetry) compiles with Mono against compile-time
stand-ins for Unity and Vehicle Physics Pro, reproduces every golden vector byte for byte, and its
MonoBehaviour streams frames the Python codec decodes.

Needs Mono's ``mcs`` and ``mono`` (Debian packages mono-mcs and mono-runtime)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from p424.catalog import CATALOG
from p424.codec.frame import Frame, decode_frame
from unity_bridge import golden_vectors as gv

UNITY = gv.ROOT / "unity"
RUNTIME = sorted((UNITY / "P424Telemetry").glob("*.cs"))
STUBS = sorted((UNITY / "tests" / "stubs").glob("*.cs"))
TEST_PROGRAM = sorted((UNITY / "tests").glob("*.cs"))
GOLDEN = gv.ROOT / gv.GOLDEN_DIR


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


@pytest.fixture(scope="module")
def test_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("unity_sender") / "P424BridgeTests.exe"
    _compile(exe, [*STUBS, *RUNTIME, *TEST_PROGRAM])
    return exe


def test_sources_are_present() -> None:
    assert [p.name for p in RUNTIME] == ["P424Catalog.g.cs", "P424FrameWriter.cs", "P424TelemetrySender.cs"]
    assert STUBS and TEST_PROGRAM
    for stub in STUBS:
        assert "COMPILE-TIME STAND-INS" in stub.read_text(encoding="utf-8")


def test_sender_scripts_compile_as_a_library(tmp_path: Path) -> None:
    # Only what goes into the Unity project, against the stand-ins; warnings are errors.
    _compile(tmp_path / "P424Telemetry.dll", [*STUBS, *RUNTIME], "-target:library")
    assert (tmp_path / "P424Telemetry.dll").stat().st_size > 0


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


def _f32(v: float) -> float:
    return float(np.float32(v))


def test_sender_streams_frames_the_platform_decodes(test_exe: Path) -> None:
    lines = _run(test_exe, "sender")
    frames: list[Frame] = [decode_frame(bytes.fromhex(ln.split()[1])) for ln in lines if ln.startswith("FRAME ")]

    # Scripted run (P424BridgeTests.RunSender): 10 physics steps at 50 Hz, rate 25 Hz, a start-line
    # marker on step 5 and sector-line + custom marker on step 7, then one step of a new session.
    steps = [0, 2, 4, 5, 6, 7, 8]
    assert len(frames) == len(steps) + 1
    first, second = frames[:-1], frames[-1]
    session = first[0].header.session_id
    assert session > 0 and all(f.header.session_id == session for f in first)
    assert [f.header.sequence for f in first] == list(range(len(steps)))
    assert second.header.session_id > session and second.header.sequence == 0
    assert all(f.header.car_id == 7 and f.header.flags == 0 for f in frames)
    assert [f.header.sim_time for f in first] == [(k + 1) * 0.02 for k in steps]
    assert [f.header.lap for f in first] == [3, 3, 3, 4, 4, 4, 4]
    assert [f.header.lap_distance for f in first] == [100.0 + k for k in steps]
    assert [f.header.markers for f in first] == [0, 0, 0, 1 << 3, 0, (1 << 4) | (1 << 16), 0]
    assert [f.value("sector") for f in first] == [0, 0, 0, 0, 0, 1, 1]
    assert [f.value("total_distance") for f in first] == [5000.0 + k for k in steps]

    f = first[0]
    expected = {
        # from telemetry channels, by the catalog's sim_name or an alias
        "speed": 72.25, "motor_rpm_front": 8500.0, "battery_energy": 30.5, "battery_temperature": 41.0,
        # from the Perrinn424 custom data bus (PowerElectricalTotal is NaN in telemetry)
        "motor_rpm_rear": 8800.5, "power_electrical_front": -150.0, "power_electrical_rear": -280.0,
        "power_electrical_total": -430.0, "power_balance": 150 / 430, "efficiency_front": 0.93,
        "efficiency_rear": 0.931, "torque_mechanical_front": -180.5, "torque_mechanical_rear": -361.0,
        "torque_rotor_front": -178.25, "torque_rotor_rear": -357.75, "throttle": 0.0, "brake_pressure": 85.5,
        "steering_angle": -4.75, "ride_height_front": 0.032, "ride_height_rear": 0.058, "roll_angle": 0.85,
        "gear": 1.0,
        # Unity local axes to ISO 8855
        "accel_longitudinal": -37.75, "accel_lateral": -1.5, "accel_vertical": 9.5,
        "roll_acceleration": -0.125, "pitch_acceleration": 0.25, "yaw_acceleration": 0.5,
        "roll_rate": 0.03, "pitch_rate": 0.01, "yaw_rate": -0.2,
        # wheel states FL, FR, RL, RR
        "slip_ratio_fl": -0.08, "slip_ratio_fr": -0.07, "slip_ratio_rl": -0.06, "slip_ratio_rr": -0.05,
        "slip_angle_fl": 1.0, "slip_angle_fr": 2.0, "slip_angle_rl": 3.0, "slip_angle_rr": 4.0,
        "sector": 0.0, "total_distance": 5000.0,
    }
    for name, v in expected.items():
        assert f.value(name) == pytest.approx(_f32(v), rel=1e-6, abs=1e-7), name
    # No source at all (the bus's NaN for DRS included): absent, not zero.
    present = {CATALOG.payload_names[i] for i in np.flatnonzero(f.present)}
    assert present == set(expected)
    assert f.value("drs_position") is None and f.value("tyre_temperature_fl") is None
