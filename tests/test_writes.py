"""What every write stores: each table's columns and the value each one gets from a record.

Each record below has a distinct value in every field, so a column paired with the wrong parameter
shows. The expectations are written out here, independently of how ``p424.storage.writes`` and the
live predictor derive their statements, so they pin the stored rows column for column.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, OrderedDict
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from p424.catalog import CATALOG
from p424.config import Config
from p424.derived import default as derived_default
from p424.kafka import live as kafka_live
from p424.kafka.messages import LapMessage
from p424.ml.features import SPEC, LapSoFar
from p424.ml.live import service
from p424.ml.live.models import ServingModel
from p424.ml.live.state import LapTrack, WindowContext, lap_error
from p424.processing.outputs import (
    AlertRow,
    EventRow,
    FrameRow,
    LapRow,
    MathsStats,
    ProfilePoint,
    QualityRow,
    SessionRow,
    WindowRow,
)
from p424.storage import maths_stats, window_stats, writes
from p424.storage.migrate import migrations
from p424.storage.schema import catalog_columns, lap_stat_columns, maths_stat_columns, window_stat_columns

KS = "ks"
NOW_MS = 1_790_000_999_000
N_PAYLOAD = len(CATALOG.payload_channels)
N_KEY = len(CATALOG.key_channels())


def columns_of(statement: str) -> tuple[str, list[str]]:
    """(table, columns) of an ``INSERT INTO ks.<table> (<columns>) VALUES (?, ...)``, or of an
    ``UPDATE ks.<table> SET <map> = <map> + ? WHERE <key> = ? AND ...`` (the map, then the key)."""
    if update := re.fullmatch(r"UPDATE ks\.(\w+) SET (\w+) = \2 \+ \? WHERE (.*)", statement):
        key = update[3].split(" AND ")
        assert all(k.endswith(" = ?") for k in key), statement
        return update[1], [update[2], *(k.removesuffix(" = ?") for k in key)]
    m = re.fullmatch(r"INSERT INTO ks\.(\w+) \(([^)]*)\) VALUES \(([^)]*)\)", statement)
    assert m is not None, statement
    columns = m[2].split(", ")
    assert m[3] == ", ".join("?" for _ in columns)
    assert len(set(columns)) == len(columns), "a column listed twice"
    return m[1], columns


def written(statement: str, params: tuple[object, ...]) -> tuple[str, dict[str, object]]:
    table, columns = columns_of(statement)
    return table, dict(zip(columns, params, strict=True))


def vector(start: float, n: int, nan_at: tuple[int, ...] = ()) -> np.ndarray[Any, Any]:
    v = (start + np.arange(n)).astype(np.float32)
    v[list(nan_at)] = np.nan
    return v


def optional(v: np.floating[Any]) -> float | None:
    return None if np.isnan(v) else float(v)


def test_frames() -> None:
    row = FrameRow(session_id=11, seq=12, sim_time=130.5, lap=14, lap_distance=15.5, markers=16, frame=b"\x17")
    assert written(writes.Statements(KS).frame, writes.frame_params(row)) == (
        "frames",
        {
            "session_id": 11,
            "bucket": 2,  # floor(130.5 / 60)
            "seq": 12,
            "sim_time": 130.5,
            "lap": 14,
            "lap_distance": 15.5,
            "markers": 16,
            "frame": b"\x17",
        },
    )


def raw(seq: int, sim_time: float, session_id: int = 11, markers: int = 0) -> FrameRow:
    """A frame whose datagram names its sequence number, so a misplaced entry shows."""
    return FrameRow(
        session_id=session_id,
        seq=seq,
        sim_time=sim_time,
        lap=3,
        lap_distance=1.5,
        markers=markers,
        frame=f"datagram {seq}".encode(),
    )


def test_frame_blocks_add_map_entries_per_session_bucket_and_block() -> None:
    # FRAMES_PER_BLOCK = 50: seqs 2447-2449 are block 48, 2450-2452 block 49; the minute bucket
    # changes at sim time 60 s, inside block 49, so that block is written to two partitions.
    frames = [raw(2447, 59.94), raw(2448, 59.96), raw(2449, 59.98), raw(2450, 59.99), raw(2451, 60.01), raw(2452, 60.03)]
    assert writes.Statements(KS).frame_block == (
        "UPDATE ks.frame_blocks SET frames = frames + ? WHERE session_id = ? AND bucket = ? AND block = ?"
    )
    assert writes.frame_block_params(frames) == [
        ({2447: b"datagram 2447", 2448: b"datagram 2448", 2449: b"datagram 2449"}, 11, 0, 48),
        ({2450: b"datagram 2450"}, 11, 0, 49),
        ({2451: b"datagram 2451", 2452: b"datagram 2452"}, 11, 1, 49),
    ]
    assert writes.frame_block_params([]) == []


def test_late_and_duplicate_frames_join_their_own_block_once() -> None:
    # Out of order: a late frame of an earlier block and a duplicate arrive among newer frames.
    element = [raw(120, 2.4), raw(49, 0.98), raw(121, 2.42), raw(120, 2.4), raw(50, 1.0)]
    assert writes.frame_block_params(element) == [
        ({120: b"datagram 120", 121: b"datagram 121"}, 11, 0, 2),
        ({49: b"datagram 49"}, 11, 0, 0),
        ({50: b"datagram 50"}, 11, 0, 1),
    ]


def test_a_frame_lands_in_the_same_entry_however_the_elements_split_the_stream() -> None:
    """The exactly-once argument: a frame's row key and map key depend on the frame alone, so a replay
    after a restore (elements cut elsewhere) or a block written by several elements upserts the same
    entries, each seq in exactly one (session, bucket, block) row."""
    frames = [raw(seq, 54.51 + 0.02 * (seq - 2700)) for seq in range(2700, 3000)]  # 60 s falls at seq 2975

    def entries(elements: list[list[FrameRow]]) -> Counter[tuple[Any, ...]]:
        """(seq, session, bucket, block) of every map entry the elements' statements upsert."""
        found: Counter[tuple[Any, ...]] = Counter()
        for e in elements:
            for m, *key in writes.frame_block_params(e):
                assert isinstance(m, dict)
                found.update((at, *key) for at in m)
        return found

    whole = entries([frames])
    assert sorted(at for at, *_ in whole) == list(range(2700, 3000)) and set(whole.values()) == {1}
    by_64 = entries([frames[i : i + 64] for i in range(0, len(frames), 64)])  # the emit policy's element size
    replayed = entries([frames[i : i + 37] for i in range(0, len(frames), 37)] + [frames[100:180]])
    assert set(by_64) == set(whole) and set(replayed) == set(whole)
    assert {key[1:] for key in whole} >= {(11, 0, 59), (11, 1, 59)}  # block 59 (2950-2999) spans the minute


