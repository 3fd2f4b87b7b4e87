"""`compare` of 5 full laps over every catalog channel, on the running native stack.

Streams a simulated car for 6 laps at 50 Hz through the bridge (5 complete Nordschleife laps of
~313 s, ~15,700 frames each; the sixth stays open), waits until Cassandra has every frame and the
laps, then times ``p424.analysis.compare`` of the 5 laps over every payload channel of the catalog:

- cold: the first comparison in a new process (connected to Cassandra, nothing read yet), one
  process per run;
- warm: the same comparison repeated in one process;
- the command line end to end (``python -m launcher compare ... --channels all``), process start,
  imports and connection included;
- the same from raw frames (``--source raw``) for reference.

The simulator of this branch leaves the catalog's newest channels NaN: frames carry a presence mask
of the channels it fills, so the comparison still aligns every catalog channel (absent ones as NaN).
Only its own session is written. Target: under 2 s.

    .platform/venvs/platform/bin/python bench/bench_compare.py [--runs 7] [--session ID] [--rate 6000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import numpy.typing as npt

from p424.analysis import compare, get_session
from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder
from p424.config import Config, load_config
from p424.sim import CarSimulator
from p424.storage.reader import TelemetryStore
from unity_bridge.sender import FrameSender

LAPS = 5
REPO = Path(__file__).resolve().parent.parent


def stream_session(cfg: Config, rate: float) -> int:
    sid = uuid.uuid4().int & (2**62 - 1) | 1
    sim = CarSimulator(car_id=424, session_id=sid, seed=7, rate_hz=50, laps=LAPS + 1)
    block = sim.run()
    present: npt.NDArray[np.bool_] = np.asarray(np.isfinite(block.values).all(axis=0))
    encoder = FrameEncoder(present)
    print(
        f"session {sid}: {len(block):,} frames, {LAPS + 1} laps, {int(present.sum())}/{len(present)} catalog channels "
        "filled by the simulator",
        flush=True,
    )
    start = time.perf_counter()
    with FrameSender(cfg.host_of("bridge"), cfg.bridge_udp_port) as tx:
        for i in range(len(block)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            tx.send(encoder.encode(block.header(i), np.nan_to_num(block.values[i])))
    print(f"sent in {time.perf_counter() - start:.1f} s; waiting for Cassandra ...", flush=True)
    with TelemetryStore(cfg) as store:
        store.describe_session(sid, car_id=424, source="bench", track="Nordschleife (simulated)")
        deadline = time.monotonic() + 900
        while True:
            quality = store.quality(sid) or {}
            complete = [r for r in store.laps(sid) if r["complete"]]
            if quality.get("frames_received") == len(block) and len(complete) >= LAPS:
                break
            if time.monotonic() > deadline:
                sys.exit(f"timed out: {quality.get('frames_received')} of {len(block)} frames, {len(complete)} laps")
            time.sleep(2)
    print(f"stored after {time.perf_counter() - start:.1f} s", flush=True)
    return sid


def time_compare(cfg: Config, sid: int, source: str, runs: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per comparison; the first one is this process's cold run. CPU time (all
    threads of the process, the driver's included) says how much of the wall time was work when
    other processes share the cores."""
    with TelemetryStore(cfg) as store:
        session = get_session(sid, store)
        laps = [session.laps.pick_lap(n) for n in range(1, LAPS + 1)]
        out = []
        for _ in range(runs):
            t, c = time.perf_counter(), time.process_time()
            cmp = compare(laps, channels=list(CATALOG.payload_names), source=source)
            out.append((time.perf_counter() - t, time.process_time() - c))
        assert len(cmp.channels) == len(CATALOG.payload_names) and len(cmp.laps) == LAPS
    return out


def cold_runs(sid: int, source: str, runs: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, __file__, "--session", str(sid), "--child", source],
            capture_output=True,
            text=True,
            check=True,
        )
        first = json.loads(result.stdout.strip().splitlines()[-1])["first"]
        out.append((first[0], first[1]))
    return out


def cli_runs(sid: int, runs: int) -> list[tuple[float, float]]:
    laps = [f"{sid}:{n}" for n in range(1, LAPS + 1)]
    out = []
    for _ in range(runs):
        t, c = time.perf_counter(), _children_cpu()
        subprocess.run(
            [sys.executable, "-m", "launcher", "compare", "--laps", *laps, "--channels", "all"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        out.append((time.perf_counter() - t, _children_cpu() - c))
    return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def show(what: str, runs: list[tuple[float, float]]) -> None:
    wall = [w for w, _ in runs]
    cpu = statistics.median(c for _, c in runs)
    print(
        f"{what:<42} p50 {statistics.median(wall):6.3f} s  min {min(wall):6.3f}  max {max(wall):6.3f}  "
        f"CPU p50 {cpu:6.3f} s  ({len(runs)} runs)",
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--session", type=int, default=None, help="a session with 5 complete laps (default: stream one)")
    ap.add_argument("--rate", type=float, default=6000.0, help="frames/s sent to the bridge")
    ap.add_argument("--child", choices=["windows", "raw"], default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    cfg = load_config()
    if args.child:
        print(json.dumps({"first": list(time_compare(cfg, args.session, args.child, 1)[0])}))
        return 0
    sid = args.session or stream_session(cfg, args.rate)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"compare {LAPS} laps of session {sid} over {len(CATALOG.payload_names)} catalog channels (load {load})")
    show("windows, cold (first in a new process)", cold_runs(sid, "windows", args.runs))
    warm = time_compare(cfg, sid, "windows", args.runs + 1)[1:]
    show("windows, warm (repeated in one process)", warm)
    show("command line end to end (windows)", cli_runs(sid, args.runs))
    show("raw frames, cold", cold_runs(sid, "raw", max(2, args.runs // 3)))
    show("raw frames, warm", time_compare(cfg, sid, "raw", max(2, args.runs // 3) + 1)[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
