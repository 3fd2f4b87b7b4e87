"""Export, no services: the simulator's lap-file layout checked against a real export of today's
simulator, the round trip through the lap-file reader and the stream job's core, and Parquet.

The real export is tests/data/perrinn424_training_data_excerpt_15s.csv: the first 15 s of
PERRINN/project-424-unity ``Assets/Features/AI Speed Estimator/Trainer/data/training_data.csv`` @
77288b99ff19, written by its ``TelemetryLapFileWriter`` (``DataRow`` fixed columns, a units row,
display units, ``{0:F5}``, CR+LF). Exporting what that file holds must write its cells back.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder
from p424.export import parquet, simcsv
from p424.export.simcsv import ExportError
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from p424.units import conversion
from tests import analysis_reference as ref
from unity_bridge.lapfile import lap_frames, read_lap_file

T0_MS = 1_790_000_000_000


def excerpt_as_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """The real export's samples shaped as ``Lap.get_frames`` gives a stored lap, the file as written
    (pandas, the units row skipped) and its units row."""
    units = pd.read_csv(ref.EXCERPT, nrows=1, header=0, keep_default_na=False).iloc[0]
    written = pd.read_csv(ref.EXCERPT, header=0, skiprows=[1])
    lap = ref.excerpt_lap()
    frames = pd.DataFrame(
        {
            "SessionTime": written["TotalTime"],
            "LapTime": written["Time"],
            "Distance": written["Distance"],
            "Sequence": written["Frame"].astype("int64"),
            "Lap": written["SegmentNum"].astype("int64"),
            "Markers": written["Markers"].astype("int64"),
        }
    )
    return pd.concat([frames, lap.channels], axis=1), written, units


def parse(text: str) -> tuple[list[str], list[str], pd.DataFrame]:
    lines = text.split("\r\n")
    header, units = lines[0].split(","), lines[1].split(",")
    return header, units, pd.read_csv(io.StringIO(text), header=0, skiprows=[1])


def test_the_fixed_columns_and_their_units_are_those_of_todays_exporter() -> None:
    header, units, _ = parse(ref.EXCERPT.read_bytes().decode("utf-8"))
    n = len(simcsv.FIXED_COLUMNS)
    assert tuple(zip(header[:n], units[:n], strict=True)) == simcsv.FIXED_COLUMNS


def test_every_written_channel_column_reads_back_as_its_channel() -> None:
    by_csv = CATALOG.by_csv_column()
    for channel in simcsv.channel_columns():
        assert by_csv[channel.csv_column.upper()] is channel
        assert np.isfinite(simcsv.written_factor(channel)) and simcsv.written_factor(channel) != 0
    fixed = {c.name for c in simcsv.fixed_channels().values()}
    assert fixed == {"lap_distance", "sim_time", "total_distance", "lap", "sector", "markers"}
    assert not fixed & {c.name for c in simcsv.channel_columns()}


def test_exporting_what_the_real_export_holds_writes_its_cells_back() -> None:
    frames, written, units = excerpt_as_frames()
    lap = simcsv.lap_file(frames)
    header, our_units, ours = parse(lap.text())
    # Every column of the real file is written, under the same name, except its LapDistance: the
    # lap distance travels once, in the fixed Distance column (LapDistance is its km alias).
    assert set(written.columns) - set(header) == {"LapDistance"}
    assert set(header) <= set(written.columns)
    assert len(ours) == len(written) == 750
    by_csv = CATALOG.by_csv_column()
    rescaled = []
    for column, unit in zip(header, our_units, strict=True):
        channel = by_csv.get(column.upper())
        theirs = str(units[column])
        # The value each file means, in the catalog's unit, by the file's own units row (the
        # simulator leaves some units cells empty where the value is in the catalog's unit).
        ours_factor = conversion(unit, channel.unit).factor if channel else 1.0
        theirs_factor = conversion(theirs, channel.unit).factor if channel else 1.0
        ours_stored = ours[column].to_numpy() * ours_factor
        theirs_stored = written[column].to_numpy() * theirs_factor
        resolution = 0.51e-5 * (abs(ours_factor) + abs(theirs_factor))  # both written to five decimals
        np.testing.assert_allclose(ours_stored, theirs_stored, atol=resolution, rtol=0, err_msg=column)
        if ours_factor == pytest.approx(theirs_factor):
            np.testing.assert_allclose(ours[column], written[column], atol=1.01e-5, rtol=0, err_msg=column)
        else:
            rescaled.append(column)
    # Every column in the simulator's own unit (yaw rate included: displayed in degrees per second).
    assert rescaled == []


def test_the_text_is_crlf_with_five_decimals_and_dotnet_nan() -> None:
    frames, _, _ = excerpt_as_frames()
    frames.loc[3, "speed"] = np.nan
    text = simcsv.lap_file(frames, ["speed", "throttle"]).text()
    lines = text.split("\r\n")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert lines[0] == ",".join([*(c for c, _ in simcsv.FIXED_COLUMNS), "Speed", "Throttle"])
    assert lines[1] == ",".join([*(u for _, u in simcsv.FIXED_COLUMNS), "km/h", "%"])
    assert lines[2].split(",")[:3] == ["5299.00000", "0.00000", "0.75086"]
    assert lines[5].split(",")[10] == "NaN"
    assert all(len(c.split(".")[1]) == 5 for c in lines[2].split(","))


def test_unknown_channels_and_empty_laps_are_refused() -> None:
    frames, _, _ = excerpt_as_frames()
    with pytest.raises(ExportError, match="not catalog channels: nope"):
        simcsv.lap_file(frames, ["speed", "nope"])
    with pytest.raises(ExportError, match="no frames"):
        simcsv.lap_file(frames.iloc[:0])
    with pytest.raises(ExportError, match="lack Sequence"):
        simcsv.lap_file(frames.drop(columns=["Sequence"]))


def test_file_names_and_metadata_follow_the_simulators_writer() -> None:
    end = datetime(2026, 12, 4, 22, 6, 30, tzinfo=UTC)
    assert simcsv.file_name(end, 318.1) == "2026-12-04 22.06.30 UTC 05.18.100.csv"
    assert simcsv.file_name(end, None) == "2026-12-04 22.06.30 UTC unfinished.csv"
    frames, _, _ = excerpt_as_frames()
    lap = simcsv.lap_file(frames, ["speed", "accel_lateral"])
    meta = simcsv.metadata(
        lap,
        track="424 Nordschleife Scene",
        lap_index=1,
        lap_time=15.0,
        completed=False,
        sector_times=[],
        csv_file="x.csv",
        time_stamp=1_790_000_000,
    )
    assert meta["frequency"] == 50 and meta["count"] == 750 and meta["headers"] == list(lap.header)
    assert meta["channels"] == ["Speed", "AccelerationLat"] and meta["channelsFrequency"] == [50.0, 100.0]
    assert json.loads(json.dumps(meta)) == meta


# ---------------------------------------------------------------- round trip
def replayed_laps(path: Path, session_id: int) -> list[object]:
    lap = read_lap_file(path)
    samples = list(lap_frames(lap, 1, 9, session_id))
    encoder = FrameEncoder(~np.isnan(samples[0][1]))
    proc = SessionProcessor(session_id, 9)
    out = Outputs()
    for i, (header, values) in enumerate(samples):
        out.extend(proc.on_frame(encoder.encode(header, np.nan_to_num(values)), T0_MS + 20 * i))
    out.extend(proc.flush())
    return [lap for lap in out.laps if lap.complete]


@pytest.mark.parametrize("which", ["fixture", "excerpt"])
def test_an_exported_lap_replays_to_the_same_lap_summary(tmp_path: Path, which: str) -> None:
    real = ref.fixture_lap() if which == "fixture" else ref.excerpt_lap()
    frames, df = ref.stint_frames([ref.warped(real, 0.01, 0.0), ref.warped(real, -0.02, 1.0), real], 601, 3)
    proc = SessionProcessor(601, 3)
    out = Outputs()
    for i, raw in enumerate(frames):
        out.extend(proc.on_frame(raw, T0_MS + 20 * i))
    out.extend(proc.flush())
    original = {lap.lap: lap for lap in out.laps if lap.complete}
    for number in (1, 2):
        g = df[df["lap"] == number]
        samples = pd.DataFrame(
            {
                "SessionTime": g["sim_time"],
                "LapTime": g["sim_time"] - g["sim_time"].iloc[0],
                "Distance": g["lap_distance"],
                "Sequence": g["seq"],
                "Lap": g["lap"],
                "Markers": g["markers"],
            }
        )
        samples = pd.concat([samples, g[[c for c in g.columns if c in CATALOG.payload_index]]], axis=1)
        path = tmp_path / f"lap{number}.csv"
        path.write_bytes(simcsv.lap_file(samples.reset_index(drop=True)).text().encode())
        (replayed,) = replayed_laps(path, 700 + number)
        lap = original[number]
        assert replayed.lap_time == pytest.approx(lap.lap_time, abs=2e-5)
        assert replayed.distance == pytest.approx(lap.distance, abs=1e-4)
        for energy in ("energy_drawn_kwh", "energy_regen_kwh", "energy_net_kwh"):
            want = getattr(lap, energy)  # None when the lap carries no total power (today's export)
            assert getattr(replayed, energy) == (None if want is None else pytest.approx(want, rel=1e-5, abs=1e-8))
        assert replayed.max_speed == pytest.approx(lap.max_speed, rel=1e-6)


def test_an_exported_excerpt_reads_back_whole(tmp_path: Path) -> None:
    """The simulator's layout is kept whole (its units row), and the lap-file reader takes it."""
    frames, _, _ = excerpt_as_frames()
    path = tmp_path / "lap.csv"
    path.write_bytes(simcsv.lap_file(frames).text().encode())
    lap = read_lap_file(path)
    assert lap.samples == 750 and lap.unknown_columns == ()


