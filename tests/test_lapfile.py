"""Simulator lap files: parsing (CR+LF or LF, any column subset, unknown columns) and stint replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from p424.catalog import CATALOG
from p424.markers import MARKER_START_LINE
from unity_bridge.lapfile import LapFileError, lap_frames, read_lap_file


def test_reads_the_real_fixture(fixture_csv: Path) -> None:
    lap = read_lap_file(fixture_csv)
    assert lap.samples == 1101
    assert lap.unknown_columns == ()
    assert set(lap.columns) >= {"lap_distance", "markers", "speed", "motor_rpm_front", "power_electrical_total"}
    assert lap.duration == pytest.approx(21.988001 - 0.006 + 0.020, abs=1e-9)  # last TIME - first TIME + one 50 Hz step


def test_crlf_files_and_unknown_columns(tmp_path: Path, fixture_csv: Path) -> None:
    lines = fixture_csv.read_text().splitlines()
    header = lines[0] + ",WHEELCOLOUR"
    body = [line + ",7" for line in lines[1:50]]
    crlf = tmp_path / "lap.csv"
    crlf.write_bytes(("\r\n".join([header, *body]) + "\r\n").encode())
    lap = read_lap_file(crlf)
    assert lap.samples == 49
    assert lap.unknown_columns == ("WHEELCOLOUR",)
    lf = read_lap_file(fixture_csv)
    np.testing.assert_array_equal(lap.columns["speed"], lf.columns["speed"][:49])


def test_bad_files_say_what_is_wrong(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("TIME,SPEED\n0.0,1\n0.0,2\n")
    with pytest.raises(LapFileError, match="increase"):
        read_lap_file(p)
    p.write_text("SPEED\n1\n")
    with pytest.raises(LapFileError, match="TIME"):
        read_lap_file(p)
    p.write_text("TIME,SPEED\n0.0,fast\n")
    with pytest.raises(LapFileError, match="non-numeric"):
        read_lap_file(p)


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
