"""Training DAG wall time, from trigger to registered model, on 50 simulated laps (target: under 3 minutes).

1. Data (not timed against the target): streams N cars x L laps through the bridge (each session ends
   with the line crossing that closes its last lap, so N x L complete laps; default 10 x 5 = 50),
   describes the sessions' track as `./launchcommand.sh simulate` does, waits until Flink has
   stored every complete lap and archives the sessions (training reads the archive).
   `--sessions FILE` reuses sessions saved by an earlier run instead.
2. Timed: triggers `p424_train_lap_model` through Airflow's REST API for exactly those sessions
   (under a model name of its own) and waits for the run to finish; prints the wall time, each
   task's duration, the data size and the model's errors against each baseline.

    .platform/venvs/platform/bin/python bench/bench_training.py [--cars 10] [--laps 5] [--rate 5]
        [--sessions bench_sessions.json] [--model-name p424_lap_outcome_bench]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from launcher.commands_ml import TRAINING_DAG, AirflowClient
from p424.archive.store import ArchiveStore
from p424.archive.writer import archive_session, smallest_window_ms
from p424.config import Config, load_config
from p424.storage.reader import TelemetryStore
from unity_bridge.cli import describe_sessions
from unity_bridge.streams import simulate

TARGET_S = 180.0
ARCHIVE_PREFIX = "bench/training/"  # the archive of the bench's sessions, inside the telemetry bucket
SIMULATED_TRACK = "Nordschleife (simulated)"  # what `./launchcommand.sh simulate` records (unity_bridge/cli.py)


def complete_laps(store: TelemetryStore, sessions: list[int]) -> int:
    return sum(1 for s in sessions for lap in store.laps(s) if lap["complete"])


def stream(cfg: Config, cars: int, laps: int, rate: float, seed: int, timeout_s: float) -> dict[str, Any]:
    started = time.monotonic()
    result = simulate(
        cfg.host_of("bridge"), cfg.bridge_udp_port, cars, rate, laps, seed, speed=None, max_rate=4000, quiet=True
    )
    sent = time.monotonic() - started
    sessions = sorted(result.sessions)
    describe_sessions(cfg, result.sessions, "simulate", SIMULATED_TRACK, "bench/bench_training.py")
    want = cars * laps
    with TelemetryStore(cfg) as store:
        while (have := complete_laps(store, sessions)) < want:
            if time.monotonic() - started > timeout_s:
                sys.exit(f"only {have} of {want} laps stored after {timeout_s:.0f} s; is the Flink job keeping up?")
            time.sleep(3)
        # Training reads the archive (TRAINING_SOURCE=archive): archive the sessions as the p424_archive DAG
        # does once they close, under the bench's own prefix.
        archive = ArchiveStore.from_config(cfg, prefix=ARCHIVE_PREFIX)
        for s in sessions:
            archive_session(store.session, cfg.cassandra_keyspace, archive, s, smallest_window_ms(cfg))
    return {
        "sessions": sessions,
        "frames": result.frames_sent,
        "send_seconds": round(sent, 1),
        "stored_seconds": round(time.monotonic() - started, 1),
        "complete_laps": want,
    }


def task_durations(client: AirflowClient, run_id: str) -> dict[str, float]:
    tis = client._request("GET", f"/dags/{TRAINING_DAG}/dagRuns/{run_id}/taskInstances")
    return {t["task_id"]: round(float(t["duration"] or 0), 1) for t in tis["task_instances"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cars", type=int, default=10)
    ap.add_argument("--laps", type=int, default=5, help="laps per car, all of them complete")
    ap.add_argument(
        "--rate",
        type=float,
        default=5.0,
        help="frames/s per car (training reads 1 s windows, so the rate changes the load, not the data)",
    )
    ap.add_argument("--seed", type=int, default=424)
    ap.add_argument("--sessions", type=Path, default=None, help="JSON file of session ids: reuse, or save to it")
    ap.add_argument("--model-name", default="p424_lap_outcome_bench")
    ap.add_argument("--stream-timeout", type=float, default=1200.0)
    args = ap.parse_args()
    cfg = load_config()

    if args.sessions is not None and args.sessions.exists():
        data: dict[str, Any] = json.loads(args.sessions.read_text())
        print(f"reusing {len(data['sessions'])} sessions from {args.sessions}", file=sys.stderr)
    else:
        print(f"streaming {args.cars} cars x {args.laps} laps at {args.rate:g} Hz ...", file=sys.stderr)
        data = stream(cfg, args.cars, args.laps, args.rate, args.seed, args.stream_timeout)
        if args.sessions is not None:
            args.sessions.write_text(json.dumps(data))

    client = AirflowClient(cfg)
    client.wait_for_dag(TRAINING_DAG)
    started = time.monotonic()
    run_id = client.trigger(
        TRAINING_DAG,
        {"model_name": args.model_name, "session_ids": data["sessions"], "archive_prefix": ARCHIVE_PREFIX},
        note="bench/bench_training.py",
    )
    state = client.wait(TRAINING_DAG, run_id, 1800)
    wall = time.monotonic() - started
    outcome = client.outcome(TRAINING_DAG, run_id, wall)
    run = client._request("GET", f"/dags/{TRAINING_DAG}/dagRuns/{run_id}")
    queued = datetime.fromisoformat(run["queued_at"])
    began = datetime.fromisoformat(run["start_date"])
    out = {
        "run_id": run_id,
        "state": state,
        "wall_seconds_trigger_to_registered": round(wall, 1),
        "scheduler_wait_seconds": round((began - queued).total_seconds(), 1),
        "task_seconds": task_durations(client, run_id),
        "tracks": [d.to_dict() for d in outcome.extracted.tracks] if outcome.extracted else [],
        "evaluation": ({t.track: t.evaluation.to_dict() for t in outcome.trained.tracks} if outcome.trained else {}),
        "models": [
            {"model_name": p.model_name, "version": p.version, "alias": p.alias, "reason": p.reason}
            for p in (outcome.registered.tracks if outcome.registered else ())
        ],
        "data": {k: v for k, v in data.items() if k != "sessions"},
        "target_seconds": TARGET_S,
        "meets_target": state == "success" and wall < TARGET_S,
    }
    if outcome.failure or outcome.skip_reason:
        out["problem"] = outcome.failure or outcome.skip_reason
    print(json.dumps(out, indent=2))
    return 0 if out["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