# ---------------------------------------------------------------- parquet
def test_parquet_carries_units_and_the_catalog_version() -> None:
    frames, _, _ = excerpt_as_frames()
    frame = frames[["SessionTime", "LapTime", "Distance", "speed", "accel_lateral"]].copy()
    frame.insert(0, "LapNumber", 1)
    frame["speed_mean"] = frame["speed"].astype("float32")
    table = parquet.table(frame, {"session_id": "42", "source": "raw"})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    back = pq.read_table(io.BytesIO(buf.getvalue()))
    meta = back.schema.metadata
    assert meta[b"p424.catalog_version"] == CATALOG.version.encode()
    assert meta[b"p424.catalog_hash"] == CATALOG.hash_hex.encode()
    assert meta[b"p424.session_id"] == b"42" and meta[b"p424.source"] == b"raw"
    speed = back.schema.field("speed").metadata
    assert (speed[b"unit"], speed[b"display_unit"], speed[b"kind"]) == (b"m/s", b"km/h", b"continuous")
    assert back.schema.field("speed_mean").metadata[b"window_stat"] == b"mean"
    assert back.schema.field("Distance").metadata[b"unit"] == b"m"
    pd.testing.assert_frame_equal(back.to_pandas(), frame)
    with pytest.raises(ValueError, match="neither a catalog channel"):
        parquet.table(frame.assign(bogus=1.0), {})