def test_frame_blocks_keep_sessions_apart_and_only_marked_frames_are_rows() -> None:
    element = [raw(5, 0.1, session_id=1), raw(5, 0.1, session_id=2, markers=4), raw(6, 0.12, session_id=1, markers=1)]
    assert writes.frame_block_params(element) == [
        ({5: b"datagram 5", 6: b"datagram 6"}, 1, 0, 0),
        ({5: b"datagram 5"}, 2, 0, 0),
    ]
    assert writes.marked(element) == element[1:]


def test_the_frame_blocks_statement_names_the_whole_primary_key() -> None:
    """An UPDATE must name the full primary key; the migration's key is read, not restated."""
    create = next(
        " ".join(st.split()) for m in migrations() for st in m.statements(KS, "{}") if "ks.frame_blocks (" in st
    )
    key = re.search(r"PRIMARY KEY \(\((\w+), (\w+)\), (\w+)\)", create)
    assert key is not None and list(writes.TABLES.frame_block.key_columns) == list(key.groups())
    assert "frames map<bigint, blob>" in create


def window_row() -> WindowRow:
    return WindowRow(
        session_id=21,
        car_id=22,
        window_ms=23,
        lap=24,
        part=25,
        ts_ms=26,
        window_start=27.5,
        lap_time=28.5,
        lap_distance=29.5,
        frame_count=30,
        mins=vector(100, N_PAYLOAD, (0, 3)),
        maxs=vector(200, N_PAYLOAD, (0, 4)),
        means=vector(300, N_PAYLOAD, (0, 5)),
        lasts=vector(400, N_PAYLOAD, (0, 6)),
        lap_energy_drawn_kwh=31.5,
        lap_energy_regen_kwh=32.5,
    )


