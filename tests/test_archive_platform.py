"""The archive on the real stack: a session streamed through the bridge and Flink into Cassandra is
archived to MinIO, read back with DuckDB (httpfs) and pyarrow, identical when archived twice, and
still readable through the analysis API after Cassandra's retention has expired it.

Everything lives under this module's own object prefix (``tests/archive-<id>/`` in the telemetry
bucket, deleted afterwards), its own session ids, and, for retention, a keyspace of its own: the
shared keyspace's table options are never changed here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from cassandra import OperationTimedOut, ReadTimeout
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import UNSET_VALUE

from launcher.commands_ml import AirflowClient
from launcher.provision import minio_client
from p424.analysis import get_session
from p424.archive.layout import gold_glob, record_key
from p424.archive.reader import ArchiveReader, duckdb_connection
from p424.archive.store import ArchiveStore
from p424.archive.training import ArchiveSource
from p424.archive.writer import archive_session, sessions_to_archive, smallest_window_ms
from p424.catalog import CATALOG
from p424.codec.frame import decode_frame
from p424.config import REPO_ROOT
from p424.ml import dataset
from p424.ml.features import SPEC
from p424.ml.source import CassandraSource
from p424.storage import writes
from p424.storage.cluster import connect
from p424.storage.migrate import migrate
from p424.storage.reader import LapKey, TelemetryStore
from p424.storage.retention import Retention
from tests.archive_rows import Processed, process, simulated_frames
from tests.helpers import Stack, unique_session_id, wait_for
from unity_bridge.sender import FrameSender

pytestmark = pytest.mark.platform

SEND_RATE = 4000.0  # frames/s: well within the bridge and the job
TTL_S = 90  # the test keyspace's retention of frames and windows: room to write and archive on a busy machine
LAP_COLUMNS = ["LapNumber", "LapTimeSeconds", "Distance", "Complete", "Frames", "MaxSpeed", "EnergyNetKWh", "StartSessionTime"]


@pytest.fixture(scope="module")
def store(stack: Stack) -> Iterator[ArchiveStore]:
    prefix = f"tests/archive-{uuid.uuid4().hex[:10]}/"
    s = ArchiveStore.from_config(stack.cfg, prefix=prefix)
    yield s
    for key in s.list(""):
        s.delete(key)


def send(stack: Stack, frames: list[bytes]) -> None:
    with FrameSender(stack.cfg.host_of("bridge"), stack.cfg.bridge_udp_port) as tx:
        t0 = time.perf_counter()
        for i, raw in enumerate(frames):
            delay = t0 + i / SEND_RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            tx.send(raw)


def wait_until_stored(stack: Stack, sid: int, n: int, timeout: float = 300) -> None:
    """Every frame processed, every lap summarised and the session's idle flush written."""

    def done() -> bool:
        try:
            q = stack.store.quality(sid) or {}
            laps = stack.store.laps(sid)
        except (ReadTimeout, OperationTimedOut):  # a busy node: ask again
            return False
        # Every frame but the last is in a lap: the last is the crossing that closes the stint's last
        # lap, the first frame of a lap that never runs (not reported).
        return q.get("frames_received") == n and sum(int(r["frames"] or 0) for r in laps) == n - 1

    wait_for(done, timeout, f"session {sid} complete in Cassandra", 1)
    time.sleep(3)  # the flush's windows go in the same sink batch as its lap row; leave it time to land


@pytest.fixture(scope="module")
def streamed(stack: Stack, store: ArchiveStore) -> dict[str, Any]:
    """Two simulated laps at 50 Hz, streamed through the bridge, stored by Flink, archived once."""
    sid = unique_session_id()
    frames = simulated_frames(sid, laps=2, rate_hz=50.0)
    send(stack, frames)
    wait_until_stored(stack, sid, len(frames))
    stack.store.describe_session(sid, track="Nordschleife (simulated)", source="test")
    cql = stack.store.session
    done = archive_session(cql, stack.cfg.cassandra_keyspace, store, sid, smallest_window_ms(stack.cfg), mark=False)
    return {"sid": sid, "frames": frames, "archived": done}


