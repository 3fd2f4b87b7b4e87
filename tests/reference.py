"""Independent reference computations with pandas, for checking what processing stores.

Nothing here uses p424.processing: lap time, distance and energy are recomputed from the frames
as a race engineer would in a notebook.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def reference_laps(df: pd.DataFrame) -> pd.DataFrame:
    """Lap time, distance and energies with pandas: each lap spans its first frame to the next lap's first frame."""
    rows = []
    starts = df.groupby("lap")["sim_time"].min()
    for number, g in df.groupby("lap"):
        if len(g) < 2:
            continue  # a lap's opening line crossing alone (the end of a stint) is not a lap yet
        nxt = df[df["lap"] == number + 1].head(1)
        span = pd.concat([g, nxt])
        t, p = span["sim_time"].to_numpy(), span["power_electrical_total"].to_numpy()
        dt = np.diff(t)
        drawn = np.sum(0.5 * (np.clip(p[1:], 0, None) + np.clip(p[:-1], 0, None)) * dt) / 3600
        regen = -np.sum(0.5 * (np.clip(p[1:], None, 0) + np.clip(p[:-1], None, 0)) * dt) / 3600
        d = span["lap_distance"].to_numpy()
        steps = np.diff(d)
        distance = np.where(steps < -100, d[1:], np.maximum(steps, 0)).sum()
        end = nxt["sim_time"].iloc[0] if len(nxt) else g["sim_time"].iloc[-1]
        rows.append(
            {
                "lap": number,
                "lap_time": end - starts[number],
                "distance": distance,
                "drawn": drawn,
                "regen": regen,
                "max_speed": g["speed"].max(),
                "complete": len(nxt) > 0,
            }
        )
    return pd.DataFrame(rows).set_index("lap")


def reference_windows(df: pd.DataFrame, window_ms: int) -> pd.DataFrame:
    key = np.floor(df["sim_time"] * 1000 / window_ms).astype(int)
    g = df.assign(window=key).groupby(["lap", "window"])
    speed = g["speed"].agg(["min", "max", "mean", "last", "count"])
    power = g["power_electrical_total"].agg(["min", "max", "mean", "last"]).add_suffix("_power")
    return speed.join(power)
