"""A lap file's ``.metadata``: read as the simulator writes it, used, and cross-checked with the file.

The metadata files are written here the way TelemetryLapFileWriter.WriteMetadata does
(``JsonUtility.ToJson(TelemetryLapMetadata, true)`` to ``<csv path>.metadata``; PERRINN/project-424-unity
``Assets/Features/Telemetry Lap File/``), with the field values of a real lap: the metadata of the
2025 lap asset ``Assets/Replays/2025-08-25 20.44.57 UTC 05.00.003.asset`` in the fork
VictorySpecificationII/project-424-unity @ 2bedcc6298c47beae70b874ed2fb5c9c0349f6c8 (a whole
300.00256 s Nordschleife lap of 5 sectors, 15,000 rows at 50 Hz). Beside the 15 s excerpt those
values must be reported as disagreeing; metadata describing the excerpt itself must agree.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.test_lapfile import Receiver, rows_of, write_rows
from unity_bridge.lapfile import LapFileError, read_lap_file
from unity_bridge.lapmeta import LapMetadata, Verdict
from unity_bridge.streams import replay_lap_file

# The real lap's metadata values (see the module docstring).
REAL_LAP: dict[str, Any] = {
    "trackName": "424 Nordschleife Scene",
    "fileFormatVersion": 1,
    "frequency": 50,
    "lapIndex": 1,
    "lapTime": 300.00256,
    "completed": True,
    "completedSectors": 5.0,
    "sectorsTime": [62.498047, 53.72876, 56.670166, 55.23828, 71.86731],
    "count": 15000,
    "csvFile": "2025-08-25 20.44.57 UTC 05.00.003.csv",
    "timeStamp": 1756154697,
    "ideal": False,
    "idealSectorOrigin": [],
}
# Channels the 2025 lap polled at 100 Hz (its channelsFrequency); the rest at 50 Hz.
HIGH_RATE = ("Acceleration", "WheelSpin", "VelocityYaw", "SuspensionTravel", "WheelLoad", "RideHeight")
FIXED_COLUMNS = 10  # the writer's DataRow columns before the channels


def metadata_for(csv: Path, **fields: Any) -> dict[str, Any]:
    """TelemetryLapMetadata for ``csv`` as the writer fills it: headers, units and channels from the
    file, the real lap's other values unless given."""
    rows = rows_of(csv)
    channels = rows[0][FIXED_COLUMNS:]
    return {
        **REAL_LAP,
        "headers": rows[0],
        "headerUnits": rows[1],
        "channels": channels,
        "channelsFrequency": [99.99999 if c.startswith(HIGH_RATE) else 49.999996 for c in channels],
        "csvFile": csv.name,
        **fields,
    }


def write_metadata(csv: Path, doc: dict[str, Any], name: str | None = None) -> Path:
    path = csv.with_name(name or csv.name + ".metadata")
    path.write_text(json.dumps(doc, indent=4))  # Infinity for a sector not completed, as JsonUtility writes it
    return path


@pytest.fixture
def lap_csv(excerpt_csv: Path, tmp_path: Path) -> Path:
    return write_rows(tmp_path / "2023-01-01 10.00.00 UTC 00.15.000.csv", rows_of(excerpt_csv))


def verdicts(csv: Path) -> dict[str, Verdict]:
    return {c.item: c.verdict for c in read_lap_file(csv).metadata_checks}


def test_metadata_describing_the_file_is_used_and_agrees(lap_csv: Path) -> None:
    # The excerpt's own lap: 750 rows at 50 Hz, 15 s, one sector (its Sector column stays 0).
    write_metadata(lap_csv, metadata_for(lap_csv, lapTime=15.0, sectorsTime=[15.0], completedSectors=1.0, count=750))
    lap = read_lap_file(lap_csv)
    meta = lap.metadata
    assert isinstance(meta, LapMetadata)
    assert lap.track == meta.track_name == "424 Nordschleife Scene"
    assert (meta.lap_index, meta.completed, meta.count, meta.frequency) == (1, True, 750, 50.0)
    assert meta.headers[:3] == ("Frame", "Time", "Distance") and meta.header_units[20] == "km/h"
    assert meta.channels_frequency[meta.channels.index("VelocityYaw")] == pytest.approx(100, abs=1e-4)
    assert {c.item: c.verdict for c in lap.metadata_checks} == {
        "lap time": Verdict.AGREES,  # 15.000 against the file's 15.00015 s: within one 0.02 s sample
        "sector 1 time": Verdict.AGREES,
        "rows": Verdict.AGREES,
        "frequency": Verdict.AGREES,
        "headers": Verdict.AGREES,
        "units row": Verdict.AGREES,
    }
    assert not [line for line in lap.report() if line.startswith("warning")]
    assert any("track '424 Nordschleife Scene', lap 1 (completed)" in line for line in lap.report())


def test_replay_names_the_track_of_the_metadata(lap_csv: Path) -> None:
    write_metadata(lap_csv, metadata_for(lap_csv, lapTime=15.0, sectorsTime=[15.0], count=750))
    rx = Receiver()
    result = replay_lap_file(lap_csv, "127.0.0.1", rx.port, speed=None, quiet=True)
    assert len(rx.close()) == result.frames_sent == 751
    assert result.track == "424 Nordschleife Scene"  # what `replay` records as the session's track


