"""History kept across a catalog change, on the real stack: every reader reads every catalog version.

The scenario of the catalog-versions issue: a session streamed when the platform ran catalog N
(1.0.0), then a channel added (N+1, the current catalog), a session streamed on N+1, and one more
from a sender still built on N. All three must read back through every reader: the analysis API
(laps, windows, raw frames, positions), the training dataset reader, the predictor's backfill
read, the data-quality DAG's collect step, and every Grafana dashboard query.

Session A is history: it was written by a platform on catalog N. This test writes it the way that
platform did (frames encoded with catalog N, processed by ``SessionProcessor`` with catalog N,
stored through the same table definitions for catalog N: window blobs packed under N's hash,
per-channel columns of N's channels only), since the running stack is already on N+1.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from cassandra.query import UNSET_VALUE

from p424 import derived
from p424.analysis import get_session
from p424.catalog import CATALOG, Catalog
from p424.codec.frame import FrameEncoder, FrameHeader
from p424.ml import dataset as ds
from p424.ml.features import SPEC
from p424.ml.quality import collect
from p424.ml.source import CassandraSource
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from p424.security.http import bearer_headers
from p424.sim import CarSimulator
from p424.storage import writes
from p424.storage.reader import LapKey
from tests.helpers import Stack, unique_session_id, wait_for
from tests.test_grafana_dashboards import all_queries, boards, substitute
from unity_bridge.lapfile import lap_frames, read_lap_file
from unity_bridge.sender import FrameSender

pytestmark = pytest.mark.platform

V1 = CATALOG.known(0xB512F2CA)  # catalog 1.0.0, the platform's catalog before today's simulator channels
NEW_CHANNEL = "position_x"  # in the current catalog (1.1.0), not in 1.0.0
__all__ = ["boards"]  # the dashboards fixture, used by the Grafana test below


def _stint(csv: Path, catalog: Catalog, sid: int, car: int, laps: int = 2) -> list[bytes]:
    """The fixture lap as a stint, written by a sender built on ``catalog``."""
    lap = read_lap_file(csv)
    samples = list(lap_frames(lap, laps, car, sid))
    present = catalog.from_payload((~np.isnan(samples[0][1])).astype(np.float32), CATALOG) > 0
    encoder = FrameEncoder(present, catalog)
    frames = []
    for header, values in samples:
        as_sent = FrameHeader(
            car_id=header.car_id,
            session_id=header.session_id,
            sequence=header.sequence,
            sim_time=header.sim_time,
            lap=header.lap,
            lap_distance=header.lap_distance,
            markers=header.markers,
            catalog_hash=catalog.hash,
        )
        frames.append(encoder.encode(as_sent, np.nan_to_num(catalog.from_payload(values, CATALOG))))
    return frames


def _send(stack: Stack, frames: list[bytes], rate: float = 4000.0) -> None:
    with FrameSender(stack.cfg.host_of("bridge"), stack.cfg.bridge_udp_port) as tx:
        t0 = time.perf_counter()
        for i, raw in enumerate(frames):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            tx.send(raw)


def _write_as_catalog_n_did(stack: Stack, frames: list[bytes], sid: int, car: int) -> None:
    """Session A: processed and stored exactly as the platform on catalog N processed and stored it."""
    assert V1 is not None
    proc = SessionProcessor(sid, car, catalog=V1, definitions=derived.none(V1))  # catalog N had no maths channels
    out = Outputs()
    t0 = int(time.time() * 1000) - 3_600_000
    for i, raw in enumerate(frames):
        out.extend(proc.on_frame(raw, t0 + 20 * i))
    out.extend(proc.flush())
    t = writes.tables(V1)
    cql = stack.store.session
    ks = stack.cfg.cassandra_keyspace
    columns_ms = stack.cfg.window_column_sizes
    now = int(time.time() * 1000)

    def run(table: Any, params: tuple[object, ...]) -> None:
        cql.execute(cql.prepare(table.insert(ks)), tuple(UNSET_VALUE if p is None else p for p in params))

    for f in out.frames:
        run(t.frame, t.frame.params(f))
    for w in out.windows:
        table = t.window_with_columns if w.window_ms in columns_ms else t.window
        run(table, table.params(w))
    for p in out.profile:
        run(t.profile, t.profile.params(p))
    for lap in out.laps:
        run(t.lap, t.lap.params(lap))
    run(t.quality, t.quality.params(out.quality[-1], now))
    run(t.session, t.session.params(out.sessions[-1], now))


def _bridge_counts(stack: Stack) -> dict[str, float]:
    text = requests.get(f"{stack.cfg.bridge_http_url}/metrics", headers=bearer_headers(stack.cfg), timeout=5).text
    found = re.findall(r'p424_bridge_frames_by_catalog_total\{catalog="([0-9a-f]{8})"[^}]*\} ([0-9.e+]+)', text)
    return {chash: float(n) for chash, n in found}


@pytest.fixture(scope="module")
def three_sessions(stack: Stack, fixture_csv: Path) -> dict[str, int]:
    assert V1 is not None and V1 is not CATALOG
    a, b, c = unique_session_id(), unique_session_id(), unique_session_id()
    _write_as_catalog_n_did(stack, _stint(fixture_csv, V1, a, car=31), a, car=31)
    before = _bridge_counts(stack)
    # B: today's sender (the simulator with every channel of the current catalog, positions included)
    sim = CarSimulator(32, b, seed=3, rate_hz=50, laps=1)
    encoder = FrameEncoder()
    b_frames = [encoder.encode(h, v) for h, v in sim.samples()]
    # C: a sender still built on catalog N
    c_frames = _stint(fixture_csv, V1, c, car=33)
    _send(stack, b_frames)
    _send(stack, c_frames)
    for sid, n in ((b, len(b_frames)), (c, len(c_frames))):

        def stored(sid: int = sid, n: int = n) -> bool:
            return (stack.store.quality(sid) or {}).get("frames_received") == n

        wait_for(stored, 240, f"session {sid} in Cassandra")
    after = _bridge_counts(stack)
    assert after.get(V1.hash_hex, 0) - before.get(V1.hash_hex, 0) == len(c_frames)  # counted per catalog version
    assert after.get(CATALOG.hash_hex, 0) - before.get(CATALOG.hash_hex, 0) >= len(b_frames)
    return {"A (stored under N)": a, "B (streamed on N+1)": b, "C (an N sender today)": c}


def test_sessions_record_the_catalog_their_frames_were_written_with(
    stack: Stack, three_sessions: dict[str, int]
) -> None:
    assert V1 is not None
    hashes = {name: (stack.store.session_row(sid) or {})["catalog_hash"] for name, sid in three_sessions.items()}
    assert list(hashes.values()) == [V1.hash_hex, CATALOG.hash_hex, V1.hash_hex]


@pytest.mark.parametrize("name", ["A (stored under N)", "B (streamed on N+1)", "C (an N sender today)"])
def test_the_analysis_api_reads_every_version(stack: Stack, three_sessions: dict[str, int], name: str) -> None:
    sid = three_sessions[name]
    has_new = name.startswith("B")
    session = get_session(sid, stack.store)
    lap = session.laps.pick_fastest()
    windows = lap.get_telemetry(["speed", NEW_CHANNEL])
    raw = lap.get_telemetry(["speed", NEW_CHANNEL], source="raw")
    for tel in (windows, raw):
        assert len(tel) > 10 and tel["speed"].notna().all()
        assert tel[NEW_CHANNEL].notna().all() if has_new else tel[NEW_CHANNEL].isna().all()
    pos = lap.get_pos_data()
    assert (len(pos) == len(raw)) if has_new else pos.empty
    # Raw frames stored under N decode by name: the lap's speeds are the file's, in order.
    assert raw["speed"].max() == pytest.approx(float(lap["MaxSpeed"]), rel=1e-6)


@pytest.mark.parametrize("name", ["A (stored under N)", "B (streamed on N+1)", "C (an N sender today)"])
def test_the_training_reader_and_the_predictor_backfill_read_every_version(
    stack: Stack, three_sessions: dict[str, int], name: str
) -> None:
    sid = three_sessions[name]
    source = CassandraSource(stack.store)
    selection = ds.select_laps(source.laps([sid]), {sid: "any"})
    assert selection.laps, selection.rejected
    keys = [LapKey(session_id=lap.session_id, lap=lap.lap, seconds=lap.lap_time) for lap in selection.laps]
    windows = source.windows(keys, 1000, SPEC.window_columns())
    frame = ds.assemble(selection.laps, windows)
    assert len(frame) > 10
    features = ds.features_of(frame)
    assert features["speed_mean"].notna().all()
    new = f"{NEW_CHANNEL}_last"
    assert features[new].notna().all() if name.startswith("B") else features[new].isna().all()
    # The live predictor rebuilds a lap joined mid-way with exactly this read (PredictorService.backfill).
    label = selection.laps[0]
    rows = stack.store.windows(sid, label.lap, 100, SPEC.window_columns())
    assert rows and all(r["speed_mean"] is not None for r in rows)


def test_the_data_quality_dag_reads_every_version(stack: Stack, three_sessions: dict[str, int]) -> None:
    cfg = stack.cfg
    found = collect(cfg.cassandra_contact, cfg.cassandra_port, cfg.cassandra_keyspace, 24, list(three_sessions.values()))
    assert {s.session_id for s in found} == set(three_sessions.values())
    assert all(s.frames_lost == 0 for s in found)


@pytest.mark.parametrize("name", ["A (stored under N)", "B (streamed on N+1)", "C (an N sender today)"])
def test_every_grafana_query_reads_every_version(
    stack: Stack, three_sessions: dict[str, int], boards: dict[str, dict[str, Any]], name: str
) -> None:
    sid = three_sessions[name]
    laps = [r["lap"] for r in stack.store.laps(sid)]
    values = {
        "session": str(sid),
        "car": str((stack.store.session_row(sid) or {})["car_id"]),
        "window": "1000",
        "lap_a": str(laps[0]),
        "lap_b": str(laps[-1]),
        "laps": ", ".join(map(str, laps)),
        "bucket": "0",
        "keyspace": stack.cfg.cassandra_keyspace,
        "__timeFrom": "0",
        "__timeTo": str(int(time.time() * 1000)),
        "model": stack.cfg.model_name,
        "months": f"'{time.strftime('%Y-%m')}'",
    }
    rows_by_table: dict[str, int] = {}
    for _where, cql in all_queries(boards):
        rows = list(stack.store.session.execute(substitute(cql, values), timeout=30))
        table = re.search(r"\bFROM\s+(\w+)", cql, re.IGNORECASE)
        if table is not None:
            rows_by_table[table.group(1)] = rows_by_table.get(table.group(1), 0) + len(rows)
    # The lap table and the stored history of the session's channels come back for every version.
    assert rows_by_table.get("laps", 0) > 0 and rows_by_table.get("channel_windows", 0) > 0, rows_by_table