def objects(stack: Stack, store: ArchiveStore) -> dict[str, tuple[str, int, bytes]]:
    client = minio_client(stack.cfg)
    out = {}
    for o in client.list_objects(store.bucket, prefix=store.prefix, recursive=True):
        body = client.get_object(store.bucket, o.object_name)
        try:
            out[o.object_name] = (str(o.etag), int(o.size or 0), body.read())
        finally:
            body.close()
            body.release_conn()
    return out


# ------------------------------------------------------------------------------------------- layers
def test_a_streamed_session_is_in_all_three_layers(stack: Stack, store: ArchiveStore, streamed: dict[str, Any]) -> None:
    sid, frames = streamed["sid"], streamed["frames"]
    reader = ArchiveReader(store)
    keys = reader.keys(sid)
    assert (keys.track, keys.date) == ("nordschleife-simulated", reader.record(sid)["date"])
    # bronze: every frame sent, byte for byte
    bronze = reader.bronze(sid)
    assert bronze.num_rows == len(frames)
    assert sorted(bronze.column("frame").to_pylist()) == sorted(frames)
    # silver: every frame once, in its lap, with the values sent
    laps = {r["lap"]: r for r in stack.store.laps(sid)}
    archived_laps = (reader.record(sid) or {})["laps"]
    # The stint's last frame is the crossing that closes lap 2, the one frame of a lap 3 that never runs:
    # no lap summary, but silver keeps every frame in its lap.
    assert sorted(laps) == [1, 2] and archived_laps == [1, 2, 3] and laps[2]["complete"]
    total = 0
    for lap in archived_laps:
        t = reader.lap_frames(sid, lap)
        assert t.num_rows == (laps[lap]["frames"] if lap in laps else 1) and not any(t.column("late").to_pylist())
        total += t.num_rows
        sent = {decode_frame(frames[s]).header.sequence: decode_frame(frames[s]) for s in t.column("seq").to_pylist()[:500]}
        for name in ("speed", "power_electrical_total", "gear"):
            got = t.column(name).to_pylist()[:500]
            i = CATALOG.payload_index[name]
            assert [np.float32(v) for v in got] == [f.values[i] for f in sent.values()]
        if lap in laps:
            d = reader.lap_distance(sid, lap)
            assert d.column("distance").to_pylist() == [p["distance"] for p in stack.store.profile(sid, lap)]
    assert total == len(frames)
    # gold: the stream's laps and quality
    gold_laps = {r["lap"]: r for r in reader.laps(sid)}
    for lap, row in laps.items():
        for col in ("lap_time", "distance", "frames", "complete", "energy_net_kwh", "max_speed", "sector_times", "speed_max"):
            assert gold_laps[lap][col] == row[col], col
    q = reader.quality(sid) or {}
    assert (q["frames_received"], q["frames_archived"], q["frames_lost"], q["frames_missing"]) == (len(frames), len(frames), 0, 0)
    assert reader.predictions(sid) == [] or {r["lap"] for r in reader.predictions(sid)} <= set(laps)


def test_archiving_twice_changes_nothing(stack: Stack, store: ArchiveStore, streamed: dict[str, Any]) -> None:
    sid = streamed["sid"]
    before = objects(stack, store)
    again = archive_session(stack.store.session, stack.cfg.cassandra_keyspace, store, sid, smallest_window_ms(stack.cfg), mark=False)
    after = objects(stack, store)
    assert again.removed == [] and len(before) == again.objects == streamed["archived"].objects
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}  # ETags and sizes
    assert after == before  # and bytes