WINDOW_SCALARS = {
    "session_id": 21,
    "window_ms": 23,
    "lap": 24,
    "part": 25,
    "ts": 26,
    "window_start": 27.5,
    "lap_time": 28.5,
    "lap_distance": 29.5,
    "frame_count": 30,
}


def test_window_rows_store_their_stats_as_one_blob() -> None:
    row = window_row()
    blob = window_stats.pack(row.mins, row.maxs, row.means, row.lasts)
    assert written(writes.Statements(KS).window, writes.window_params(row)) == (
        "channel_windows",
        {**WINDOW_SCALARS, "stats": blob, "maths_stats": None},  # no maths channels: left unset
    )


def test_window_rows_with_columns_add_every_channel_stat() -> None:
    row = window_row()
    channel_stats: dict[str, object] = {}
    for i, c in enumerate(CATALOG.payload_channels):
        for stat, values in (("min", row.mins), ("max", row.maxs), ("mean", row.means), ("last", row.lasts)):
            channel_stats[f"{c.name}_{stat}"] = optional(values[i])
    table, got = written(writes.Statements(KS).window_with_columns, writes.window_with_columns_params(row))
    assert table == "channel_windows"
    packed = window_stats.pack(row.mins, row.maxs, row.means, row.lasts)
    assert got == {**WINDOW_SCALARS, "stats": packed, "maths_stats": None, **channel_stats}
    assert list(got)[len(WINDOW_SCALARS) + 2 :] == window_stat_columns()  # the catalog's column layout


def test_laps() -> None:
    row = LapRow(
        session_id=41,
        car_id=42,
        lap=43,
        start_sim_time=44.5,
        end_sim_time=45.5,
        start_ts_ms=46,
        lap_time=47.5,
        distance=48.5,
        frames=49,
        complete=True,
        invalidated=False,
        max_speed=50.5,
        mean_speed=None,
        energy_drawn_kwh=51.5,
        energy_regen_kwh=52.5,
        energy_net_kwh=53.5,
        sector_times=[54.5, 55.5],
        mins=vector(500, N_KEY, (1,)),
        maxs=vector(600, N_KEY, (2,)),
    )
    extremes: dict[str, object] = {}
    for i, c in enumerate(CATALOG.key_channels()):
        extremes[f"{c.name}_min"] = optional(row.mins[i])
        extremes[f"{c.name}_max"] = optional(row.maxs[i])
    table, got = written(writes.Statements(KS).lap, writes.lap_params(row))
    assert table == "laps"
    assert got == {
        "session_id": 41,
        "lap": 43,
        "car_id": 42,
        "start_sim_time": 44.5,
        "end_sim_time": 45.5,
        "start_ts": 46,
        "lap_time": 47.5,
        "distance": 48.5,
        "frames": 49,
        "complete": True,
        "invalidated": False,
        "max_speed": 50.5,
        "mean_speed": None,
        "energy_drawn_kwh": 51.5,
        "energy_regen_kwh": 52.5,
        "energy_net_kwh": 53.5,
        "sector_times": [54.5, 55.5],
        **extremes,
    }
    assert list(got)[-len(extremes) :] == lap_stat_columns()