def test_metadata_of_another_lap_is_reported(lap_csv: Path) -> None:
    # The real 300 s lap's values beside the 15 s excerpt: every disagreement named, nothing fatal.
    write_metadata(lap_csv, metadata_for(lap_csv))
    lap = read_lap_file(lap_csv)
    checks = {c.item: c for c in lap.metadata_checks}
    assert checks["lap time"].verdict is Verdict.DIFFERS
    assert checks["lap time"].message == (
        "lap time differs: metadata 300.003 s, file 15.000 s (tolerance 0.020 s, one sample period)"
    )
    assert checks["sectors"].message == "sectors differs: metadata 5, file 1"
    assert checks["rows"].message == "rows differs: metadata 15000, file 750"
    warnings = [line for line in lap.report() if line.startswith("warning: ")]
    assert len(warnings) == 3
    assert lap.track == "424 Nordschleife Scene"  # still the session's track


def test_sector_times_are_checked_against_the_sector_column(lap_csv: Path) -> None:
    rows = rows_of(lap_csv)
    j = rows[0].index("Sector")
    for r, row in enumerate(rows[2:]):  # the writer counts sectors from 0
        row[j] = f"{(r >= 300) + (r >= 600):.5f}"
    write_rows(lap_csv, rows)
    # Sector lines at rows 300 and 600: Time 6.00 and 12.00, the lap closing at 15.00015.
    inf = math.inf
    write_metadata(lap_csv, metadata_for(lap_csv, lapTime=15.0, sectorsTime=[6.01, 5.95, inf], count=750))
    checks = {c.item: c for c in read_lap_file(lap_csv).metadata_checks}
    assert checks["sector 1 time"].verdict is Verdict.AGREES  # 6.01 against 6.000: within 0.02 s
    assert checks["sector 2 time"].verdict is Verdict.DIFFERS  # 5.95 against 6.000
    assert checks["sector 2 time"].message.startswith("sector 2 time differs: metadata 5.950 s, file 6.000 s")
    assert checks["sector 3 time"].verdict is Verdict.UNCHECKED  # +Infinity: not completed
    assert read_lap_file(lap_csv).columns["sector"][[0, 299, 300, 600]].tolist() == [1, 1, 2, 3]


def test_sector_times_from_sector_line_markers(lap_csv: Path) -> None:
    rows = rows_of(lap_csv)
    sector, markers = rows[0].index("Sector"), rows[0].index("Markers")
    rows = [[c for k, c in enumerate(r) if k != sector] for r in rows]  # no Sector column
    for r in (400, 401):  # the simulator may mark more than one sample at a line
        rows[2 + r][markers - 1] = f"{1 << 4:.5f}"
    write_rows(lap_csv, rows)
    write_metadata(lap_csv, metadata_for(lap_csv, lapTime=15.0, sectorsTime=[8.0, 7.0], count=750))
    checks = {c.item: c.verdict for c in read_lap_file(lap_csv).metadata_checks}
    assert (checks["sector 1 time"], checks["sector 2 time"]) == (Verdict.AGREES, Verdict.AGREES)


def test_other_differences_are_named(lap_csv: Path) -> None:
    headers = rows_of(lap_csv)[0]
    headers_2025 = [*headers[:20], "LiftAndCoast", *headers[20:]]  # the 2025 writer added it after Gear
    write_metadata(lap_csv, metadata_for(lap_csv, headers=headers_2025, frequency=100, fileFormatVersion=2))
    checks = {c.item: c for c in read_lap_file(lap_csv).metadata_checks}
    assert checks["headers"].message == "headers differs: metadata 61 names, file 60"
    assert checks["frequency"].message.startswith("frequency differs: metadata 100 Hz, file 50 Hz")
    assert checks["format version"].verdict is Verdict.DIFFERS
    renamed = [*headers[:20], "speed", *headers[21:]]
    write_metadata(lap_csv, metadata_for(lap_csv, headers=renamed))
    checks = {c.item: c for c in read_lap_file(lap_csv).metadata_checks}
    assert checks["headers"].message == "headers differs: metadata 'speed' at column 21, file 'Speed'"


def test_either_metadata_name_is_found_and_missing_fields_are_unknown(lap_csv: Path) -> None:
    write_metadata(lap_csv, {"trackName": "Nordschleife", "lapTime": 15.0}, name=lap_csv.stem + ".metadata")
    lap = read_lap_file(lap_csv)
    assert lap.metadata is not None and lap.metadata.track_name == "Nordschleife"
    assert lap.metadata.count is None and lap.metadata.completed is None and math.isnan(lap.metadata.frequency)
    assert [c.item for c in lap.metadata_checks] == ["lap time"]  # nothing else to check against
    assert "lap ? (completion unknown)" in lap.report()[-1]
    write_metadata(lap_csv, {"trackName": "the writer's own name wins"})  # lap.csv.metadata
    assert read_lap_file(lap_csv).track == "the writer's own name wins"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"\.csv\.metadata: not JSON"),
        ("[1, 2]", r"expected a JSON object, found list"),
        ('{"lapTime": "fast"}', r"field 'lapTime' should be a number, not 'fast'"),
        ('{"count": 1.5}', r"field 'count' should be a whole number, not 1\.5"),
        ('{"completed": 2}', r"field 'completed' should be true or false, not 2"),
        ('{"sectorsTime": [1, "x"]}', r"field 'sectorsTime' should be a list of numbers"),
        ('{"headers": "Frame,Time"}', r"field 'headers' should be a list of text"),
    ],
)
def test_unreadable_metadata_stops_with_its_name(lap_csv: Path, text: str, message: str) -> None:
    lap_csv.with_name(lap_csv.name + ".metadata").write_text(text)
    with pytest.raises(LapFileError, match=message):
        read_lap_file(lap_csv)