def test_duckdb_and_pyarrow_read_the_archive_straight_from_minio(store: ArchiveStore, streamed: dict[str, Any]) -> None:
    sid, n = streamed["sid"], len(streamed["frames"])
    con = duckdb_connection(store)
    laps = con.execute(
        f"SELECT lap, lap_time, complete FROM read_parquet('{store.url(gold_glob('laps'))}') WHERE session = ? ORDER BY lap",
        [sid],
    ).fetchall()
    assert [lap for lap, _, _ in laps] == [1, 2] and laps[0][2] is True
    (rows,) = con.execute(
        f"SELECT count(*) FROM read_parquet('{store.url(f'silver/*/session={sid}/*/time.parquet')}')"
    ).fetchone()
    assert rows == n
    keys = pads.partitioning(pa.schema([("track", pa.string()), ("date", pa.string()), ("session", pa.int64())]), flavor="hive")
    bronze = pads.dataset(store.path("bronze"), filesystem=store.fs, format="parquet", partitioning=keys)
    assert bronze.count_rows(filter=pads.field("session") == sid) == n


def test_the_example_queries_the_archive(stack: Stack, store: ArchiveStore, streamed: dict[str, Any]) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "archive_duckdb.py"), "--prefix", store.prefix],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PLATFORM_STATE_DIR": str(stack.cfg.state_dir)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nordschleife-simulated" in done.stdout and f"session {streamed['sid']} lap" in done.stdout
    assert f"pyarrow: 2 lap rows of session {streamed['sid']}" in done.stdout


def test_windows_and_features_from_the_archive_are_cassandras(stack: Stack, store: ArchiveStore, streamed: dict[str, Any]) -> None:
    sid = streamed["sid"]
    reader = ArchiveReader(store)
    for window_ms in stack.cfg.window_sizes:
        for lap in (1, 2):
            hot = stack.store.windows(sid, lap, window_ms)
            cold = reader.windows(sid, lap, window_ms)
            assert len(hot) == len(cold) > 0
            for h, c in zip(hot, cold, strict=True):
                assert {k: h[k] for k in c} == c
    # training's two sources give the same sessions, labels and feature rows
    hot_source, cold_source = CassandraSource(stack.store), ArchiveSource(reader)
    assert hot_source.sessions([sid]) == cold_source.sessions([sid])
    assert hot_source.laps([sid]) == cold_source.laps([sid])
    selection = dataset.select_laps(hot_source.laps([sid]), {sid: "Nordschleife"})
    keys = [LapKey(session_id=lap.session_id, lap=lap.lap, seconds=lap.lap_time) for lap in selection.laps]
    from_cassandra = dataset.assemble(selection.laps, hot_source.windows(keys, 1000, SPEC.window_columns()))
    from_archive = dataset.assemble(selection.laps, cold_source.windows(keys, 1000, SPEC.window_columns()))
    assert len(selection.laps) == 2 and len(from_archive) > 300 and from_archive.equals(from_cassandra)


def test_the_analysis_api_reads_the_same_session_from_either_source(stack: Stack, store: ArchiveStore, streamed: dict[str, Any]) -> None:
    sid = streamed["sid"]
    hot = get_session(sid, stack.store)
    cold = get_session(sid, stack.store, source="archive", archive=ArchiveReader(store))
    assert (hot.source, cold.source) == ("cassandra", "archive")
    assert_same_session(snapshot(hot), snapshot(cold))


def snapshot(session: Any) -> dict[str, pd.DataFrame]:
    """Everything the analysis API gives of laps 1 and 2, read now."""
    out = {"laps": session.laps[LAP_COLUMNS], "quality": pd.DataFrame([{"frames_received": session.quality["frames_received"]}])}
    for n in (1, 2):
        lap = session.laps.pick_lap(n)
        for i, kw in enumerate(({"source": "raw"}, {"source": "windows"}, {"source": "windows", "window_ms": 1000, "stat": "max"})):
            out[f"lap{n}-telemetry{i}"] = lap.get_telemetry(["speed", "gear", "position_x"], **kw)
        out[f"lap{n}-positions"] = lap.get_pos_data()
        out[f"lap{n}-profile"] = session.profile(n)[["distance", "elapsed", "speed", "throttle", "brake_pressure", "power_electrical_total"]]
    return out


