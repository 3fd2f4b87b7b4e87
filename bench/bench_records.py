"""Cost of turning processing outputs into CQL parameters and Kafka documents (the sink's per-row work).

Processes the real 50 Hz lap in tests/data as a 3-lap stint (no services needed), then times each
parameter builder and message encoder over the rows it produced: best of ``--repeat`` runs, in
microseconds per row. Compare figures from the same machine only.

    .platform/venvs/platform/bin/python bench/bench_records.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from p424.codec.frame import FrameEncoder
from p424.config import REPO_ROOT
from p424.kafka.messages import lap_message, quality_snapshot, window_message_json
from p424.processing.emit import MAX_PENDING_FRAMES
from p424.processing.outputs import FrameRow, Outputs
from p424.processing.session import SessionProcessor
from p424.storage import writes
from unity_bridge.lapfile import lap_frames, read_lap_file

LAP_FILE = REPO_ROOT / "tests" / "data" / "perrinn424_lap_start_mgu_50hz.csv"
T0_MS = 1_790_000_000_000
NOW_MS = 1_790_000_500_000
RUN_S = 0.2  # each timed run calls the builder this long, so timer resolution does not matter


def outputs(laps: int = 3) -> Outputs:
    samples = list(lap_frames(read_lap_file(LAP_FILE), laps, 1, 77))
    enc = FrameEncoder(~np.isnan(samples[0][1]))
    proc = SessionProcessor(77, 1)
    out = Outputs()
    for i, (header, values) in enumerate(samples):
        out.extend(proc.on_frame(enc.encode(header, values), T0_MS + i * 20))
    out.extend(proc.flush())
    return out


def per_row_us(build: Callable[[Any], object], rows: Sequence[Any], repeat: int) -> float:
    started = time.perf_counter()
    for r in rows:
        build(r)
    once = time.perf_counter() - started
    batch = list(rows) * max(1, round(RUN_S / max(once, 1e-9)))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for r in batch:
            build(r)
        best = min(best, time.perf_counter() - started)
    return best / len(batch) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    out = outputs()
    small = [w for w in out.windows if w.window_ms == 100]
    large = [w for w in out.windows if w.window_ms == 1000]
    quality = quality_snapshot(out.quality[-1])
    # The sink's raw-frame statements per element (at most MAX_PENDING_FRAMES frames), timed per element
    # and shown per frame: before frame_blocks a row per frame, now a block per (bucket, block) plus
    # a row per marked frame.
    elements = [out.frames[i : i + MAX_PENDING_FRAMES] for i in range(0, len(out.frames), MAX_PENDING_FRAMES)]
    per_frame = len(out.frames) / len(elements)

    def frame_rows(element: Sequence[FrameRow]) -> object:
        return [writes.frame_params(f) for f in element]

    def frame_blocks(element: Sequence[FrameRow]) -> tuple[list[writes.Params], list[writes.Params]]:
        return writes.frame_block_params(element), [writes.frame_params(f) for f in writes.marked(element)]

    frame_cases: list[tuple[str, Callable[[Any], object]]] = [
        ("frames as rows (before), per frame", frame_rows),
        ("frame blocks + marked rows, per frame", frame_blocks),
    ]
    cases: list[tuple[str, Callable[[Any], object], Sequence[Any]]] = [
        ("frame params", writes.frame_params, out.frames),
        ("window params (100 ms, blob)", writes.window_params, small),
        ("window params (1 s, blob + columns)", writes.window_with_columns_params, large),
        ("lap params", writes.lap_params, out.laps),
        ("profile params", writes.profile_params, out.profile),
        ("quality params", lambda q: writes.quality_params(q, NOW_MS), out.quality),
        ("session params", lambda s: writes.session_params(s, NOW_MS), out.sessions),
        ("window message json (100 ms)", lambda w: window_message_json(w, quality=quality), small),
        ("lap message json", lambda lap: lap_message(lap).to_json(), out.laps),
    ]
    print(f"{len(out.frames)} frames, {len(small)} + {len(large)} windows, {len(out.laps)} laps; best of {args.repeat}")
    for name, build, rows in cases:
        print(f"  {name:<38} {per_row_us(build, rows, args.repeat):8.2f} us/row")
    statements = sum(len(blocks) + len(rows) for blocks, rows in map(frame_blocks, elements))
    print(f"raw frames in elements of {MAX_PENDING_FRAMES}: {len(out.frames)} rows before, {statements} statements now")
    for name, build in frame_cases:
        print(f"  {name:<38} {per_row_us(build, elements, args.repeat) / per_frame:8.2f} us/frame")


if __name__ == "__main__":
    main()
