"""Today's export format end to end: `replay` of the real excerpt through the running stack.

The excerpt (PERRINN/project-424-unity ``Assets/Features/AI Speed Estimator/Trainer/data/training_data.csv``
@ 77288b99ff198132fa04f94a60c2a9f04abb6c1c, first 15 s) is replayed as a 2-lap stint by the same
command line users run, with a ``.metadata`` shaped like the simulator's beside it. What Cassandra
stores is compared with an independent pandas read of the file, made as the upstream trainer reads
it (``pd.read_csv(path, header=0, skiprows=[1])``), converted by hand from its units row.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.helpers import Stack, unique_session_id, wait_for
from tests.test_lapfile import rows_of, write_rows
from tests.test_lapmeta import metadata_for, write_metadata
from unity_bridge import cli

pytestmark = pytest.mark.platform

KMH = 1000 / 3600  # m/s per km/h
G = 9.80665  # m/s2 per G
LAPS = 2


def complete_laps(stack: Stack, sid: int) -> list[dict[str, Any]] | None:
    rows = [r for r in stack.store.laps(sid) if r["complete"]]
    return rows if len(rows) >= LAPS else None


def test_the_real_export_is_stored_as_pandas_reads_it(
    stack: Stack, excerpt_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_rows(tmp_path / "2023-01-01 10.00.00 UTC 00.15.000.csv", rows_of(excerpt_csv))
    write_metadata(csv, metadata_for(csv, lapTime=15.0, sectorsTime=[15.0], count=750))
    sid = unique_session_id()
    assert cli.main(["replay", str(csv), "--max", "--laps", str(LAPS), "--car", "7", "--session", str(sid)]) == 0
    printed = capsys.readouterr().out
    assert "track '424 Nordschleife Scene'" in printed and "LapDistance also gives lap_distance" in printed

    df = pd.read_csv(excerpt_csv, header=0, skiprows=[1])
    frames = LAPS * len(df) + 1  # and the crossing that closes the last lap
    wait_for(
        lambda: (q := stack.store.quality(sid)) is not None and q["frames_received"] >= frames,
        300,
        "every frame of the replay in Cassandra",
    )
    session = stack.store.session_row(sid)
    assert session is not None
    assert (session["track"], session["source"], session["frames"]) == ("424 Nordschleife Scene", "replay", frames)

    laps = {r["lap"]: r for r in wait_for(lambda: complete_laps(stack, sid), 120, f"{LAPS} complete laps")}
    # Each lap runs from the file's first row to the next loop's first row: the file's span plus one
    # sample; it travels every forward step of Distance (m) and, at the reset to the line, the new
    # lap's first distance.
    lap_time = df["Time"].iloc[-1] - df["Time"].iloc[0] + df["Time"].diff().median()
    distance = df["Distance"].diff().clip(lower=0).sum() + df["Distance"].iloc[0]
    for number in range(1, LAPS + 1):
        got = laps[number]
        assert got["frames"] == len(df)
        assert got["lap_time"] == pytest.approx(lap_time, abs=1e-6)
        assert got["distance"] == pytest.approx(distance, rel=1e-6)
        assert got["max_speed"] == pytest.approx(df["Speed"].max() * KMH, rel=1e-6)  # km/h in the file
        assert got["accel_lateral_max"] == pytest.approx(-df["AccelerationLat"].min() * G, rel=1e-6)  # ISO y left
        assert got["throttle_max"] == pytest.approx(df["Throttle"].max() / 100, rel=1e-6)  # % in the file
        assert got["battery_power_min"] == pytest.approx(df["BatteryPower"].min(), rel=1e-6)  # kW, no unit written
        assert got["energy_net_kwh"] is None or math.isnan(got["energy_net_kwh"])  # no electrical power column