def assert_same_session(hot: dict[str, pd.DataFrame], cold: dict[str, pd.DataFrame]) -> None:
    assert hot.keys() == cold.keys()
    for name, frame in hot.items():
        # (today's simulator sends no position channels: its position tables are empty on both sides)
        assert len(frame) > 0 or name.endswith("positions"), name
        pd.testing.assert_frame_equal(frame, cold[name], check_dtype=name not in ("laps", "quality") and "profile" not in name)


# ------------------------------------------------------------------------------------------- retention
@pytest.fixture(scope="module")
def short_lived(stack: Stack) -> Iterator[tuple[TelemetryStore, str]]:
    """A keyspace of this module's own, migrated with a retention of TTL_S seconds; dropped afterwards."""
    ks = f"p424_archive_test_{uuid.uuid4().hex[:8]}"
    cluster, session = connect(stack.cfg)
    try:
        changes = migrate(session, ks, stack.cfg.keyspace_replication, retention=Retention(frames_ttl_s=TTL_S, windows_ttl_s=TTL_S))
        assert f"frames rows now expire after {TTL_S} s" in changes
        tables = cluster.metadata.keyspaces[ks].tables
        assert tables["frames"].options["default_time_to_live"] == TTL_S
        assert tables["frame_blocks"].options["default_time_to_live"] == TTL_S
        assert tables["channel_windows"].options["default_time_to_live"] == TTL_S
        assert tables["laps"].options["default_time_to_live"] == 0
        assert migrate(session, ks, stack.cfg.keyspace_replication, retention=Retention(frames_ttl_s=TTL_S, windows_ttl_s=TTL_S)) == []
        hot = TelemetryStore(stack.cfg.replace(cassandra_keyspace=ks))
        yield hot, ks
        hot.close()
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {ks}", timeout=120)
        cluster.shutdown()


def write(store: TelemetryStore, ks: str, p: Processed, columns_ms: frozenset[int]) -> None:
    """The session's rows, through the statements and parameters the stream's sink binds."""
    t = writes.TABLES
    now = int(time.time() * 1000)
    groups: list[tuple[str, list[tuple[object, ...]]]] = [
        (t.frame_block.update(ks), t.frame_block.params(p.out.frames)),  # the sink's frames: blocks ...
        (t.frame.insert(ks), [t.frame.params(f) for f in writes.marked(p.out.frames)]),  # ... and marked rows
        (t.window.insert(ks), [t.window.params(w) for w in p.out.windows if w.window_ms not in columns_ms]),
        (
            t.window_with_columns.insert(ks),
            [t.window_with_columns.params(w) for w in p.out.windows if w.window_ms in columns_ms],
        ),
        (t.profile.insert(ks), [t.profile.params(x) for x in p.out.profile]),
        (t.lap.insert(ks), [t.lap.params(x) for x in p.out.laps]),
        (t.quality.insert(ks), [t.quality.params(p.out.quality[-1], now)]),
        (t.session.insert(ks), [t.session.params(p.out.sessions[-1], now)]),
    ]
    for statement, rows in groups:
        ps = store.session.prepare(statement)
        args = [tuple(UNSET_VALUE if v is None else v for v in r) for r in rows]
        execute_concurrent_with_args(store.session, ps, args, concurrency=64, raise_on_first_error=True)