def test_distance_profile() -> None:
    row = ProfilePoint(
        session_id=61, lap=62, distance=630, elapsed=64.5, speed=65.5, throttle=None, brake_pressure=66.5,
        power_electrical_total=67.5,
    )
    assert written(writes.Statements(KS).profile, writes.profile_params(row)) == (
        "lap_distance_profile",
        {
            "session_id": 61,
            "lap": 62,
            "distance": 630,
            "elapsed": 64.5,
            "speed": 65.5,
            "throttle": None,
            "brake_pressure": 66.5,
            "power_electrical_total": 67.5,
        },
    )


def test_session_quality() -> None:
    row = QualityRow(
        session_id=71, frames_received=72, frames_lost=73, frames_duplicated=74, frames_late=75,
        frames_out_of_order=76, first_seq=77, last_seq=78,
    )
    assert written(writes.Statements(KS).quality, writes.quality_params(row, NOW_MS)) == (
        "session_quality",
        {
            "session_id": 71,
            "frames_received": 72,
            "frames_lost": 73,
            "frames_duplicated": 74,
            "frames_late": 75,
            "frames_out_of_order": 76,
            "first_seq": 77,
            "last_seq": 78,
            "updated_at": NOW_MS,
        },
    )


def test_sessions() -> None:
    row = SessionRow(
        session_id=81, car_id=82, catalog_hash="0000abcd", started_at_ms=83, last_frame_at_ms=84,
        first_sim_time=85.5, last_sim_time=86.5, frames=87, laps=88,
    )
    assert written(writes.Statements(KS).session, writes.session_params(row, NOW_MS)) == (
        "sessions",
        {
            "session_id": 81,
            "car_id": 82,
            "catalog_hash": "0000abcd",
            "started_at": 83,
            "last_frame_at": 84,
            "first_sim_time": 85.5,
            "last_sim_time": 86.5,
            "frames": 87,
            "laps": 88,
            "updated_at": NOW_MS,
        },
    )


# ---------------------------------------------------------------- the live predictor's tables
class RecordingSession:
    """Stands in for the driver's session: prepared statements are their CQL text; requests are kept."""

    def __init__(self) -> None:
        tables = {"predictions": None, "prediction_errors": None}
        self.cluster = SimpleNamespace(metadata=SimpleNamespace(keyspaces={KS: SimpleNamespace(tables=tables)}))
        self.requests: list[tuple[Any, Any]] = []

    def prepare(self, cql: str) -> str:
        return cql

    def execute_async(self, statement: Any, params: Any = None, timeout: float = 0) -> Any:
        self.requests.append((statement, params))
        return SimpleNamespace(add_errback=lambda _fn: None)


class ServingStub:
    """A model that predicts 410.5 s / 9.75 kWh while its baseline says 412 s / 10 kWh."""

    def predict(self, features: Any) -> np.ndarray[Any, Any]:
        return np.tile([410.5, 9.75], (len(features), 1))

    def baseline(self, features: Any) -> np.ndarray[Any, Any]:
        return np.tile([412.0, 10.0], (len(features), 1))


def predictor() -> tuple[service.Predictor, RecordingSession]:
    p = service.Predictor.__new__(service.Predictor)
    session = RecordingSession()
    p.cfg = Config(cassandra_keyspace=KS)
    p.model_name = "lap_model"
    p.store = SimpleNamespace(session=session)
    p.metrics = service.Metrics()
    p.state = service.LiveState()
    p.producer = None
    serving = ServingModel(track="Ring", name="lap_model", version="5", model=ServingStub(), loaded_at=0.0)
    p.watcher = SimpleNamespace(model_for=lambda track: serving if track == "Ring" else None)
    p.unserved = OrderedDict()
    p._prepare_statements()
    return p, session


