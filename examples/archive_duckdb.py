"""Query the session archive straight from the object store, with DuckDB and with pyarrow.

DuckDB reads the archive's Parquet over ``s3://`` (its httpfs extension, from the pinned PyPI
wheel; ``p424.archive.duckdb_connection`` loads it and registers MinIO's endpoint and keys):
every archived lap summary with its session's quality, the best laps per track, and one lap's
frames from silver. pyarrow opens the same keys as a hive-partitioned dataset.

    .platform/venvs/platform/bin/python examples/archive_duckdb.py [--prefix P]

Sessions are archived by the ``p424_archive`` DAG an hour after they end (``ARCHIVE_CLOSED_AFTER_S``);
``--archive SESSION_ID`` archives one stored session now (idempotent) so there is something to read.
"""

from __future__ import annotations

import argparse

import pyarrow as pa
import pyarrow.dataset as pads

from p424.archive import ArchiveReader, ArchiveStore, duckdb_connection
from p424.archive.layout import gold_glob
from p424.archive.writer import archive_session, smallest_window_ms
from p424.config import load_config
from p424.storage.reader import TelemetryStore

SESSION_KEYS = pa.schema([("track", pa.string()), ("session", pa.int64())])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prefix", default=None, help="archive key prefix inside the bucket (default: ARCHIVE_PREFIX)")
    p.add_argument("--archive", type=int, metavar="SESSION_ID", help="archive this stored session first")
    args = p.parse_args()
    cfg = load_config()
    store = ArchiveStore.from_config(cfg, prefix=args.prefix)
    if args.archive:
        with TelemetryStore(cfg) as hot:
            done = archive_session(hot.session, cfg.cassandra_keyspace, store, args.archive, smallest_window_ms(cfg))
        print(f"archived session {done.session_id}: {done.frames} frames, laps {done.laps}, {done.objects} objects")

    con = duckdb_connection(store)
    laps, quality = store.url(gold_glob("laps")), store.url(gold_glob("session_quality"))
    print("\nBest complete lap per track (gold/laps joined with gold/session_quality):")
    print(
        con.sql(
            f"""
            SELECT l.track, count(DISTINCT l.session_id) AS sessions, count(*) AS laps,
                   min(l.lap_time) AS best_lap_s, round(avg(l.energy_net_kwh), 3) AS mean_net_kwh,
                   sum(q.frames_lost) AS frames_lost
            FROM read_parquet('{laps}') l JOIN read_parquet('{quality}') q USING (session_id)
            WHERE l.complete AND NOT l.invalidated
            GROUP BY l.track ORDER BY l.track
            """
        )
    )
    best = con.sql(
        f"SELECT session_id, lap, lap_time FROM read_parquet('{laps}') WHERE complete ORDER BY lap_time LIMIT 1"
    ).fetchone()
    if best is None:
        print("no complete lap archived yet: run with --archive SESSION_ID (./launchcommand.sh sessions lists them)")
        return
    sid, lap, lap_time = best
    keys = ArchiveReader(store).keys(sid)  # the session's record names its track and date
    print(f"\nFastest archived lap: session {sid} lap {lap} ({lap_time:.3f} s); speed every 500 m from silver:")
    print(
        con.sql(
            f"""
            SELECT distance AS distance_m, round(elapsed, 2) AS lap_time_s, round(speed * 3.6, 1) AS speed_kmh
            FROM read_parquet('{store.url(keys.silver_distance(lap))}') WHERE distance % 500 = 0 ORDER BY distance
            """
        )
    )

    # pyarrow: the same objects as one dataset, partition keys as columns
    keys_as_columns = pads.partitioning(SESSION_KEYS, flavor="hive")
    dataset = pads.dataset(store.path("gold/laps"), filesystem=store.fs, format="parquet", partitioning=keys_as_columns)
    table = dataset.to_table(columns=["session", "lap", "lap_time"], filter=pads.field("session") == sid)
    print(f"\npyarrow: {table.num_rows} lap rows of session {sid} in gold/laps")


if __name__ == "__main__":
    main()
