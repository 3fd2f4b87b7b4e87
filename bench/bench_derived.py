"""Per-frame cost of maths channels, lap events and alarms in the session processor, offline.

Simulates a backlog (``--cars`` cars, ``--seconds`` of a flying lap each at 50 Hz, p424.sim), encodes
it as protocol-v1 frames interleaved across sessions as a Kafka partition delivers them, then runs
SessionProcessor over it (decode, re-ordering, windows, laps, and what is being measured) with:

  none         no maths channels, events or alarms (processing as before they existed)
  maths        the default maths channels only (config/maths_channels.toml)
  maths+events and the default lap events (config/events.toml)
  all          and the default limits (config/alarms.toml): what the job runs

Prints frames/s and microseconds per frame of this process's CPU time (best of ``--repeat``, one
core, no services; CPU time rather than wall time, so other work on a shared machine counts less),
and the extra cost per frame against ``none``. Compare figures from the same machine and day only.
With code from before p424.derived existed (no ``definitions`` argument) only ``none`` runs.

    .platform/venvs/platform/bin/python bench/bench_derived.py [--cars 20] [--seconds 60] [--repeat 5]
        [--batch-windows 5]
"""

from __future__ import annotations

import argparse
import inspect
import os
import time
from typing import Any

import numpy as np

from p424.codec.frame import FrameEncoder
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from p424.sim import CarSimulator, driver_pace

T0_MS = 1_790_000_000_000


def backlog(cars: int, seconds: float, seed: int) -> list[tuple[int, int, bytes, int]]:
    """(session, car, frame, receive ms) of every car's first ``seconds``, in receive order."""
    frames: list[tuple[int, int, bytes, int]] = []
    for car in range(1, cars + 1):
        session = 1000 + car
        sim = CarSimulator(car, session, seed, driver_pace(seed, car), rate_hz=50, laps=1)
        block = next(sim.blocks(max_samples=int(seconds * 50)))
        enc = FrameEncoder(~np.isnan(block.values[0]))
        for i in range(len(block)):
            received = T0_MS + round(float(block.sim_time[i]) * 1000)
            frames.append((session, car, enc.encode(block.header(i), block.values[i]), received))
    frames.sort(key=lambda f: (f[3], f[0]))
    return frames


def variants() -> dict[str, Any]:
    if "definitions" not in inspect.signature(SessionProcessor).parameters:
        return {"none": None}
    from p424 import derived
    from p424.derived.alarms import AlarmSet
    from p424.derived.events import EventSet

    d = derived.default()
    no_events, no_alarms = EventSet((), "(none)"), AlarmSet((), "(none)")
    return {
        "none": derived.none(),
        "maths": derived.Definitions(maths=d.maths, events=no_events, alarms=no_alarms),
        "maths+events": derived.Definitions(maths=d.maths, events=d.events, alarms=no_alarms),
        "all": d,
    }


def run_once(
    frames: list[tuple[int, int, bytes, int]], definitions: Any, batch_windows: int = 1
) -> tuple[float, Outputs]:
    processors: dict[int, SessionProcessor] = {}
    out = Outputs()
    kwargs = {} if definitions is None else {"definitions": definitions}
    started = time.process_time()
    for session, car, raw, received in frames:
        proc = processors.get(session)
        if proc is None:
            proc = processors[session] = SessionProcessor(session, car, **kwargs)
            if batch_windows > 1:  # code from before grouped aggregation has no such attribute to set
                proc.batch_windows = batch_windows
        out.extend(proc.on_frame(raw, received))
    for proc in processors.values():
        out.extend(proc.flush())
    return time.process_time() - started, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cars", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--batch-windows",
        type=int,
        default=1,
        help="closed windows aggregated together (1: the job when quiet; 5: loaded, FLINK_EMIT_INTERVAL_MS=500)",
    )
    args = ap.parse_args()
    frames = backlog(args.cars, args.seconds, args.seed)
    found = variants()
    if len(found) > 1:
        d = found["all"]
        counts = f"{len(d.maths)} maths channels, {len(d.events.tracks)} event tracks, {len(d.alarms.limits)} limits"
        print(f"definitions: {counts}")
    print(
        f"{len(frames):,} frames ({args.cars} cars x {args.seconds:g} s at 50 Hz); best of {args.repeat}; "
        f"windows aggregated in groups of {args.batch_windows}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    best: dict[str, float] = {}
    for _ in range(args.repeat):  # interleaved, so a busy moment of the machine hits every variant alike
        for name, definitions in found.items():
            elapsed, out = run_once(frames, definitions, args.batch_windows)
            best[name] = min(best.get(name, float("inf")), elapsed)
    last = list(found)[-1]
    _, out = run_once(frames, found[last], args.batch_windows)
    base = best["none"] / len(frames) * 1e6
    for name, elapsed in best.items():
        us = elapsed / len(frames) * 1e6
        extra = "" if name == "none" else f"   +{us - base:5.2f} us/frame ({(us / base - 1) * 100:+.0f} %)"
        print(f"  {name:<13} {len(frames) / elapsed:10,.0f} frames/s {us:8.2f} us/frame{extra}")
    print(f"outputs ({last}): {len(out.windows):,} windows, {len(out.events)} events, {len(out.alerts)} alerts")


if __name__ == "__main__":
    main()
