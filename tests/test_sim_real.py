"""The simulator against the real PERRINN 424 simulator's own exports in tests/data (see its README).

- ``perrinn424_training_data_excerpt_15s.csv``: the first 15 s of a Nordschleife lap exported by today's
  simulator (PERRINN/project-424-unity, Assets/Features/AI Speed Estimator/Trainer/data/training_data.csv
  @ 77288b99ff198132fa04f94a60c2a9f04abb6c1c): the sign conventions of its world and chassis channels, and
  the magnitudes of its wheels, suspension, aero and battery channels. Its first 0.3 s are a start
  transient (values carried over from before the lap reset, then the body settling: VelocityYaw 372 deg/s,
  AccelerationLat 11.5 g) and are left out.
- ``perrinn424_lap_start_mgu_50hz.csv``: the first 22 s of a 2021 lap (750 kW, as this model's car).

The export is read here with its units row and the catalog's ``sim_sign``, through ``p424.units``, into
catalog units and axes: the same relations are then checked on the real data and on the simulator's.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from p424.catalog import CATALOG
from p424.sim import CarParams, CarSimulator, SampleBlock, nordschleife
from p424.units import conversion

F64 = npt.NDArray[np.float64]
DATA = Path(__file__).resolve().parent / "data"
EXPORT = DATA / "perrinn424_training_data_excerpt_15s.csv"
FIXTURE = DATA / "perrinn424_lap_start_mgu_50hz.csv"
TRANSIENT_S = 0.3
CAR = CarParams()
TRACK = nordschleife()


def read_export(path: Path) -> dict[str, F64]:
    """Catalog channel name -> values in catalog units and axes; the export's own Time column as ``time``.

    Where two columns mean the same channel (Distance and LapDistance) the first one wins.
    """
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, units, data = rows[0], rows[1], np.array(rows[2:], dtype=np.float64)
    data = data[data[:, header.index("Time")] >= TRANSIENT_S]
    by_csv = CATALOG.by_csv_column()
    out: dict[str, F64] = {"time": data[:, header.index("Time")]}
    for i, (name, unit) in enumerate(zip(header, units, strict=True)):
        channel = by_csv.get(name.upper())
        if channel is not None and channel.name not in out:
            out[channel.name] = data[:, i] * conversion(unit, channel.unit).factor * channel.sim_sign
    for name in ("PreEfficiencyPowerFront", "PreEfficiencyPowerRear"):
        out[name] = data[:, header.index(name)]
    return out


@pytest.fixture(scope="module")
def real() -> dict[str, F64]:
    return read_export(EXPORT)


@pytest.fixture(scope="module")
def fixture_lap() -> dict[str, F64]:
    with FIXTURE.open(newline="") as f:
        rows = list(csv.reader(f))
    data = np.array(rows[1:], dtype=np.float64)
    return {name: data[:, i] for i, name in enumerate(rows[0])}


@pytest.fixture(scope="module")
def flying() -> tuple[CarSimulator, SampleBlock]:
    """A simulated session's first lap, flying start, at the export's 50 Hz."""
    sim = CarSimulator(1, 42, seed=7, rate_hz=50, laps=1)
    return sim, sim.run()


def sim_first(block: SampleBlock, seconds: float) -> dict[str, F64]:
    m = block.sim_time <= seconds
    out = {name: block.column(name)[m].astype(np.float64) for name in CATALOG.payload_names}
    out["time"] = block.sim_time[m]
    out["lap_distance"] = block.lap_distance[m]
    return out


# ------------------------------------------------------------------------------------- conventions


def conventions(d: dict[str, F64]) -> dict[str, float]:
    """The relations between world and chassis channels that fix their signs, on real or simulated data."""
    t, v = d["time"], d["speed"]
    heading = np.degrees(np.unwrap(np.radians(d["heading"])))
    yaw_from_heading = -np.radians(np.gradient(heading, t))  # ISO yaw rate: + left, heading: clockwise
    dx, dz = np.gradient(d["position_x"], t), np.gradient(d["position_z"], t)
    moving_dir = np.degrees(np.arctan2(dx, dz))
    off = (moving_dir - d["heading"] + 180) % 360 - 180
    run = np.hypot(dx, dz)
    slope = np.degrees(np.arctan(np.gradient(d["position_y"], t) / run))
    turning = np.abs(d["yaw_rate"]) > 0.1
    roll_travel = (d["suspension_travel_fl"] - d["suspension_travel_fr"]) + (
        d["suspension_travel_rl"] - d["suspension_travel_rr"]
    )
    front_travel = (d["suspension_travel_fl"] + d["suspension_travel_fr"]) / 2
    return {
        "yaw_vs_heading_corr": float(np.corrcoef(yaw_from_heading, d["yaw_rate"])[0, 1]),
        "yaw_vs_heading_median_abs": float(np.median(np.abs(yaw_from_heading - d["yaw_rate"]))),
        "lateral_per_v_yaw": float(np.median(d["accel_lateral"][turning] / (v * d["yaw_rate"])[turning])),
        "heading_vs_motion_median_abs": float(np.median(np.abs(off))),
        "pitch_vs_minus_slope_corr": float(np.corrcoef(d["attitude_pitch"], -slope)[0, 1]),
        "roll_travel_vs_lateral_corr": float(np.corrcoef(roll_travel, d["accel_lateral"])[0, 1]),
        "travel_per_ride_height": float(np.polyfit(d["ride_height_front"], front_travel, 1)[0]),
        "steering_vs_yaw_corr": float(np.corrcoef(d["steering_angle"], d["yaw_rate"])[0, 1]),
        "rear_diff_torque_vs_lateral_corr": float(np.corrcoef(d["torque_diff_rear"], d["accel_lateral"])[0, 1]),
    }


def test_the_simulator_follows_the_real_exports_axes_and_signs(
    real: dict[str, F64], flying: tuple[CarSimulator, SampleBlock]
) -> None:
    ours = sim_first(flying[1], 15.0)
    for name, d in (("real export", real), ("simulator", ours)):
        c = conventions(d)
        # the yaw rate (ISO, + left) is minus the heading's rate: the export's VelocityYaw is d(RotationY)/dt
        assert c["yaw_vs_heading_corr"] > 0.99 and c["yaw_vs_heading_median_abs"] < 0.02, (name, c)
        # lateral acceleration (ISO, + left) is speed times yaw rate, with the same sign
        assert 0.8 < c["lateral_per_v_yaw"] < 1.2, (name, c)
        # the car moves along its heading (clockwise from +z: the map is x against z)
        assert c["heading_vs_motion_median_abs"] < 1.0, (name, c)
        # RotationX is + nose down: climbing (y rising) pitches it negative
        assert c["pitch_vs_minus_slope_corr"] > 0.95, (name, c)
        # suspension travel is the damper's extension: it grows with ride height, ~0.65 mm per mm, and the
        # outer (right) dampers close in a left turn, so left minus right follows the lateral acceleration
        assert 0.5 < c["travel_per_ride_height"] < 0.8, (name, c)
        assert c["roll_travel_vs_lateral_corr"] > 0.5, (name, c)
        # the steering wheel angle is + clockwise (right): it runs against the ISO yaw rate (+ left)
        assert c["steering_vs_yaw_corr"] < -0.5, (name, c)
        # the differential drives the inner (slower) wheel: left minus right torque > 0 in a left turn
        assert c["rear_diff_torque_vs_lateral_corr"] > 0.5, (name, c)


def test_the_lap_starts_as_the_real_one_does(real: dict[str, F64], flying: tuple[CarSimulator, SampleBlock]) -> None:
    ours = sim_first(flying[1], 15.0)
    for name, d in (("real export", real), ("simulator", ours)):
        s, yaw = d["lap_distance"], d["yaw_rate"]
        # T13 turns left (ISO yaw > 0) around 200-260 m, Hatzenbach-Bogen right around 560-650 m
        assert np.mean(yaw[(s > 200) & (s < 260)]) > 0.2, name
        assert np.mean(yaw[(s > 560) & (s < 650)]) < -0.1, name
    # the road falls ~38 m over the first 860 m (Hatzenbach); the world's height is the export's
    drop_real = real["position_y"][0] - np.interp(860.0, real["lap_distance"], real["position_y"])
    drop_ours = ours["position_y"][0] - np.interp(860.0, ours["lap_distance"], ours["position_y"])
    assert drop_real == pytest.approx(38.0, abs=2.0) and drop_ours == pytest.approx(drop_real, abs=12.0)
    assert ours["position_y"][0] == pytest.approx(real["position_y"][0], abs=2.0)


# ------------------------------------------------------------------------------------- the laps


def test_speed_trace_top_speed_and_energy_against_the_real_laps(
    real: dict[str, F64], fixture_lap: dict[str, F64], flying: tuple[CarSimulator, SampleBlock]
) -> None:
    sim, b = flying
    t, v = b.sim_time, b.column("speed").astype(np.float64)
    p, s = b.column("power_electrical_total").astype(np.float64), b.lap_distance
    laps = {
        # name: (time, speed m/s, distance m, total electrical power kW, our energy per km / theirs)
        # the 2022-23 export runs an 800 kW cap and 2-2.5x this model's drag: it uses more per km
        "real export": (real["time"], real["speed"], real["lap_distance"], real["battery_power"], (0.70, 1.00)),
        # the 2021 lap is the car this model was calibrated on (750 kW)
        "2021 lap": (fixture_lap["TIME"], fixture_lap["SPEED"], fixture_lap["DISTANCE"],
                     fixture_lap["POWERELECTRICALTOTAL"], (0.85, 1.10)),
    }
    for name, (rt, rv, rs, rp, band) in laps.items():
        shared = t <= rt[-1]
        ours = np.interp(rt, t[shared], v[shared])
        diff_kmh = (ours - rv) * 3.6
        # speed over the shared first seconds: same shape (line speed, T13 minimum, the run to Hatzenbach)
        assert np.sqrt(np.mean(diff_kmh**2)) < 30.0 and abs(float(np.mean(diff_kmh))) < 25.0, name
        assert ours.min() == pytest.approx(rv.min(), abs=15 / 3.6), name  # T13
        assert ours.max() == pytest.approx(rv.max(), abs=25 / 3.6), name  # top speed of the shared seconds
        ours_kwh_km = np.trapezoid(p[shared], t[shared]) / 3600 / (np.interp(rt[-1], t, s) / 1000)
        theirs_kwh_km = np.trapezoid(rp, rt) / 3600 / ((rs[-1] - rs[0]) / 1000)
        assert band[0] < ours_kwh_km / theirs_kwh_km < band[1], (name, ours_kwh_km, theirs_kwh_km)
    # ~37 m/s at the line, under full power, as the 2021 lap (the export's transient hides its line speed)
    assert v[0] == pytest.approx(fixture_lap["SPEED"][0], abs=1.0)
    # the whole lap: the 355 km/h limiter reached, about 1.7 kWh per km
    top = sim.lap_summaries[0].v_max * 3.6
    assert 345.0 < top <= 355.0
    assert 1.5 < sim.lap_summaries[0].energy_kwh / (TRACK.length / 1000) < 1.9


def test_new_channels_have_the_real_exports_magnitudes(
    real: dict[str, F64], flying: tuple[CarSimulator, SampleBlock]
) -> None:
    ours = sim_first(flying[1], 15.0)
    for name, d in (("real export", real), ("simulator", ours)):
        v = d["speed"]
        spin = np.mean([d[f"wheel_speed_{w}"] for w in ("fl", "fr", "rl", "rr")], axis=0)
        assert 1.0 <= np.median(spin / v) < 1.03, name  # wheels spin a little faster than the car drives
        for w in ("fl", "fr", "rl", "rr"):
            radius = np.median(d[f"wheel_speed_{w}"] / (d[f"wheel_rpm_{w}"] * 2 * math.pi / 60))
            assert radius == pytest.approx(0.351, abs=0.003), (name, w)
        # the pedal asks for the whole braking force: ~70-80 % in a 2.5-3 g stop
        brake = d["brake_position"][d["accel_longitudinal"] < -2.5 * 9.80665]
        assert 0.5 < np.median(brake) < 1.0, name
        # the battery counters restart at the line: net energy and RMS are the power's integral and RMS
        t, p = d["time"], d["battery_power"]
        integral = np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(t)) / 3600
        assert d["battery_net_energy"][-1] - d["battery_net_energy"][0] == pytest.approx(integral, rel=0.01), name
    # battery power is what both MGUs draw (the export names it PreEfficiencyPower, this model ElectricalPower)
    assert np.allclose(real["battery_power"], real["PreEfficiencyPowerFront"] + real["PreEfficiencyPowerRear"],
                       atol=0.01)
    assert np.allclose(ours["battery_power"], ours["pre_efficiency_power_front"] + ours["pre_efficiency_power_rear"],
                       atol=0.01)
    rms_real = real["battery_power_rms"][-1]
    assert rms_real == pytest.approx(math.sqrt(np.mean(real["battery_power"] ** 2)), rel=0.01)
    # ride heights, suspension travel and aero balance over the same 15 s sit in the export's ranges
    for channel, tolerance in (("ride_height_front", 0.012), ("ride_height_rear", 0.012),
                               ("suspension_travel_fl", 0.008), ("suspension_travel_rr", 0.008)):
        assert np.median(ours[channel]) == pytest.approx(np.median(real[channel]), abs=tolerance), channel
        assert np.percentile(ours[channel], 95) == pytest.approx(np.percentile(real[channel], 95), abs=0.015), channel
        assert ours[channel].min() >= 0.002 and ours[channel].max() <= real[channel].max() + 0.01, channel
    lo, hi = np.percentile(real["aero_balance"], [1, 99])
    assert lo < ours["aero_balance"].min() and ours["aero_balance"].max() < hi
    # a known difference, written down in p424/sim/car.py: the export's downforce and drag coefficients are
    # 2-2.5 times this model's (which keeps the fixture's calibration); this pins that statement
    scz_ratio = np.median(real["aero_scz_front"] + real["aero_scz_rear"]) / np.median(
        ours["aero_scz_front"] + ours["aero_scz_rear"]
    )
    assert 2.0 < scz_ratio < 2.7 and 1.0 < np.median(real["aero_scx"]) / np.median(ours["aero_scx"]) < 1.7
