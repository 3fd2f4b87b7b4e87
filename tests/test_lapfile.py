"""Simulator lap files: both export formats, unit conversion, refusals, and stint replay.

Two real exports are read (sources in tests/data/README.md): the 2021-era fixture (upper-case
headers, no units row) and an excerpt of today's format, PERRINN/project-424-unity
``Assets/Features/AI Speed Estimator/Trainer/data/training_data.csv`` @ 77288b99ff198132fa04f94a60c2a9f04abb6c1c
(mixed-case headers, units row, CR+LF). What the reader makes of the excerpt is checked against an
independent pandas read of the same bytes, made as the upstream trainer
(``train_speed_estimator.py``) reads it: ``pd.read_csv(path, header=0, skiprows=[1])``, the units
row skipped. Unit factors below are written from the units' definitions, not from p424/units.py.
"""

from __future__ import annotations

import math
import socket
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from p424.catalog import CATALOG
from p424.codec.frame import decode_frame
from unity_bridge import cli
from unity_bridge.lapfile import (
    MARKER_START_LINE,
    LapFileError,
    lap_frames,
    read_lap_file,
    stint_presence,
)
from unity_bridge.streams import lap_encoder, replay_lap_file

# Stored value per written value, by the spellings of the excerpt's units row: the definitions of
# the units (1 km/h = 1000 m / 3600 s, standard gravity 9.80665 m/s2, 180 degrees = pi rad).
PER_UNIT = {
    "": 1.0,
    "n/a": 1.0,
    "s": 1.0,
    "m": 1.0,
    "°": 1.0,  # the catalog stores angles in degrees
    "rpm": 1.0,
    "kW": 1.0,
    "Nm": 1.0,
    "km/h": 1000 / 3600,
    "km": 1000.0,
    "mm": 0.001,
    "%": 0.01,
    "G": 9.80665,
    "°/s": math.pi / 180,
}
# The exporter's fixed columns that are no catalog channel: read, never sent.
NOT_CHANNELS = {"Frame", "Time", "MarkerTime", "MarkerFlag"}
EXCERPT_ROWS = 750