def test_predictions_rows_and_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    p, _ = predictor()
    rows: list[tuple[Any, Any]] = []
    messages: list[bytes] = []
    monkeypatch.setattr(service, "unlogged_batches", lambda r, _size: rows.extend(r) or [])
    monkeypatch.setattr(kafka_live, "produce", lambda _p, _topic, _key, value, _cb: messages.append(value))
    monkeypatch.setattr(service.time, "time", lambda: 1_790_000_100.2)
    ctx = WindowContext(
        session_id=91, car_id=92, lap=93, ts_ms=94, window_start=95.5, lap_distance=96.5, lap_time_so_far=97.5,
        energy_so_far_kwh=98.5,
    )
    kafka_ts = 1_790_000_100_000
    p.predict([(ctx, np.zeros(len(SPEC.names)), kafka_ts, "Ring")])
    latency = 1_790_000_100.2 * 1000 - kafka_ts
    (statement, params), = rows
    assert written(statement, params) == (
        "predictions",
        {
            "session_id": 91,
            "lap": 93,
            "ts": 94,
            "car_id": 92,
            "window_start": 95.5,
            "lap_distance": 96.5,
            "lap_time_so_far": 97.5,
            "energy_so_far_kwh": 98.5,
            "predicted_lap_time": 410.5,
            "predicted_energy_kwh": 9.75,
            "baseline_lap_time": 412.0,
            "baseline_energy_kwh": 10.0,
            "model_name": "lap_model",
            "model_version": "5",
            "latency_ms": latency,  # as measured; the message carries it rounded to the microsecond
        },
    )
    assert messages == [
        b'{"session_id":91,"car_id":92,"lap":93,"ts_ms":94,"window_start":95.5,"lap_distance":96.5,'
        b'"lap_time_so_far":97.5,"predicted_lap_time":410.5,"predicted_energy_kwh":9.75,"baseline_lap_time":412.0,'
        b'"baseline_energy_kwh":10.0,"model_name":"lap_model","model_version":"5","latency_ms":'
        + str(round(latency, 3)).encode()
        + b"}"
    ]
    # a session on a track without a champion: nothing written or sent, counted and listed for /health
    p.predict([(dataclasses.replace(ctx, session_id=7), np.zeros(len(SPEC.names)), kafka_ts, "Nowhere")])
    assert len(rows) == 1 and len(messages) == 1
    assert p.metrics.unserved == 1 and p.unserved == {7: "Nowhere"}


def test_prediction_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    p, session = predictor()
    # Five predictions along a 1000 m, 100 s, 10 kWh lap: errors 1..5 s and 0.5..2.5 kWh, baseline 2 s / 1 kWh off.
    track = LapTrack(car_id=102, acc=LapSoFar(SPEC))
    track.distance += [100.0, 250.0, 500.0, 750.0, 900.0]
    track.predicted += [(101.0, 10.5), (102.0, 11.0), (103.0, 11.5), (104.0, 12.0), (105.0, 12.5)]
    track.baseline += [(98.0, 9.0)] * 5
    track.models = Counter({("lap_model", "6"): 4, ("lap_model", "5"): 1})
    summary = LapMessage(
        session_id=101, car_id=102, lap=103, start_sim_time=0.0, end_sim_time=100.0, start_ts_ms=1_790_000_000_000,
        lap_time=100.0, distance=1000.0, frames=5000, complete=True, invalidated=False, max_speed=None,
        mean_speed=None, energy_drawn_kwh=None, energy_regen_kwh=None, energy_net_kwh=10.0,
    )
    err = lap_error(track, summary)
    assert err is not None
    p.store_error(err)
    (statement, params), = session.requests
    assert written(statement, params) == (
        "prediction_errors",
        {
            "model_name": "lap_model",
            "month": "2026-09",
            "completed_at": 1_790_000_100_000,
            "session_id": 101,
            "lap": 103,
            "car_id": 102,
            "model_version": "6",
            "windows": 5,
            "actual_lap_time": 100.0,
            "actual_energy_kwh": 10.0,
            "mae_lap_time": 3.0,
            "mae_energy_kwh": 1.5,
            "baseline_mae_lap_time": 2.0,
            "baseline_mae_energy_kwh": 1.0,
            "error_lap_time_at_25": 2.0,
            "error_lap_time_at_50": 3.0,
            "error_lap_time_at_75": 4.0,
            "error_energy_at_25": 1.0,
            "error_energy_at_50": 1.5,
            "error_energy_at_75": 2.0,
        },
    )


