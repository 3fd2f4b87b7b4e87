"""Reading a whole lap file of today's export format: time to parse, convert and check.

Builds a synthetic file the size of the simulator's real ``training_data.csv`` (about 26,000 rows
of 60 columns, 14.5 MB, CR+LF) by repeating the real excerpt's rows with the clocks, frame counter
and distances carried on, then times ``read_lap_file`` (everything replay does before sending)
against pandas' C parser on the same file, and building and encoding one stint's frames.

    .platform/venvs/platform/bin/python bench/bench_lapfile.py [--rows 26000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from p424.config import REPO_ROOT
from unity_bridge.lapfile import lap_frames, read_lap_file
from unity_bridge.streams import lap_encoder

EXCERPT = REPO_ROOT / "tests" / "data" / "perrinn424_training_data_excerpt_15s.csv"
# Columns that must keep increasing across the repeats, and by how much per row.
CONTINUED = {"Frame": 10.0, "Time": 0.02, "TotalTime": 0.02, "Distance": None, "TotalDistance": None}


def synthetic_lap(rows: int, path: Path) -> Path:
    lines = EXCERPT.read_bytes().decode("utf-8").split("\r\n")
    header, units, body = lines[0], lines[1], [line.split(",") for line in lines[2:] if line]
    col = {name: j for j, name in enumerate(header.split(","))}
    out = [header, units]
    span = {name: float(body[-1][col[name]]) - float(body[0][col[name]]) for name in CONTINUED}
    for i in range(rows):
        k, cells = divmod(i, len(body))
        row = list(body[cells])
        for name, step in CONTINUED.items():
            j = col[name]
            row[j] = f"{float(row[j]) + k * (span[name] + (step or 0.0)):.5f}"
        out.append(",".join(row))
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("utf-8"))
    return path


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=26_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = synthetic_lap(args.rows, Path(tmp) / "lap.csv")
        lap = read_lap_file(path)
        print(f"{path.stat().st_size / 1e6:.1f} MB, {lap.samples} rows x {len(lap.column_map)} columns")
        med, best = timed(lambda: read_lap_file(path), args.repeat)
        print(f"read_lap_file (parse, convert, check): median {med * 1000:.0f} ms, best {best * 1000:.0f} ms")
        med, best = timed(lambda: pd.read_csv(path, header=0, skiprows=[1]), args.repeat)
        print(f"pandas.read_csv of the same file (C parser, no conversion): median {med * 1000:.0f} ms")
        encode = lap_encoder(lap)

        def frames() -> None:
            for header, values in lap_frames(lap, 1, 1, 1):
                encode(header, values)

        med, _ = timed(frames, args.repeat)
        print(f"building and encoding its {lap.samples + 1} frames: {med * 1000:.0f} ms ({lap.samples / med:,.0f}/s)")


if __name__ == "__main__":
    main()