def test_a_session_past_the_retention_is_read_back_from_the_archive(
    stack: Stack, store: ArchiveStore, short_lived: tuple[TelemetryStore, str]
) -> None:
    hot, ks = short_lived
    sid = unique_session_id()
    p = process(sid, simulated_frames(sid, laps=2, rate_hz=20.0))
    write(hot, ks, p, stack.cfg.window_column_sizes)
    hot.describe_session(sid, track="Nordschleife (simulated)")
    archived = archive_session(hot.session, ks, store, sid, smallest_window_ms(stack.cfg))
    before = get_session(sid, hot)
    assert before.source == "cassandra"
    hot_view = snapshot(before)
    row = hot.session_row(sid) or {}
    assert row["archive_version"] == 1 and row["archived_at"] is not None
    assert sid not in sessions_to_archive(hot.session, ks, closed_after_s=0)  # done, until it changes
    assert archived.frames == len(p.frames)

    def expired() -> bool:
        # Probes only: a full read of an expired window partition scans every expired cell and fails with
        # READ_TOO_MANY_TOMBSTONES (the 1 s windows carry ~460 columns), as the analysis API's probe avoids.
        gone = hot.frame_count(sid, p.out.sessions[-1].last_sim_time) == 0
        return gone and not hot.holds_session(hot.session_row(sid) or {})

    wait_for(expired, TTL_S + 120, "every frame and window to expire", 5)
    assert not hot.holds_session(hot.session_row(sid) or {})
    assert len(hot.laps(sid)) == 2 and hot.session_row(sid) is not None  # lap summaries and sessions stay
    after = get_session(sid, hot, archive=ArchiveReader(store))
    assert after.source == "archive"
    assert_same_session(hot_view, snapshot(after))


# ------------------------------------------------------------------------------------------- the DAG
DAGBAG_SCRIPT = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
d = bag.dags.get("p424_archive")
print("DAGBAG" + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
      "dag": d and {"schedule": str(d.schedule), "tags": sorted(d.tags), "tasks": sorted(t.task_id for t in d.tasks),
                    "retries": sorted({t.retries for t in d.tasks}), "params": sorted(d.params.keys()),
                    "max_active_runs": d.max_active_runs, "catchup": d.catchup, "doc": bool(d.doc_md)}}))
"""


def test_the_archive_dag_imports_with_its_schedule(stack: Stack) -> None:
    cfg = stack.cfg
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "P424_PLATFORM_PYTHON": str(cfg.state_dir / "venvs" / "platform" / "bin" / "python"),
            "P424_CONFIG_FILE": str(REPO_ROOT / "toolchain-config.env"),
            "PLATFORM_STATE_DIR": str(cfg.state_dir),
            "PYTHONPATH": str(REPO_ROOT),
        }
        done = subprocess.run(
            [str(cfg.state_dir / "venvs" / "airflow" / "bin" / "python"), "-c", DAGBAG_SCRIPT, str(REPO_ROOT / "airflow" / "dags" / "p424_archive.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout.split("DAGBAG", 1)[1])
    assert doc["errors"] == {}
    dag = doc["dag"]
    assert dag["schedule"] == cfg.archive_schedule and dag["tags"] == ["archive", "p424"]
    assert dag["tasks"] == ["archive", "enforce", "find_sessions", "resolve_settings"]
    assert dag["retries"] == [2] and dag["max_active_runs"] == 1 and not dag["catchup"] and dag["doc"]
    assert {"session_ids", "closed_after_s", "prefix"} <= set(dag["params"])


def test_the_archive_dag_archives_a_session(stack: Stack, store: ArchiveStore) -> None:
    """Through the deployed Airflow (needs this branch's DAG and migration deployed by `up`)."""
    sid = unique_session_id()
    frames = simulated_frames(sid, laps=1, rate_hz=20.0)
    send(stack, frames)
    wait_until_stored(stack, sid, len(frames))
    client = AirflowClient(stack.cfg)
    client.wait_for_dag("p424_archive")
    run = client.trigger("p424_archive", {"session_ids": [sid], "prefix": store.prefix}, note="test: archive one session")
    state = client.wait("p424_archive", run, timeout_s=300)
    assert state == "success", client.task_log("p424_archive", run, "archive")[-3000:]
    assert store.exists(record_key(sid)) and ArchiveReader(store).record(sid)["frames"] == len(frames)
    row = stack.store.session_row(sid) or {}
    assert row.get("archive_version") == 1 and row.get("archived_at") is not None
