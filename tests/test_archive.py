"""The session archive without services: layout, deterministic Parquet, and the stream's own results
(windows, distance profile, lap assignment, late frames, training features) recomputed from it.

Every session here is processed by the stream's ``SessionProcessor`` (``tests/archive_rows.py``),
so "what Cassandra holds" is what the stream job writes, and the archive's recomputation is
checked against it bit for bit. The object store is pyarrow's local filesystem; the same code
against MinIO is ``tests/test_archive_platform.py``.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from p424.archive import parquet
from p424.archive.build import ArchiveError, SessionData, build_session, silver_distance
from p424.archive.layout import SessionKeys, gold_glob, session_date, track_slug
from p424.archive.reader import ArchiveReader, duckdb_connection
from p424.archive.store import ArchiveStore
from p424.archive.training import ArchiveSource
from p424.archive.writer import needs_archive, write_built
from p424.catalog import CATALOG
from p424.codec.frame import FrameError, decode_batch, decode_frame
from p424.config import Config
from p424.ml import dataset
from p424.ml.features import SPEC
from p424.storage import window_stats, writes
from p424.storage.reader import LapKey
from p424.storage.retention import DAY_S, Retention
from p424.storage.schema import window_stat_columns
from tests.archive_rows import Processed, process, replayed_frames, simulated_frames

SID = 4_242_000_001
V1 = CATALOG.known(0xB512F2CA)


@pytest.fixture(scope="module")
def two_laps() -> Processed:
    """Three simulated laps at 20 Hz: two complete, the last one still open when the stream stops
    (just before the line crossing that would close it)."""
    return process(SID, simulated_frames(SID, laps=3)[:-1])


@pytest.fixture(scope="module")
def replayed(fixture_csv: Path) -> Processed:
    """A real lap file replayed as a two-lap stint: it ends with the crossing that closes lap 2."""
    return process(SID + 4, replayed_frames(fixture_csv, SID + 4, laps=2))


@pytest.fixture(scope="module")
def late_and_lost() -> Processed:
    """One lap with every 97th frame never sent and every 53rd arriving 1.5 s late (behind the watermark)."""
    sid = SID + 1
    frames = simulated_frames(sid, laps=1)
    sent = [i for i in range(len(frames)) if i % 97 != 50]
    arrival = [i for i in sent if i % 53 != 7]
    for i in (i for i in sent if i % 53 == 7):
        arrival.insert(min(arrival.index(i - 1) + 31, len(arrival)) if i - 1 in arrival else len(arrival), i)
    return process(sid, frames, arrival)


def local_store(tmp: Path) -> ArchiveStore:
    return ArchiveStore(fs=pafs.LocalFileSystem(), bucket=str(tmp), prefix="archive/")


def table(built_objects: dict[str, bytes], key: str) -> pq.ParquetFile:
    return pq.ParquetFile(io.BytesIO(built_objects[key]))


# ------------------------------------------------------------------------------------------- layout
def test_keys_are_the_documented_ones() -> None:
    k = SessionKeys(session_id=42, track=track_slug("Nordschleife (simulated)"), date="2026-03-01")
    assert k.bronze == "bronze/track=nordschleife-simulated/date=2026-03-01/session=42/frames.parquet"
    assert k.silver_time(3) == "silver/track=nordschleife-simulated/session=42/lap=3/time.parquet"
    assert k.silver_distance(3) == "silver/track=nordschleife-simulated/session=42/lap=3/distance.parquet"
    assert k.gold("laps") == "gold/laps/track=nordschleife-simulated/session=42/laps.parquet"
    assert k.gold("session_quality") == "gold/session_quality/track=nordschleife-simulated/session=42/session_quality.parquet"
    assert k.gold("predictions") == "gold/predictions/track=nordschleife-simulated/session=42/predictions.parquet"
    assert k.record == "gold/sessions/session=42/session.parquet"
    assert gold_glob("laps") == "gold/laps/*/*/laps.parquet"
    assert track_slug(None) == "unknown" and track_slug("  ") == "unknown"
    assert session_date(datetime(2026, 3, 1, 23, 59)) == "2026-03-01" and session_date(None) == "undated"
    with pytest.raises(ValueError, match="not a slug"):
        SessionKeys(session_id=42, track="Nordschleife", date="2026-03-01")
    with pytest.raises(ValueError, match="not a gold table"):
        k.gold("mini_sectors")  # reserved, not written yet


# ------------------------------------------------------------------------------------------- building
def test_every_frame_in_bronze_as_received(two_laps: Processed) -> None:
    built = build_session(two_laps.data())
    f = table(built.objects, built.keys.bronze).read()
    assert f.num_rows == len(two_laps.frames) == built.frames
    assert f.column("frame").to_pylist() == two_laps.frames  # sequence order is send order here
    assert f.column("seq").to_pylist() == list(range(len(two_laps.frames)))
    meta = parquet.read_metadata(f.schema)
    assert meta["archive_format"] == 1 and meta["layer"] == "bronze"
    assert meta["catalog"] == f"{CATALOG.version}-{CATALOG.hash_hex}"
    assert meta["source_catalogs"] == [f"{CATALOG.version}-{CATALOG.hash_hex}"]
    assert parquet.units(f.schema)["sim_time"] == "s"


def test_silver_holds_every_frame_decoded_per_lap(two_laps: Processed) -> None:
    data = two_laps.data()
    built = build_session(data)
    laps = {r["lap"]: r for r in data.laps}
    assert built.laps == sorted(laps) == [1, 2, 3]
    assert [laps[n]["complete"] for n in built.laps] == [True, True, False]
    total = 0
    for lap in built.laps:
        t = table(built.objects, built.keys.silver_time(lap)).read()
        total += t.num_rows
        assert t.num_rows == laps[lap]["frames"]
        assert t.column("sim_time")[0].as_py() == laps[lap]["start_sim_time"]
        assert t.column("lap_time")[0].as_py() == 0.0
        assert not any(t.column("late").to_pylist()) and not any(t.column("gap_before").to_pylist())
        assert parquet.units(t.schema)["speed"] == CATALOG.by_name["speed"].unit
        for seq, speed in zip(t.column("seq").to_pylist()[:50], t.column("speed").to_pylist()[:50], strict=True):
            assert np.float32(speed) == decode_frame(two_laps.frames[seq]).values[CATALOG.payload_index["speed"]]
    assert total == len(two_laps.frames)


def test_the_crossing_that_closes_a_stint_opens_the_lap_the_stream_opened(replayed: Processed) -> None:
    data = replayed.data(track="Nordschleife")
    built = build_session(data)
    assert sorted(r["lap"] for r in data.laps) == [1, 2] and built.laps == [1, 2, 3]
    last = table(built.objects, built.keys.silver_time(3)).read()
    assert last.num_rows == 1 and last.column("sim_time")[0].as_py() == max(r["end_sim_time"] for r in data.laps)
    assert {w.lap for w in replayed.out.windows} == {1, 2, 3}  # the stream wrote lap 3's windows too


def test_windows_recomputed_from_silver_are_the_streams(two_laps: Processed, tmp_path: Path) -> None:
    store = local_store(tmp_path)
    write_built(store, build_session(two_laps.data()))
    reader = ArchiveReader(store)
    anchor = two_laps.out.sessions[-1].started_at_ms
    for window_ms in (100, 1000):
        stream = two_laps.windows(window_ms)
        for lap in (1, 2, 3):
            mine = reader.lap_window_stats(SID, lap, window_ms)
            keys = {k for k in stream if k[0] == lap}
            assert {(lap, anchor + w.index * window_ms) for w in mine} == keys
            for w in mine:
                s = stream[(lap, anchor + w.index * window_ms)]
                assert (s.frame_count, s.lap_time, s.lap_distance) == (w.frame_count, w.last_lap_time, w.last_lap_distance)
                for mine_v, theirs in ((w.mins, s.mins), (w.maxs, s.maxs), (w.means, s.means), (w.lasts, s.lasts)):
                    assert np.array_equal(mine_v, theirs, equal_nan=True)
    # and rows shaped like TelemetryStore.windows: the blob's values, unpacked
    rows = reader.windows(SID, 1, 1000, ["speed_mean", "gear_last"])
    s = stream[(1, anchor + round(rows[3]["window_start"] * 1000))]
    params = dict(zip(writes.TABLES.window.columns, writes.TABLES.window.params(s), strict=True))
    stored = window_stats.row_values({"stats": params["stats"]}, ["speed_mean", "gear_last"])
    assert {k: rows[3][k] for k in stored} == stored


def test_distance_profile_matches_the_streams_lap_distance_profile(two_laps: Processed) -> None:
    built = build_session(two_laps.data())
    for lap in (1, 2, 3):
        d = table(built.objects, built.keys.silver_distance(lap)).read()
        points = [p for p in two_laps.out.profile if p.lap == lap]
        assert d.column("distance").to_pylist() == [p.distance for p in points]
        assert d.column("elapsed").to_pylist() == [p.elapsed for p in points]
        for ch in ("speed", "throttle", "brake_pressure", "power_electrical_total"):
            mine = np.array(d.column(ch).to_pylist(), dtype=np.float32)
            theirs = np.array([getattr(p, ch) for p in points], dtype=np.float32)
            assert np.array_equal(mine, theirs), ch
        assert parquet.read_metadata(d.schema)["step_m"] == 10


def test_distance_resampling_holds_discrete_channels() -> None:
    values = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32)  # first two channels only
    full = np.full((3, len(CATALOG.payload_channels)), np.nan, dtype=np.float32)
    gear = CATALOG.payload_index["gear"]
    speed = CATALOG.payload_index["speed"]
    full[:, speed], full[:, gear] = values[:, 0], values[:, 1]
    out = silver_distance(lap_start=10.0, sim_times=np.array([10.0, 11.0, 12.0]), lap_distances=np.array([0.0, 15.0, 30.0]), values=full)
    assert out["distance"].tolist() == [0, 10, 20, 30]
    assert out["values"][:, speed].tolist() == pytest.approx([1.0, 1 + 2 * 10 / 15, 3 + 2 * 5 / 15, 5.0])
    assert out["values"][:, gear].tolist() == [2.0, 2.0, 4.0, 6.0]  # held, never 2.67
    assert out["elapsed"].tolist() == pytest.approx([0.0, 10 / 15, 1 + 5 / 15, 2.0])


def test_the_same_rows_give_the_same_bytes(two_laps: Processed) -> None:
    a, b = build_session(two_laps.data()), build_session(two_laps.data())
    assert list(a.objects) == list(b.objects) and a.objects == b.objects
    record = table(a.objects, a.keys.record).read().to_pylist()[0]
    assert record["objects"] == sorted(k for k in a.objects if k != a.keys.record)
    assert record["frames_sha256"] == a.frames_sha256 and record["laps"] == [1, 2, 3]
    assert len(a.objects) == 1 + 2 * 3 + 3 + 1  # bronze, silver per lap, gold, the record


def test_late_frames_and_gaps_are_flagged_as_the_stream_saw_them(late_and_lost: Processed, tmp_path: Path) -> None:
    q = late_and_lost.out.quality[-1]
    assert q.frames_late > 10 and q.frames_lost > 10  # the scenario does what it says
    data = late_and_lost.data()
    built = build_session(data)
    quality = table(built.objects, built.keys.gold("session_quality")).read().to_pylist()[0]
    assert quality["frames_late_archived"] == q.frames_late and quality["frames_late_unresolved"] == 0
    assert quality["frames_missing"] == q.frames_lost and quality["gaps"] == q.frames_lost
    late_seqs = set()
    for lap in built.laps:
        t = table(built.objects, built.keys.silver_time(lap)).read()
        late_seqs |= {s for s, late in zip(t.column("seq").to_pylist(), t.column("late").to_pylist(), strict=True) if late}
    assert late_seqs <= {i for i in range(len(late_and_lost.frames)) if i % 53 == 7}
    # with those frames left out, every window is the stream's again
    store = local_store(tmp_path)
    write_built(store, built)
    reader = ArchiveReader(store)
    stream = late_and_lost.windows(1000)
    mine = reader.lap_window_stats(late_and_lost.session_id, 1, 1000)
    anchor = late_and_lost.out.sessions[-1].started_at_ms
    for w in mine:
        s = stream[(1, anchor + w.index * 1000)]
        assert s.frame_count == w.frame_count and np.array_equal(s.means, w.means, equal_nan=True)
    # without the stored windows nothing tells which frames were late: the archive refuses to guess
    blind = build_session(SessionData(**{**data.__dict__, "windows": None}))
    assert table(blind.objects, blind.keys.gold("session_quality")).read().column("frames_late_archived")[0].as_py() == 0


def test_frames_of_an_older_catalog_decode_into_the_current_one() -> None:
    assert V1 is not None
    sid = SID + 2
    samples = simulated_frames(sid, laps=1)[:200]
    old = [
        FrameEncoderV1.encode(decode_frame(raw))
        for raw in samples
    ]
    batch = decode_batch(old + samples)
    for i, raw in enumerate(old + samples):
        one = decode_frame(raw)
        assert np.array_equal(batch.values[i], one.values, equal_nan=True)
        assert batch.headers["sim_time"][i] == one.header.sim_time and batch.headers["catalog_hash"][i] == one.header.catalog_hash
    with pytest.raises(FrameError, match="non_finite"):
        decode_batch([samples[0][:-4] + np.float32(np.inf).tobytes()])


class FrameEncoderV1:
    """Frames as a sender built on catalog 1.0.0 writes them."""

    @staticmethod
    def encode(frame: object) -> bytes:
        from p424.codec.frame import FrameEncoder, FrameHeader

        assert V1 is not None
        f = frame  # a decoded current-catalog frame
        values = V1.from_payload(f.values, CATALOG)  # type: ignore[attr-defined]
        h = f.header  # type: ignore[attr-defined]
        header = FrameHeader(h.car_id, h.session_id, h.sequence, h.sim_time, h.lap, h.lap_distance, h.markers, 0, V1.hash)
        return FrameEncoder(~np.isnan(values), V1).encode(header, np.nan_to_num(values))


def test_a_session_with_fewer_frames_than_the_stream_counted_is_refused(two_laps: Processed) -> None:
    data = two_laps.data()
    partial = SessionData(**{**data.__dict__, "seqs": data.seqs[:-100], "frames": data.frames[:-100]})
    with pytest.raises(ArchiveError, match="not archived"):
        build_session(partial)


# ------------------------------------------------------------------------------------------- reading
def test_rewriting_removes_what_the_new_archive_does_not_have(two_laps: Processed, tmp_path: Path) -> None:
    store = local_store(tmp_path)
    data = two_laps.data()
    write_built(store, build_session(data))
    renamed = SessionData(**{**data.__dict__, "session": {**data.session, "track": "Spa"}})
    removed = write_built(store, build_session(renamed))
    assert removed and all("nordschleife" in k for k in removed)
    assert not [k for k in store.list("") if "nordschleife" in k]
    assert ArchiveReader(store).keys(SID).track == "spa"


def test_training_features_from_the_archive_equal_those_from_the_streams_windows(two_laps: Processed, tmp_path: Path) -> None:
    store = local_store(tmp_path)
    write_built(store, build_session(two_laps.data()))
    source = ArchiveSource.from_store(store)
    assert source.session_ids() == [SID]
    (facts,) = source.sessions([SID])
    assert (facts.track, facts.frames_received, facts.frames_lost) == ("Nordschleife (simulated)", len(two_laps.frames), 0)
    laps = source.laps([SID])
    assert [(r.session_id, r.lap, r.complete) for r in laps] == [(SID, 1, True), (SID, 2, True), (SID, 3, False)]
    selection = dataset.select_laps(laps, {SID: "Nordschleife"})
    keys = [LapKey(session_id=lap.session_id, lap=lap.lap, seconds=lap.lap_time) for lap in selection.laps]
    archived = dataset.assemble(selection.laps, source.windows(keys, 1000, SPEC.window_columns()))
    # the same laps' windows as CassandraSource returns the stream's rows (blob unpacked)
    wanted = SPEC.window_columns()
    hot = {
        (lap.session_id, lap.lap): [
            window_stats.expand(dict(zip(writes.TABLES.window.columns, writes.TABLES.window.params(w), strict=True)), wanted)
            for _, w in sorted(two_laps.windows(1000).items())
            if w.lap == lap.lap
        ]
        for lap in selection.laps
    }
    from_cassandra = dataset.assemble(selection.laps, hot)
    assert len(archived) == len(from_cassandra) > 600  # every 1 s window of laps 1 and 2
    assert archived.equals(from_cassandra)


def test_duckdb_reads_every_sessions_gold_laps(two_laps: Processed, tmp_path: Path) -> None:
    store = local_store(tmp_path)
    write_built(store, build_session(two_laps.data()))
    other = process(SID + 3, simulated_frames(SID + 3, laps=1, seed=5))
    write_built(store, build_session(other.data(track="Spa")))
    con = duckdb_connection(store)
    got = con.execute(
        f"SELECT track, session, count(*) AS laps, min(lap_time) FROM read_parquet('{store.url(gold_glob('laps'))}') "
        "GROUP BY ALL ORDER BY track"
    ).fetchall()
    assert [(t, s, n) for t, s, n, _ in got] == [("nordschleife-simulated", SID, 3), ("spa", SID + 3, 1)]
    assert ArchiveReader(store).session_ids() == [SID, SID + 3]


# ------------------------------------------------------------------------------------------- retention and state
def test_retention_follows_the_settings() -> None:
    assert Retention.from_config(Config()).table_ttls() == {
        "frames": 30 * DAY_S,
        "frame_blocks": 30 * DAY_S,  # raw frames expire together, whichever table holds them
        "channel_windows": 30 * DAY_S,
    }
    assert Retention.from_config(Config(cassandra_raw_ttl_days=0)).frames_ttl_s == 0
    with pytest.raises(ValueError, match="CASSANDRA_WINDOWS_TTL_DAYS"):
        Retention.from_config(Config(cassandra_windows_ttl_days=-1))


def test_which_sessions_the_dag_archives() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    old = datetime(2026, 5, 1, 10)  # naive UTC, as the driver returns
    closed = {"last_frame_at": old, "archived_at": None, "archive_version": None}
    assert needs_archive(closed, now, 3600)
    assert not needs_archive({**closed, "last_frame_at": datetime(2026, 5, 1, 11, 30)}, now, 3600)  # still open
    done = {**closed, "archived_at": old + timedelta(minutes=70), "archive_version": 1}
    assert not needs_archive(done, now, 3600)
    assert needs_archive({**done, "archive_version": 0}, now, 3600)  # an older format
    assert needs_archive({**done, "archived_at": old - timedelta(minutes=1)}, now, 3600)  # changed since
    assert not needs_archive({**closed, "last_frame_at": None}, now, 3600)


def test_window_columns_of_the_reader_are_the_tables() -> None:
    assert len(window_stat_columns()) == 4 * len(CATALOG.payload_channels)
