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


def reference_maths(df: pd.DataFrame) -> dict[str, pd.Series]:
    """The default maths channels (config/maths_channels.toml) written out with pandas, as an engineer
    would in a notebook: catalog channels as columns (SI units), plus lap_distance."""
    nan = np.nan
    total = df.power_electrical_front + df.power_electrical_rear
    mech_f = df.torque_mechanical_front * df.motor_rpm_front * 2 * np.pi / 60 / 1000
    mech_r = df.torque_mechanical_rear * df.motor_rpm_rear * 2 * np.pi / 60 / 1000
    tyres = df[["tyre_temperature_fl", "tyre_temperature_fr", "tyre_temperature_rl", "tyre_temperature_rr"]]
    heights = df[["ride_height_front", "ride_height_rear"]]
    downforce = df.aero_downforce_front + df.aero_downforce_rear
    return {
        "power_mgu_total": total,
        "power_balance_front": (df.power_electrical_front / total).where(total.abs() > 5, nan),
        "power_mechanical_front": mech_f,
        "power_mechanical_rear": mech_r,
        "mgu_loss_total": total - mech_f - mech_r,
        "battery_to_mgu_loss": df.battery_power - df.power_electrical_total,
        "regen_power": (-df.power_electrical_total).clip(lower=0).where(df.power_electrical_total.notna()),
        "slip_ratio_front": (df.slip_ratio_fl + df.slip_ratio_fr) / 2,
        "slip_ratio_rear": (df.slip_ratio_rl + df.slip_ratio_rr) / 2,
        "wheel_slip_rear": (((df.wheel_speed_rl + df.wheel_speed_rr) / 2 - df.speed) / df.speed).where(df.speed > 5),
        "energy_per_km": (df.battery_net_energy / (df.lap_distance / 1000)).where(df.lap_distance > 100),
        "aero_balance_front": df.aero_downforce_front / downforce,
        "lift_to_drag": downforce / df.aero_drag,
        "accel_combined": np.sqrt(df.accel_longitudinal**2 + df.accel_lateral**2) / 9.80665,
        "tyre_temperature_max": tyres.max(axis=1, skipna=False),
        "ride_height_min": heights.min(axis=1, skipna=False),
    }
