"""Archive figures against the running stack (targets: a 10-lap 50 Hz session archived in under 30 s;
every lap summary of 100 archived sessions read with DuckDB in under 1 s).

1. Data (not timed against the target): simulates one car for ``--laps`` laps at ``--rate`` Hz
   (10 x 50 Hz: ~157,000 frames), streams it through the bridge and waits until Flink has stored
   every frame and lap in Cassandra.
2. Timed: ``archive_session`` of that session (read from Cassandra, build, write to MinIO) under a
   bench prefix of the telemetry bucket, twice (the second is the idempotent rewrite; its objects
   are checked to be identical).
3. Timed: the session's gold lap table written for ``--sessions`` sessions (ids and lap times
   varied) under the bench prefix, then one DuckDB query (httpfs over ``s3://``) of every lap
   summary of all of them: a fresh connection (extension load and secret included), and again.

The bench prefix is deleted afterwards unless ``--keep``.

    .platform/venvs/platform/bin/python bench/bench_archive.py [--laps 10] [--rate 50] [--sessions 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

import numpy as np

from p424.archive.build import gold_laps
from p424.archive.layout import SessionKeys, gold_glob, session_date, track_slug
from p424.archive.reader import duckdb_connection
from p424.archive.store import ArchiveStore
from p424.archive.writer import archive_session, smallest_window_ms
from p424.codec.frame import FrameEncoder
from p424.config import Config, load_config
from p424.sim import CarSimulator
from p424.storage.reader import TelemetryStore
from unity_bridge.intake import new_session_id
from unity_bridge.streams import send_samples

ARCHIVE_TARGET_S = 30.0
QUERY_TARGET_S = 1.0


def stream_session(cfg: Config, laps: int, rate: float, timeout_s: float) -> tuple[int, int, float]:
    """(session id, frames, seconds until stored) of one simulated car streamed through the bridge."""
    sid = new_session_id()
    sim = CarSimulator(1, sid, 424, rate_hz=rate, laps=laps)
    first = next(iter(sim.samples()))
    encoder = FrameEncoder(~np.isnan(first[1]))  # the channels the simulator fills
    started = time.monotonic()
    sent = send_samples(
        sim.samples(), encoder.encode, cfg.host_of("bridge"), cfg.bridge_udp_port, None, None, "bench",
        cfg.sender_max_rate,
    )
    with TelemetryStore(cfg) as store:
        store.describe_session(sid, track="Nordschleife (simulated)", source="bench")
        while True:
            q = store.quality(sid) or {}
            # Every frame is in a lap row but the last: the crossing that closes the stint opens no lap.
            if q.get("frames_received") == sent and sum(int(r["frames"] or 0) for r in store.laps(sid)) == sent - 1:
                break
            if time.monotonic() - started > timeout_s:
                sys.exit(f"session {sid}: {q.get('frames_received')} of {sent} frames stored after {timeout_s:.0f} s")
            time.sleep(2)
    time.sleep(3)  # the idle flush's windows land with its lap row
    return sid, sent, time.monotonic() - started


def objects(store: ArchiveStore) -> dict[str, bytes]:
    return {k: store.get(k) for k in store.list("")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--laps", type=int, default=10)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--sessions", type=int, default=100, help="archived sessions the DuckDB query reads")
    p.add_argument("--session", type=int, help="archive this stored session instead of streaming one")
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--keep", action="store_true", help="leave the bench prefix in the bucket")
    args = p.parse_args()
    cfg = load_config()
    store = ArchiveStore.from_config(cfg, prefix=f"bench/archive-{uuid.uuid4().hex[:10]}/")
    out: dict[str, Any] = {"prefix": f"{store.bucket}/{store.prefix}"}
    try:
        if args.session:
            sid, frames, stored_s = args.session, 0, 0.0
        else:
            sid, frames, stored_s = stream_session(cfg, args.laps, args.rate, args.timeout)
        out["session"] = {"session_id": sid, "frames_sent": frames, "stored_seconds": round(stored_s, 1)}

        with TelemetryStore(cfg) as hot:
            runs, snapshots = [], []
            for _ in range(2):
                t0 = time.perf_counter()
                done = archive_session(hot.session, cfg.cassandra_keyspace, store, sid, smallest_window_ms(cfg), False)
                runs.append(round(time.perf_counter() - t0, 2))
                snapshots.append(objects(store))
            laps = hot.laps(sid)
            info = hot.session_row(sid) or {}
        out["archive"] = {
            "seconds": runs,
            "target_s": ARCHIVE_TARGET_S,
            "frames": done.frames,
            "laps": done.laps,
            "objects": done.objects,
            "megabytes": round(done.bytes / 1e6, 1),
            "identical_on_rewrite": snapshots[0] == snapshots[1],
        }

        # 100 sessions' gold lap tables (the streamed session's laps, ids and times varied)
        rng = np.random.default_rng(424)
        track, date = track_slug(info.get("track")), session_date(info.get("started_at"))
        t0 = time.perf_counter()
        for i in range(args.sessions):
            bench_sid = 10**15 + i
            rows = [{**r, "session_id": bench_sid, "lap_time": r["lap_time"] + float(rng.normal(0, 0.5))} for r in laps]
            common = {"session_id": bench_sid, "track": track, "track_name": info.get("track"), "date": date}
            key = SessionKeys(session_id=bench_sid, track=track, date=date).gold("laps")
            store.put(key, gold_laps(rows, common, {}))
        written = time.perf_counter() - t0
        bench_ids = f"session BETWEEN {10**15} AND {10**15 + args.sessions - 1}"
        sql = f"SELECT * FROM read_parquet('{store.url(gold_glob('laps'))}') WHERE {bench_ids}"
        timings: list[float] = []
        for fresh in (True, False, False):
            t0 = time.perf_counter()
            if fresh or not timings:
                con = duckdb_connection(store)
            table = con.execute(sql).to_arrow_table()
            timings.append(round(time.perf_counter() - t0, 3))
        out["duckdb"] = {
            "sessions": args.sessions,
            "lap_rows": table.num_rows,
            "columns": table.num_columns,
            "seconds_fresh_connection": timings[0],
            "seconds_warm": timings[1:],
            "target_s": QUERY_TARGET_S,
            "write_seconds": round(written, 1),
        }
    finally:
        if not args.keep:
            for key in store.list(""):
                store.delete(key)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