# ---------------------------------------------------------------- every written column exists
def schema_columns(maths: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Table -> columns, from the migration files' CREATE TABLE and ALTER TABLE ... ADD, plus catalog
    columns (and the window columns of the maths channels named, as the migrator adds them)."""
    tables: dict[str, set[str]] = {}
    for m in migrations():
        for statement in m.statements(KS, "{}"):
            text = " ".join(statement.split())
            if create := re.fullmatch(r"CREATE TABLE (?:IF NOT EXISTS )?ks\.(\w+) \((.*?)\)(?: WITH .*)?", text):
                items = split_top_level(create[2])
                tables[create[1]] = {item.split()[0] for item in items if not item.upper().startswith("PRIMARY KEY")}
            elif alter := re.fullmatch(r"ALTER TABLE ks\.(\w+) ADD (?:IF NOT EXISTS )?(\w+) [\w<>, ]+", text):
                tables[alter[1]].add(alter[2])
            else:
                assert not text.upper().startswith("ALTER"), f"an ALTER this test does not read: {text}"
    for table, columns in catalog_columns(maths=maths).items():
        tables[table] |= set(columns)
    return tables


def split_top_level(body: str) -> list[str]:
    items, depth, current = [], 0, ""
    for ch in body:
        depth += (ch in "(<") - (ch in ")>")
        if ch == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += ch
    return [*items, current.strip()]


def test_the_schema_reader_sees_every_table_and_the_blob_column() -> None:
    schema = schema_columns()
    assert {"frames", "channel_windows", "laps", "predictions", "prediction_errors"} <= set(schema)
    assert {"lap_events", "alerts", "recent_alerts"} <= set(schema)
    assert {"stats", "maths_stats", "ts", *window_stat_columns()} <= schema["channel_windows"]  # ALTER TABLE and catalog columns
    assert "PRIMARY" not in schema["frames"] and "bucket" in schema["frames"]
    assert schema["frame_blocks"] == {"session_id", "bucket", "block", "frames"}


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(writes.Tables)])
def test_every_column_a_table_writes_exists_in_the_schema(name: str) -> None:
    table = getattr(writes.TABLES, name)
    missing = set(table.columns) - schema_columns()[table.name]
    assert not missing, f"{table.name} has no column {sorted(missing)}"
    assert columns_of(getattr(writes.Statements(KS), name)) == (table.name, list(table.columns))


# ---------------------------------------------------------------- maths channels, lap events, alarms
def maths_row() -> WindowRow:
    values = np.array([[1.5, np.nan, 3.5], [11.5, np.nan, 13.5], [21.5, np.nan, 23.5], [31.5, np.nan, 33.5]], np.float32)
    maths = MathsStats(names=("power_mgu_total", "slip_ratio_front", "energy_per_km"), units=("kW", "ratio", "kWh/km"), values=values)
    return dataclasses.replace(window_row(), maths=maths)


def test_window_rows_store_maths_channels_in_their_own_blob() -> None:
    row = maths_row()
    table, got = written(writes.Statements(KS).window, writes.window_params(row))
    assert table == "channel_windows" and got["maths_stats"] == maths_stats.pack(row.maths)
    back = maths_stats.unpack(got["maths_stats"])  # type: ignore[arg-type]
    assert back.names == row.maths.names and back.units == row.maths.units  # type: ignore[union-attr]
    np.testing.assert_array_equal(back.values, row.maths.values)  # type: ignore[union-attr]


def test_one_second_rows_add_the_maths_columns_the_table_has() -> None:
    row = maths_row()
    names = ("power_mgu_total", "energy_per_km", "a_channel_this_row_lacks")
    statement = writes.Statements(KS).window_with_maths_columns(names)
    table, got = written(statement, writes.window_with_maths_columns(names).params(row))
    assert table == "channel_windows"
    assert {k: v for k, v in got.items() if k.startswith(names)} == {
        "power_mgu_total_min": 1.5,
        "power_mgu_total_max": 11.5,
        "power_mgu_total_mean": 21.5,
        "power_mgu_total_last": 31.5,
        "energy_per_km_min": 3.5,
        "energy_per_km_max": 13.5,
        "energy_per_km_mean": 23.5,
        "energy_per_km_last": 33.5,
        "a_channel_this_row_lacks_min": None,
        "a_channel_this_row_lacks_max": None,
        "a_channel_this_row_lacks_mean": None,
        "a_channel_this_row_lacks_last": None,
    }
    assert list(got)[-12:] == maths_stat_columns(names)
    # The migrator adds the configured file's columns: every column the sink writes for it exists.
    configured = derived_default().maths.names
    columns = set(columns_of(writes.Statements(KS).window_with_maths_columns(configured))[1])
    assert columns <= schema_columns(configured)["channel_windows"]


def test_lap_events() -> None:
    row = EventRow(
        session_id=111, lap=112, start_sim_time=113.5, kind="lockup", corner="fl", car_id=114, ts_ms=115,
        end_ts_ms=116, duration=0.25, start_distance=117.5, end_distance=118.5, peak=-0.35, peak_channel="slip_ratio_fl",
        complete=True, summary="lockup FL",
    )
    assert written(writes.Statements(KS).event, writes.event_params(row)) == (
        "lap_events",
        {
            "session_id": 111,
            "lap": 112,
            "start_sim_time": 113.5,
            "kind": "lockup",
            "corner": "fl",
            "car_id": 114,
            "ts": 115,
            "end_ts": 116,
            "duration": 0.25,
            "start_distance": 117.5,
            "end_distance": 118.5,
            "peak": -0.35,
            "peak_channel": "slip_ratio_fl",
            "complete": True,
            "summary": "lockup FL",
        },
    )


def alert_row(kind: str) -> AlertRow:
    return AlertRow(
        session_id=121, sim_time=122.5, limit_name="battery_temperature_high", kind=kind, car_id=123, lap=124, ts_ms=125,
        since_sim_time=120.5, lap_distance=126.5, channel="battery_temperature", stat="mean", value=61.5, threshold=60.0,
        unit="degC", severity="critical", summary="hot",
    )


@pytest.mark.parametrize(("kind", "raised"), [("raise", 1), ("clear", 0)])
def test_alerts_by_session_and_by_limit(kind: str, raised: int) -> None:
    row = alert_row(kind)
    values = {
        "session_id": 121,
        "sim_time": 122.5,
        "limit_name": "battery_temperature_high",
        "kind": kind,
        "car_id": 123,
        "lap": 124,
        "ts": 125,
        "since_sim_time": 120.5,
        "lap_distance": 126.5,
        "channel": "battery_temperature",
        "stat": "mean",
        "value": 61.5,
        "threshold": 60.0,
        "unit": "degC",
        "severity": "critical",
        "summary": "hot",
        "raised": raised,
    }
    st = writes.Statements(KS)
    assert written(st.alert, writes.alert_params(row)) == ("alerts", values)
    assert written(st.recent_alert, writes.recent_alert_params(row)) == ("recent_alerts", values)
