"""Draw a lap's racing line coloured by speed, from the stored position channels.

    .platform/venvs/platform/bin/python examples/track_map.py [--session ID] [--lap N] [--out track_map.png]

Uses the FastF1-shaped analysis API: ``Lap.get_pos_data()`` gives X, Y (the track plane) and Z
(height) for every frame of the lap, ``Lap.get_telemetry()`` the speed at the same instants. The
newest session with position data is used when no session is given, its fastest complete lap (or
its longest lap) when no lap is given. Needs a session streamed with catalog 1.1.0 or later
(`./launchcommand.sh simulate`, or a replay of today's simulator export).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from p424.analysis import Lap, get_session, list_sessions
from p424.catalog import CATALOG


def pick_lap(session_id: int | None, lap_number: int | None) -> Lap:
    candidates = [session_id] if session_id else [int(s) for s in list_sessions()["session_id"]]
    for sid in candidates:
        laps = get_session(sid).laps
        if laps.empty:
            continue
        if lap_number is not None:
            return laps.pick_lap(lap_number)
        complete = laps.pick_complete()
        if not complete.empty:
            return laps.pick_fastest()
        return laps.pick_lap(int(laps.loc[laps["Distance"].idxmax(), "LapNumber"]))
    raise SystemExit("no stored lap: stream one first (./launchcommand.sh simulate --laps 1)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--session", type=int, default=None)
    p.add_argument("--lap", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("track_map.png"))
    args = p.parse_args()
    lap = pick_lap(args.session, args.lap)
    pos = lap.get_pos_data()
    if pos.empty:
        raise SystemExit(f"lap {int(lap['LapNumber'])} has no position data (a catalog before 1.1.0?)")
    speed = lap.get_telemetry(["speed"], source="raw")
    kmh = np.interp(pos["SessionTime"], speed["SessionTime"], speed["speed"]) * CATALOG["speed"].multiplier
    points = np.column_stack([pos["X"], pos["Y"]])
    segments = np.stack([points[:-1], points[1:]], axis=1)
    fig, ax = plt.subplots(figsize=(9, 9))
    line = LineCollection(list(segments), cmap="plasma", linewidths=2.5)
    line.set_array(kmh[:-1])
    ax.add_collection(line)
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xlabel("X (m)")
    ax.set_ylabel("Y (m)")
    fig.colorbar(line, ax=ax, label="speed (km/h)", shrink=0.7)
    ax.set_title(f"session {lap.session.session_id}, lap {int(lap['LapNumber'])}: {lap['LapTimeSeconds']:.3f} s")
    fig.savefig(args.out, dpi=120, bbox_inches="tight")
    print(f"wrote {args.out} ({len(pos)} positions, {kmh.min():.0f}-{kmh.max():.0f} km/h)")


if __name__ == "__main__":
    main()
