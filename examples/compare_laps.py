"""Query a stored session and plot two of its laps aligned by distance (p424.analysis, FastF1-shaped).

Picks the newest session with at least two complete laps unless `--session` is given, compares
its fastest lap with another one on the stored distance profile (a point every `PROFILE_STEP_M`,
p424/storage/schema.py), and writes a PNG: speed and throttle of both laps against lap distance,
and the time delta (negative: the compared lap ahead).

    .platform/venvs/platform/bin/python examples/compare_laps.py [--session ID] [--laps 1 2]
        [--out lap_comparison.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # writes a file; no display needed

import matplotlib.pyplot as plt

from p424.analysis import Session, compare_laps, get_session, list_sessions
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
    ap.add_argument(
        "--laps",
        type=int,
        nargs=2,
        metavar=("REF", "CMP"),
        default=None,
        help="lap numbers to compare (default: the fastest against the next complete lap)",
    )
    ap.add_argument("--out", type=Path, default=Path("lap_comparison.png"))
    args = ap.parse_args()

    with TelemetryStore() as store:
        session = get_session(args.session, store) if args.session else newest_session_with_laps(store)
        laps = session.laps
        print(laps[["LapNumber", "LapTime", "Distance", "MaxSpeed", "EnergyNetKWh", "Complete"]].to_string(index=False))
        if args.laps:
            ref, cmp_ = laps.pick_lap(args.laps[0]), laps.pick_lap(args.laps[1])
        else:
            ref = laps.pick_fastest()
            others = laps.pick_complete()
            others = others[others["LapNumber"] != ref["LapNumber"]]
            cmp_ = laps.pick_lap(int(others["LapNumber"].iloc[0]))
        both = compare_laps(ref, cmp_, channels=("speed", "throttle"))

    r, c = int(ref["LapNumber"]), int(cmp_["LapNumber"])
    fig, (ax_speed, ax_throttle, ax_delta) = plt.subplots(3, 1, figsize=(12, 8), sharex=True, layout="constrained")
    km = both["Distance"] / 1000
    ax_speed.plot(km, both["speed_ref"] * 3.6, label=f"lap {r}")
    ax_speed.plot(km, both["speed_cmp"] * 3.6, label=f"lap {c}")
    ax_speed.set_ylabel("speed (km/h)")
    ax_speed.legend()
    ax_throttle.plot(km, both["throttle_ref"] * 100)
    ax_throttle.plot(km, both["throttle_cmp"] * 100)
    ax_throttle.set_ylabel("throttle (%)")
    ax_delta.plot(km, both["Delta"], color="black")
    ax_delta.axhline(0, color="grey", lw=0.5)
    ax_delta.set_ylabel(f"delta lap {c} - lap {r} (s)")
    ax_delta.set_xlabel("lap distance (km)")
    fig.suptitle(f"session {session.session_id}: lap {r} vs lap {c}")
    fig.savefig(args.out, dpi=110)
    print(f"final delta {both['Delta'].iloc[-1]:+.3f} s over {km.iloc[-1]:.2f} km; plot written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
