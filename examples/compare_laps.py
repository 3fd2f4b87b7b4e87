"""Query a stored session and compare its laps by distance (p424.analysis, FastF1-shaped).

Picks the newest session with at least two complete laps unless `--session` is given, prints its
lap table with each lap's mini-sector colours and the theoretical best, compares the chosen laps
(default: every complete lap) against the fastest one on a common distance grid, prints the time
delta at the end of each mini-sector and writes a PNG: the delta and the channels of your choice
against lap distance.

    .platform/venvs/platform/bin/python examples/compare_laps.py [--session ID] [--laps 1 2 3]
        [--channels speed throttle] [--out lap_comparison.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from p424.analysis import Session, compare, get_session, list_sessions
from p424.analysis.minisectors import status_counts
from p424.analysis.plotting import plot_comparison
from p424.storage.reader import TelemetryStore


def newest_session_with_laps(store: TelemetryStore, laps: int = 2) -> Session:
    for sid in list_sessions(store)["session_id"]:
        session = get_session(int(sid), store)
        if len(session.laps.pick_complete()) >= laps:
            return session
    raise SystemExit("no stored session has two complete laps yet: ./launchcommand.sh simulate --laps 3 --max")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--session", type=int, default=None)
    ap.add_argument("--laps", type=int, nargs="+", default=None, help="lap numbers (default: every complete lap)")
    ap.add_argument("--channels", nargs="+", default=["speed", "throttle", "power_electrical_total"])
    ap.add_argument("--out", type=Path, default=Path("lap_comparison.png"))
    args = ap.parse_args()

    with TelemetryStore() as store:
        session = get_session(args.session, store) if args.session else newest_session_with_laps(store)
        laps = session.laps
        mini = laps.mini_sectors()
        table = laps[["LapNumber", "LapTime", "Distance", "MaxSpeed", "EnergyNetKWh", "Complete"]]
        print(table.join(status_counts(mini).droplevel("SessionId"), on="LapNumber").to_string(index=False))
        best = session.theoretical_best()
        print(f"theoretical best {best.lap_time:.3f} s, fastest lap {best.fastest[1]} {best.fastest_lap_time:.3f} s")
        numbers = args.laps or [int(n) for n in laps.pick_complete()["LapNumber"]]
        cmp = compare([laps.pick_lap(n) for n in numbers], channels=args.channels)

    deltas = cmp.mini_sectors.pivot(index="MiniSector", columns="Lap", values="CumulativeDelta")
    print(f"\ndelta to {cmp.reference} at the end of each mini-sector (s):")
    print(deltas.round(3).to_string())
    plot_comparison(cmp, args.out)
    print(f"plot written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