def pandas_read(path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """The samples as the upstream trainer reads them, and the units row as text."""
    df = pd.read_csv(path, header=0, skiprows=[1])
    units = pd.read_csv(path, header=0, nrows=1, dtype=str, keep_default_na=False).iloc[0].to_dict()
    return df, units


def rows_of(path: Path) -> list[list[str]]:
    """The file's cells by line (index 0 is line 1), for writing altered copies."""
    return [line.split(",") for line in path.read_bytes().decode("utf-8").split("\r\n") if line]


def write_rows(path: Path, rows: list[list[str]], eol: str = "\r\n") -> Path:
    path.write_bytes((eol.join(",".join(r) for r in rows) + eol).encode("utf-8"))
    return path


# ---------- the 2021-era fixture (upper case, no units row) ----------


def test_reads_the_real_fixture(fixture_csv: Path) -> None:
    lap = read_lap_file(fixture_csv)
    assert lap.samples == 1101
    assert lap.unknown_columns == ()
    assert set(lap.columns) >= {"lap_distance", "markers", "speed", "motor_rpm_front", "power_electrical_total"}
    assert lap.duration == pytest.approx(21.988001 - 0.006 + 0.020, abs=1e-9)  # last TIME - first TIME + one 50 Hz step
    assert lap.metadata is None and lap.track == ""
    df = pd.read_csv(fixture_csv)  # no units row: every value is as the catalog stores it
    np.testing.assert_array_equal(lap.columns["speed"], df["SPEED"])
    np.testing.assert_array_equal(lap.columns["power_electrical_total"], df["POWERELECTRICALTOTAL"])


def test_crlf_files_and_unknown_columns(tmp_path: Path, fixture_csv: Path) -> None:
    lines = fixture_csv.read_text().splitlines()
    header = lines[0] + ",WHEELCOLOUR"
    body = [line + ",7" for line in lines[1:50]]
    crlf = tmp_path / "lap.csv"
    crlf.write_bytes(("\r\n".join([header, *body]) + "\r\n").encode())
    lap = read_lap_file(crlf)
    assert lap.samples == 49
    assert lap.unknown_columns == ("WHEELCOLOUR",)
    assert lap.report() == ["columns not in the channel catalog (not sent): WHEELCOLOUR"]
    lf = read_lap_file(fixture_csv)
    np.testing.assert_array_equal(lap.columns["speed"], lf.columns["speed"][:49])


def test_looping_a_lap_makes_a_stint(fixture_csv: Path) -> None:
    lap = read_lap_file(fixture_csv)
    samples = list(lap_frames(lap, 3, car_id=2, session_id=5))
    headers = [h for h, _ in samples]
    assert len(samples) == 3 * lap.samples + 1  # and the line crossing that closes lap 3
    assert [h.sequence for h in headers] == list(range(len(samples)))
    times = np.array([h.sim_time for h in headers])
    assert np.all(np.diff(times) > 0)  # the session clock keeps increasing
    firsts = [headers[k * lap.samples] for k in range(4)]
    assert [h.lap for h in firsts] == [1, 2, 3, 4]
    assert all(h.markers & MARKER_START_LINE for h in firsts)
    assert headers[-1] is firsts[-1] and times[-1] - times[0] == pytest.approx(3 * lap.duration)
    assert times[lap.samples] - times[0] == pytest.approx(lap.duration)
    total = np.array([v[CATALOG.payload_index["total_distance"]] for _, v in samples])
    assert np.all(np.diff(total) >= 0) and total[-1] > 3 * 1200  # total distance keeps increasing
    throttle = np.array([v[CATALOG.payload_index["throttle"]] for _, v in samples])
    assert np.isnan(throttle).all()  # not in the file: absent, not zero


# ---------- today's format: the real excerpt ----------


def test_the_real_export_maps_every_column(excerpt_csv: Path) -> None:
    lap = read_lap_file(excerpt_csv)
    assert lap.samples == EXCERPT_ROWS
    # Nothing in today's export is left out of the catalog: every column but the exporter's own
    # bookkeeping (frame counter, lap clock, marker time and flag) gives a channel.
    assert lap.unknown_columns == ()
    by_column = {c.column: c for c in lap.column_map}
    assert len(by_column) == 60
    channels = {c.column: c.target for c in lap.column_map if c.column not in NOT_CHANNELS}
    assert all(target in CATALOG.by_name for target in channels.values())
    assert {c.column for c in lap.column_map if not c.used} == {"LapDistance"}  # Distance comes first
    assert set(lap.columns) == set(channels.values())
    assert not {c.target for c in lap.column_map if c.column in NOT_CHANNELS} & set(lap.columns)
    assert (channels["nWheelFL"], channels["VelocityYaw"], channels["BatteryNetEnergy"]) == (
        "wheel_rpm_fl",
        "yaw_rate",
        "battery_net_energy",
    )


def test_every_column_is_converted_by_its_units_row(excerpt_csv: Path) -> None:
    lap = read_lap_file(excerpt_csv)
    df, units = pandas_read(excerpt_csv)
    by_csv = CATALOG.by_csv_column()
    checked = 0
    for column in df.columns:
        if column in NOT_CHANNELS or column == "LapDistance":
            continue
        channel = by_csv[column.upper()]
        offset = 1.0 if channel.name == "sector" else 0.0  # the file counts sectors from 0, the catalog from 1
        expected = df[column].to_numpy() * PER_UNIT[units[column]] * channel.sim_sign + offset
        np.testing.assert_allclose(lap.columns[channel.name], expected, rtol=1e-12, atol=0, err_msg=column)
        checked += 1
    assert checked == 55
    np.testing.assert_allclose(lap.lap_time, df["Time"], rtol=1e-12, atol=0)


def test_named_conversions_of_the_real_export(excerpt_csv: Path) -> None:
    lap = read_lap_file(excerpt_csv)
    df, units = pandas_read(excerpt_csv)
    assert (units["Speed"], units["AccelerationLat"], units["VelocityYaw"]) == ("km/h", "G", "°/s")
    c = lap.columns
    np.testing.assert_allclose(c["speed"], df["Speed"] / 3.6, rtol=1e-12)
    assert c["speed"].max() == pytest.approx(325.4691 / 3.6)  # 90.4 m/s at the end of the excerpt
    # ISO 8855 y points left, Unity's x right: the lateral acceleration and the yaw rate change sign.
    np.testing.assert_allclose(c["accel_lateral"], -df["AccelerationLat"] * 9.80665, rtol=1e-12)
    np.testing.assert_allclose(c["accel_longitudinal"], df["AccelerationLong"] * 9.80665, rtol=1e-12)
    np.testing.assert_allclose(c["yaw_rate"], -np.radians(df["VelocityYaw"]), rtol=1e-12)
    np.testing.assert_allclose(c["suspension_travel_fl"], df["SuspensionTravelFL"] / 1000, rtol=1e-12)
    np.testing.assert_allclose(c["ride_height_rear"], df["RideHeightRear"] / 1000, rtol=1e-12)
    np.testing.assert_allclose(c["throttle"], df["Throttle"] / 100, rtol=1e-12)
    assert c["throttle"].max() == 1.0
    np.testing.assert_allclose(c["wheel_speed_rr"], df["WheelSpinRR"] / 3.6, rtol=1e-12)
    np.testing.assert_array_equal(c["lap_distance"], df["Distance"])
    np.testing.assert_array_equal(c["sim_time"], df["TotalTime"])
    np.testing.assert_array_equal(c["sector"], df["Sector"] + 1)
    # LapDistance (km) and Distance (m) are one channel: they agree within one sample's travel
    # everywhere but in the first row, the start-of-lap transient.
    travel = np.abs(np.diff(df["Distance"])).max()
    apart = np.abs(df["LapDistance"] * 1000 - df["Distance"])
    assert list(np.flatnonzero(apart > travel)) == [0]
    (dup,) = lap.duplicates
    assert (dup.channel, dup.kept, dup.other, dup.differing_rows, dup.first_line) == (
        "lap_distance",
        "Distance",
        "LapDistance",
        1,
        3,
    )
    assert dup.tolerance == pytest.approx(travel, abs=0.02)
    assert dup.other_value == pytest.approx(272.68)
    assert lap.report() == [dup.message] and "line 3" in dup.message


def test_crlf_and_lf_read_alike(excerpt_csv: Path, tmp_path: Path) -> None:
    assert excerpt_csv.read_bytes().count(b"\r\n") == EXCERPT_ROWS + 2  # committed byte for byte, CR+LF
    crlf = read_lap_file(excerpt_csv)
    lf = read_lap_file(write_rows(tmp_path / "lf.csv", rows_of(excerpt_csv), eol="\n"))
    assert crlf.columns.keys() == lf.columns.keys()
    for name in crlf.columns:
        np.testing.assert_array_equal(crlf.columns[name], lf.columns[name])


def test_frames_of_the_excerpt_decode_to_the_converted_values(excerpt_csv: Path) -> None:
    lap = read_lap_file(excerpt_csv)
    df, _ = pandas_read(excerpt_csv)
    encode = lap_encoder(lap)
    frames = [decode_frame(encode(h, v)) for h, v in lap_frames(lap, 2, car_id=4, session_id=77)]
    assert len(frames) == 2 * EXCERPT_ROWS + 1
    first = frames[:EXCERPT_ROWS]
    np.testing.assert_array_equal([f.header.sim_time for f in first], df["TotalTime"])
    np.testing.assert_array_equal([f.header.lap_distance for f in first], df["Distance"])
    speed = np.array([f.value("speed") for f in first])
    np.testing.assert_array_equal(speed, (df["Speed"] / 3.6).astype(np.float32))
    yaw = np.array([f.value("yaw_rate") for f in first])
    np.testing.assert_array_equal(yaw, (-np.radians(df["VelocityYaw"])).astype(np.float32))
    assert {f.value("sector") for f in first} == {1.0}
    assert all(f.value("brake_pressure") is None for f in frames)  # not in the file: absent
    # The lap starts at the line although the file's own markers are 0, and a second loop follows.
    assert frames[0].header.markers & MARKER_START_LINE and not frames[1].header.markers & MARKER_START_LINE
    assert [frames[k * EXCERPT_ROWS].header.lap for k in range(3)] == [1, 2, 3]
    loop = frames[EXCERPT_ROWS]
    assert loop.header.sim_time == pytest.approx(df["TotalTime"][0] + lap.duration)
    total = loop.value("total_distance")
    assert total == pytest.approx(df["TotalDistance"][0] + df["Distance"].iloc[-1] + df["Distance"].diff().iloc[-1])


def test_a_channel_without_a_value_in_some_rows_is_absent_there(excerpt_csv: Path, tmp_path: Path) -> None:
    rows = rows_of(excerpt_csv)
    j = rows[0].index("AeroScx")
    for line in (10, 11, 12):
        rows[line - 1][j] = "NaN"  # as the writer formats a channel without a value
    lap = read_lap_file(write_rows(tmp_path / "lap.csv", rows))
    assert stint_presence(lap) is None
    encode = lap_encoder(lap)
    frames = [decode_frame(encode(h, v)) for h, v in lap_frames(lap, 1, car_id=1, session_id=3)]
    scx = [f.value("aero_scx") for f in frames[:EXCERPT_ROWS]]
    assert [i for i, v in enumerate(scx) if v is None] == [7, 8, 9]  # lines 10-12 are rows 7-9
    assert scx[6] == pytest.approx(float(rows[8][j]))
    full = read_lap_file(excerpt_csv)
    present = stint_presence(full)
    assert present is not None and present[CATALOG.payload_index["aero_scx"]]


def test_a_negative_lap_distance_is_kept_and_the_lap_still_starts_at_the_line(
    excerpt_csv: Path, tmp_path: Path
) -> None:
    rows = rows_of(excerpt_csv)
    j = rows[0].index("Distance")
    only_lap_distance = [[c for k, c in enumerate(r) if k != j] for r in rows]  # LapDistance (km) alone
    lap = read_lap_file(write_rows(tmp_path / "lap.csv", only_lap_distance))
    assert lap.duplicates == ()
    assert lap.columns["lap_distance"][:3] == pytest.approx([272.68, -0.07, 0.70])  # the transient, as written
    first, second, _ = (h for h, _ in lap_frames(lap, 1, car_id=1, session_id=1) if h.sequence < 3)
    assert first.markers & MARKER_START_LINE and second.lap_distance == pytest.approx(-0.07)
    assert first.lap == second.lap == 1


# ---------- bad input: stopped with a message naming what is wrong ----------


def altered(path: Path, tmp_path: Path, change: str) -> Path:
    rows = rows_of(path)
    col = {name: j for j, name in enumerate(rows[0])}
    if change == "unknown unit":
        rows[1][col["Speed"]] = "kph"
    elif change == "other quantity":
        rows[1][col["nWheelFL"]] = "km/h"
    elif change == "no time":
        rows = [[c for j, c in enumerate(r) if j not in (col["Time"], col["TotalTime"])] for r in rows]
    elif change == "no distance":
        rows = [[c for j, c in enumerate(r) if j not in (col["Distance"], col["LapDistance"])] for r in rows]
    elif change == "short row":
        rows[9] = rows[9][:-1]
    elif change == "non-numeric":
        rows[6][col["Speed"]] = "fast"
    elif change == "time stands still":
        rows[19][col["Time"]] = rows[18][col["Time"]]
    elif change == "infinite value":
        rows[30][col["MotorRpmRear"]] = "Infinity"
    elif change == "no distance value":
        rows[40][col["Distance"]] = "NaN"
    elif change == "fractional lap":
        rows[5][col["SegmentNum"]] = "1.50000"
    elif change == "negative markers":
        rows[4][col["Markers"]] = "-1.00000"
    elif change == "short units row":
        rows[1] = rows[1][:-2]
    elif change == "header only":
        rows = rows[:2]
    return write_rows(tmp_path / "lap.csv", rows)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unknown unit", r"lap\.csv: column 'Speed': unknown unit 'kph'"),
        ("other quantity", r"column 'nWheelFL': unit 'km/h' does not measure what 'rpm' does"),
        ("no time", r"no time column: a lap file needs Time or TotalTime"),
        ("no distance", r"no distance column: a lap file needs Distance or LapDistance"),
        ("short row", r"line 10 has 59 values, the header names 60 columns"),
        ("non-numeric", r"line 7, column 'Speed': 'fast' is not a number"),
        ("time stands still", r"line 20: Time does not increase \(0\.32 s after 0\.32 s on line 19\)"),
        ("infinite value", r"line 31, column 'MotorRpmRear': inf cannot be sent"),
        ("no distance value", r"line 41, column 'Distance': nan is not finite"),
        ("fractional lap", r"line 6, column 'SegmentNum': 1\.5 is not a whole number"),
        ("negative markers", r"line 5, column 'Markers': -1 is not a whole number within 0\.\.4294967295"),
        ("short units row", r"line 2: the units row has 58 cells, the header names 60 columns"),
        ("header only", r"no samples after line 2"),
    ],
)
def test_bad_files_say_what_is_wrong(excerpt_csv: Path, tmp_path: Path, change: str, message: str) -> None:
    with pytest.raises(LapFileError, match=message):
        read_lap_file(altered(excerpt_csv, tmp_path, change))


def test_old_format_refusals(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("TIME,DISTANCE,SPEED\n0.0,0,1\n0.0,1,2\n")
    with pytest.raises(LapFileError, match="line 3: TIME does not increase"):
        read_lap_file(p)
    p.write_text("SPEED,DISTANCE\n1,0\n")
    with pytest.raises(LapFileError, match="no time column"):
        read_lap_file(p)
    p.write_text("TIME,DISTANCE,SPEED\n0.0,0,fast\n")
    with pytest.raises(LapFileError, match="line 2, column 'SPEED': 'fast' is not a number"):
        read_lap_file(p)
    p.write_bytes(b"TIME,DISTANCE\n0.0,1\n" + "0.1,\xb0\n".encode("latin-1"))  # a Windows-1252 degree sign
    with pytest.raises(LapFileError, match="line 3 is not UTF-8 text"):
        read_lap_file(p)
    with pytest.raises(LapFileError, match="cannot be read"):
        read_lap_file(tmp_path / "missing.csv")


class Receiver:
    """A local UDP socket that collects what is sent to it, to see what a replay puts on the wire."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = int(self.sock.getsockname()[1])
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.received.append(self.sock.recv(2048))
            except TimeoutError:
                return

    def close(self) -> list[bytes]:
        self.thread.join()
        self.sock.close()
        return self.received


def test_a_bad_file_sends_nothing(excerpt_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = altered(excerpt_csv, tmp_path, "unknown unit")
    rx = Receiver()
    with pytest.raises(LapFileError, match="unknown unit 'kph'"):
        replay_lap_file(bad, "127.0.0.1", rx.port, speed=None, quiet=True)
    assert rx.close() == []
    rx = Receiver()
    args = ["--set", "BRIDGE_UDP_PORT=" + str(rx.port), "replay", str(bad), "--max"]
    with pytest.raises(SystemExit, match=r"replay: nothing sent: lap\.csv: column 'Speed': unknown unit 'kph'"):
        cli.main(args)
    assert rx.close() == []


def test_replay_sends_the_excerpt_as_frames(excerpt_csv: Path) -> None:
    rx = Receiver()
    result = replay_lap_file(excerpt_csv, "127.0.0.1", rx.port, speed=None, laps=2, session_id=99, quiet=True)
    frames = [decode_frame(d) for d in rx.close()]
    assert result.frames_sent == len(frames) == 2 * EXCERPT_ROWS + 1
    assert result.unknown_columns == () and result.track == ""
    assert [f.header.sequence for f in frames] == list(range(len(frames)))
    df, _ = pandas_read(excerpt_csv)
    np.testing.assert_array_equal(
        [f.value("suspension_travel_rl") for f in frames[:EXCERPT_ROWS]],
        (df["SuspensionTravelRL"] / 1000).astype(np.float32),
    )
