"""One lap of the quasi-steady-state model: speed profile, then every catalog channel on a time grid.

Pure functions of (track, car parameters, car state at the line, lap plan); no I/O, no global state.

Model, in order:
1. Corner speed limits from the friction circle with downforce and road vertical curvature:
   ``v^2 |k| = mu (g + v^2 k_v + q ClA v^2 / m)``.
2. Backward pass (maximum braking on the friction ellipse plus drag), then forward pass from the speed at
   the line (traction/friction ellipse, electrical power cap times efficiency, motor torque cap, speed
   limiter), on a 2 m distance grid. Constant acceleration per 2 m step gives the time of every node.
3. Uniform time grid (the simulator's 50 Hz channel rate by default): net wheel force smoothed over 0.1 s
   (load transfer and pedal ramps), then drive/regen split, efficiencies, torques, driver inputs, chassis,
   tyres and battery, all vectorised with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.sim.car import (
    KW,
    CarParams,
    G,
    battery_power_factor,
    efficiency,
    tyre_grip_factor,
)
from p424.sim.track import Track
from p424.units import KWS_PER_KWH

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

WRAP_M = 1_500.0  # the backward pass looks this far into the next lap, so braking before the line is right
FORCE_SMOOTHING_S = 0.10
CHASSIS_SMOOTHING_S = 0.16
DRS_RAMP_S = 0.30


@dataclass(frozen=True)
class CarState:
    """What carries over from one lap to the next (at the start line)."""

    speed: float  # m/s
    tyre_temperature: tuple[float, float, float, float]  # degC, bulk, FL FR RL RR
    battery_temperature: float  # degC
    battery_energy_kwh: float
    battery_heat_generated_j: float  # since the session started
    battery_heat_dissipated_j: float
    total_distance: float  # m
    ambient_c: float


@dataclass(frozen=True, eq=False)
class LapPlan:
    """Per-lap driver choices and randomness, drawn by the generator from its seeded RNG."""

    lap: int
    push: float  # 0-1, 1 = flat out; scales grip use and the power cap
    pace: float  # driver skill: fraction of the available grip used at push 1
    corner_factors: F64 = field(repr=False)  # per-corner speed multipliers <= 1 (lines, commitment)
    noise_seed: int = 0
    recharged: bool = False  # the battery was recharged at the line before this lap


@dataclass(frozen=True, eq=False)
class LapTrace:
    """A lap on a uniform time grid ``t`` (lap-relative, last node = lap_time), values in payload order."""

    plan: LapPlan
    lap_time: float
    t: F64
    lap_distance: F64
    values: F32 = field(repr=False)  # (len(t), n_payload); NaN for sector and total_distance (per sample)
    start: CarState
    end: CarState
    energy_kwh: float  # integral of total electrical power over the lap (net of regen)
    regen_kwh: float
    grip_factor: float
    power_cap_kw: float
    sector_times: tuple[float, ...]
    catalog: Catalog = CATALOG

    @property
    def length(self) -> float:
        return float(self.lap_distance[-1])

    def column(self, name: str) -> F32:
        return self.values[:, self.catalog.payload_index[name]]


@dataclass(frozen=True)
class LapLimits:
    """What the driver uses this lap."""

    mu: float  # friction coefficient used (tyre peak x driver pace x push x tyre temperature)
    p_drive: float  # W electrical, total
    p_regen: float  # W electrical, total
    battery_factor: float  # BMS derate (temperature, low SOC)


# --------------------------------------------------------------------------------------------- speed


def _corner_limit(track: Track, car: CarParams, mu: float, factors: F64, qcla_m: F64) -> F64:
    k = np.abs(track.curvature)
    den = k - mu * (track.vertical_curvature + qcla_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(den > 1e-9, np.sqrt(mu * G / np.maximum(den, 1e-12)), np.inf)
    v = v * factors[track.corner_id]
    return np.minimum(v, car.v_max)


def _aero(track: Track, car: CarParams) -> tuple[F64, F64]:
    """q * ClA / m and q * CdA / m per node (1/m), with DRS zones open."""
    q = 0.5 * car.rho_air
    cla = np.where(track.drs_zone, car.cla * car.drs_cla_factor, car.cla)
    cda = np.where(track.drs_zone, car.cda * car.drs_cda_factor, car.cda)
    return q * cla / car.mass, q * cda / car.mass


def solve_speed(track: Track, car: CarParams, lim: LapLimits, corner_factors: F64, v_start: float) -> F64:
    """Speed (m/s) at every node of ``track.s`` for a lap that crosses the line at ``v_start``.

    Plain-float loops (about 10,000 nodes each way, ~15 ms per lap): the passes are sequential by nature.
    """
    qcla_m, qcda_m = _aero(track, car)
    vlim = _corner_limit(track, car, lim.mu, corner_factors, qcla_m)
    n = len(track.s) - 1
    wrap = round(WRAP_M / track.ds)

    def ext(x: F64) -> list[float]:
        out: list[float] = np.r_[x, x[1 : wrap + 1]].tolist()
        return out

    kk = ext(np.abs(track.curvature))
    lift = ext(track.vertical_curvature + qcla_m)  # normal load per unit mass = g + v^2 * lift
    drag = ext(qcda_m)
    ds2 = 2.0 * track.ds
    mu, crr, g_min = lim.mu, car.crr, 0.2 * G
    sqrt, exp = math.sqrt, math.exp

    # backward: the fastest speed from which the car can still brake for everything ahead
    vb = ext(vlim)
    for i in range(len(vb) - 1, 0, -1):
        v2 = vb[i] * vb[i]
        nm = G + v2 * lift[i]
        nm = max(nm, g_min)
        grip = mu * nm
        r = v2 * kk[i] / grip
        ax = grip * sqrt(1.0 - r * r) if r < 1.0 else 0.0
        vp = sqrt(v2 + ds2 * (ax + drag[i] * v2 + crr * nm))
        vb[i - 1] = min(vb[i - 1], vp)

    # forward: accelerate as hard as grip, power and torque allow, never above the backward envelope
    p_m = lim.p_drive / car.mass
    f_tq_m = min(car.torque_front_max / car.balance_front, car.torque_rear_max / (1 - car.balance_front))
    f_tq_m *= car.gear_ratio / car.wheel_radius / car.mass
    k_eta = car.rpm_per_mps / 2540.0  # efficiency(): 0.964 - 0.40 exp(-rpm / 2540), floor 0.70
    vf = [0.0] * (n + 1)
    vf[0] = min(v_start, vb[0])
    for i in range(n):
        v = vf[i]
        v2 = v * v
        nm = G + v2 * lift[i]
        nm = max(nm, g_min)
        grip = mu * nm
        r = v2 * kk[i] / grip
        ax = grip * sqrt(1.0 - r * r) if r < 1.0 else 0.0
        vv = v if v > 1.0 else 1.0
        eta = 0.964 - 0.40 * exp(-k_eta * vv)
        ap = (eta if eta > 0.70 else 0.70) * p_m / vv
        ax = min(ax, ap)
        ax = min(ax, f_tq_m)
        vn = v2 + ds2 * (ax - drag[i] * v2 - crr * nm)
        vn = sqrt(vn) if vn > 0.0 else 0.0
        vf[i + 1] = vn if vn < vb[i + 1] else vb[i + 1]
    return np.asarray(vf)


# ------------------------------------------------------------------------------------------ helpers


def _movavg(x: F64, width: int) -> F64:
    """Centred moving average over ``width`` samples, edges held."""
    if width <= 1:
        return x
    pad = width // 2
    padded = np.concatenate([np.full(pad, x[0]), x, np.full(width - 1 - pad, x[-1])])
    c = np.cumsum(np.r_[0.0, padded])
    out: F64 = (c[width:] - c[:-width]) / width
    return out


def _linear_recurrence(alpha: F64, beta: F64, x0: float) -> F64:
    """x[j+1] = alpha[j] * x[j] + beta[j] for j < len(alpha), vectorised; returns len(alpha) + 1 values.

    Used for first-order thermal models (explicit Euler steps); alpha stays close to 1, so the running
    products stay far from underflow over a lap.
    """
    p = np.r_[1.0, np.cumprod(alpha)]
    out: F64 = p * (x0 + np.r_[0.0, np.cumsum(beta / p[1:])])
    return out


def _gradient(x: F64, dt: float) -> F64:
    out: F64 = np.gradient(x, dt, axis=-1) if x.shape[-1] > 1 else np.zeros_like(x)
    return out


# --------------------------------------------------------------------------------------------- lap


def lap_limits(car: CarParams, state: CarState, plan: LapPlan) -> LapLimits:
    """Grip and power the driver uses this lap, from pace, push and the state at the line."""
    tyre = float(np.mean(state.tyre_temperature))
    soc = state.battery_energy_kwh / car.battery_capacity_kwh
    # push 1 uses all the grip; push 0.85 about 96 % (earlier braking, slower apexes)
    mu = car.mu * plan.pace * (0.75 + 0.25 * plan.push) * tyre_grip_factor(tyre)
    bms = battery_power_factor(state.battery_temperature, soc)
    # not pushing also means easing off on the straights: push 0.85 caps the pack at ~716 kW
    p_drive = car.p_drive_max * (0.70 + 0.30 * plan.push) * bms
    return LapLimits(mu=mu, p_drive=p_drive, p_regen=car.p_regen_max, battery_factor=bms)


def flying_speed(track: Track, car: CarParams, state: CarState, plan: LapPlan) -> float:
    """Speed at the line of a car arriving from a previous lap driven the same way."""
    lim = lap_limits(car, state, plan)
    return float(solve_speed(track, car, lim, plan.corner_factors, 30.0)[-1])


@dataclass(frozen=True, eq=False)
class _Grid:
    """The lap on the uniform time grid, with the track quantities at each point."""

    t: F64
    s: F64
    v: F64
    acc: F64  # dv/dt of the speed profile (piecewise constant per 2 m step)
    kappa: F64
    kv: F64
    drs_zone: npt.NDArray[np.bool_]
    qcla_m: F64
    qcda_m: F64
    t_node: F64


def _time_grid(track: Track, car: CarParams, v_node: F64, dt: float) -> _Grid:
    """Resample the distance-grid speed profile on t = 0, dt, 2 dt, ..., lap_time, exactly."""
    ds = track.ds
    a_node = np.r_[(v_node[1:] ** 2 - v_node[:-1] ** 2) / (2 * ds), 0.0]
    t_node = np.r_[0.0, np.cumsum(2 * ds / np.maximum(v_node[1:] + v_node[:-1], 1e-9))]
    lap_time = float(t_node[-1])
    t: F64 = np.arange(math.floor(lap_time / dt) + 1, dtype=np.float64) * dt
    if lap_time - t[-1] > 1e-9:
        t = np.r_[t, lap_time]
    idx = np.clip(np.searchsorted(t_node, t, side="right") - 1, 0, len(v_node) - 2)
    tau = t - t_node[idx]
    acc = a_node[idx]
    v = np.maximum(v_node[idx] + acc * tau, 0.0)  # constant acceleration inside each step
    s = np.minimum(track.s[idx] + v_node[idx] * tau + 0.5 * acc * tau * tau, track.length)
    frac = np.clip((s - track.s[idx]) / ds, 0.0, 1.0)
    qcla_m, qcda_m = _aero(track, car)

    def at_s(arr: F64) -> F64:
        out: F64 = arr[idx] + (arr[idx + 1] - arr[idx]) * frac
        return out

    return _Grid(
        t=t, s=s, v=v, acc=acc, kappa=at_s(track.curvature), kv=at_s(track.vertical_curvature),
        drs_zone=track.drs_zone[idx], qcla_m=qcla_m[idx], qcda_m=qcda_m[idx], t_node=t_node,
    )


def simulate_lap(
    track: Track, car: CarParams, state: CarState, plan: LapPlan, *, dt: float = 0.02, catalog: Catalog = CATALOG
) -> LapTrace:
    """Simulate one lap from ``state`` (speed at the line, temperatures, battery) following ``plan``."""
    lim = lap_limits(car, state, plan)
    v_node = solve_speed(track, car, lim, plan.corner_factors, state.speed)
    g = _time_grid(track, car, v_node, dt)
    v, m, n = g.v, car.mass, len(g.t)
    rng = np.random.default_rng(plan.noise_seed)

    def noise(sigma: float, rows: int = 0) -> F64:
        # float32 draws are twice as fast and the channels are float32 anyway
        out: F64 = sigma * rng.standard_normal((rows, n) if rows else n, dtype=np.float32).astype(np.float64)
        return out

    ch: dict[str, F64] = {"speed": v, "gear": np.ones(n)}

    # -- forces (N): aero, normal load, resistance; the net wheel force is smoothed over 0.1 s (pedal
    #    ramps, load transfer), which keeps its integral, so speed and distance stay consistent
    downforce = m * g.qcla_m * v * v
    a_vert = v * v * g.kv
    normal = np.maximum(m * (G + a_vert) + downforce, 0.2 * m * G)
    resist = m * g.qcda_m * v * v + car.crr * normal
    fx = _movavg(m * g.acc + resist, max(1, round(FORCE_SMOOTHING_S / dt)))
    a_lat = v * v * g.kappa
    a_long = (fx - resist) / m

    # -- axle and wheel loads: static split, aero balance, longitudinal and lateral load transfer
    wf = car.weight_front
    long_transfer = m * a_long * car.cg_height / car.wheelbase
    n_front = np.maximum(wf * m * (G + a_vert) + car.aero_balance_front * downforce - long_transfer, 0.05 * m * G)
    n_rear = np.maximum(normal - n_front, 0.05 * m * G)
    n_axle = np.stack([n_front, n_rear])
    lat_f = (m * wf) * a_lat * car.cg_height / car.track_width  # load moves right in a left turn (a_lat > 0)
    lat_r = (m * (1 - wf)) * a_lat * car.cg_height / car.track_width
    n_w = np.stack([n_front - lat_f, n_front + lat_f, n_rear - lat_r, n_rear + lat_r]) / 2
    n_w = np.maximum(n_w, 0.02 * m * G)

    # -- drive or brake: regen takes what the 430 kW cap and the motor torque allow, friction the rest
    bal = car.balance_front
    kin_rpm = car.rpm_per_mps * v
    brake_force = np.maximum(-fx, 0.0)
    f_tq = min(car.torque_front_max / bal, car.torque_rear_max / (1 - bal)) * car.gear_ratio / car.wheel_radius
    regen_cap = np.minimum(lim.p_regen / (efficiency(kin_rpm) * np.maximum(v, 1.0)), f_tq)
    regen = np.minimum(brake_force, regen_cap)
    friction = brake_force - regen
    wheel_force = np.maximum(fx, 0.0) - regen
    f_axle = np.stack([bal * wheel_force, (1 - bal) * wheel_force])  # 1/3 front, as the fixture's balance

    # -- tyres: friction-ellipse utilisation -> slip ratio (peak 8 %, |u|^1.5) and slip angle (~linear)
    mu = lim.mu
    f_wheel_x = np.repeat(f_axle / 2, 2, axis=0)
    u_x = np.clip(f_wheel_x / (mu * n_w), -1.3, 1.3)
    slip_ratio = car.slip_ratio_peak * np.sign(u_x) * np.abs(u_x) ** 1.5 + noise(0.002, 4)
    fy_axle = np.stack([m * wf * a_lat, m * (1 - wf) * a_lat])  # yaw moment balance in steady cornering
    u_y = np.clip(fy_axle / (mu * n_axle), -1.2, 1.2)
    peak = np.array([[car.slip_angle_peak_front], [car.slip_angle_peak_rear]])
    alpha = np.repeat(peak * u_y * (1 + 0.15 * u_y * u_y), 2, axis=0) * np.array([[0.97], [1.03], [0.97], [1.03]])
    alpha += noise(0.08, 4)
    for i, w in enumerate(("fl", "fr", "rl", "rr")):
        ch[f"slip_ratio_{w}"], ch[f"slip_angle_{w}"] = slip_ratio[i], alpha[i]

    # -- motors: rpm with slip, efficiency, mechanical torque (torque * omega = force * v), electrical power
    slip_axle = np.stack([slip_ratio[0:2].mean(axis=0), slip_ratio[2:4].mean(axis=0)])
    rpm = np.maximum(kin_rpm * (1 + slip_axle), 0.0)
    eta = efficiency(rpm)
    omega = rpm * (2 * math.pi / 60)
    torque = f_axle * car.wheel_radius / (car.gear_ratio * (1 + slip_axle))
    p_elec = np.where(torque >= 0, torque * omega / eta, torque * omega * eta)
    # the 2 m speed profile can overshoot the caps by a step's speed gain (~1 %): clip to 750 / 250 / 500 kW
    # and -430 kW exactly, as the simulator's plateaus are exact
    drive_total = np.maximum(p_elec.sum(axis=0), 1e-9)
    caps = np.array([[car.p_front_max], [car.p_rear_max]]) * (lim.p_drive / car.p_drive_max)
    scale = np.minimum(np.minimum(1.0, lim.p_drive / drive_total), np.min(caps / np.maximum(p_elec, 1e-9), axis=0))
    regen_scale = np.minimum(1.0, lim.p_regen / np.maximum(-p_elec.sum(axis=0), 1e-9))
    scale = np.where(p_elec.sum(axis=0) >= 0, scale, regen_scale)
    torque *= scale
    p_elec *= scale
    p_total = p_elec.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ch["power_balance"] = np.where(np.abs(p_total) > 1.0, p_elec[0] / p_total, bal)
    inertia = np.array([[car.rotor_inertia_front], [car.rotor_inertia_rear]])
    rotor = torque + inertia * _gradient(omega, dt) + np.stack([noise(1.5), noise(3.0)])
    rpm_out = np.maximum(rpm + noise(12.0, 2), 0.0)
    for i, axle in enumerate(("front", "rear")):
        ch[f"motor_rpm_{axle}"] = rpm_out[i]
        ch[f"power_electrical_{axle}"] = p_elec[i] / KW
        ch[f"efficiency_{axle}"] = eta[i]
        ch[f"torque_mechanical_{axle}"] = torque[i]
        ch[f"torque_rotor_{axle}"] = rotor[i]
    ch["power_electrical_total"] = p_total / KW

    # -- driver: pedal = share of the torque available at this rotor speed (peak torque at low speed,
    #    750 kW above ~3,000 rpm); a traction-limited launch shows ~0.85 (traction control trims it)
    pedal_power = car.p_drive_max * lim.battery_factor * eta.mean(axis=0)
    torque_peak = car.torque_front_max + car.torque_rear_max
    torque_avail = np.minimum(torque_peak, pedal_power / np.maximum(omega.mean(axis=0), 1.0))
    throttle = np.clip(np.where(p_total > 0, torque.sum(axis=0) / torque_avail, 0.0), 0.0, 1.0)
    ch["throttle"] = throttle
    ch["brake_pressure"] = np.clip(friction / car.brake_gain, 0.0, 100.0)
    road_wheel = car.wheelbase * g.kappa + np.radians(car.understeer_gradient) * a_lat / G
    ch["steering_angle"] = np.degrees(road_wheel) * car.steering_ratio + noise(0.25)

    # -- differentials: geometric wheel speed difference (right - left), LSD torque opposing it
    speed_diff_f = v * g.kappa * car.track_width + noise(0.015)
    speed_diff_r = v * g.kappa * car.track_width * 0.98 + (slip_ratio[3] - slip_ratio[2]) * v * 0.2 + noise(0.015)
    wheel_torque = np.abs(torque) * car.gear_ratio
    ch["speed_diff_front"], ch["speed_diff_rear"] = speed_diff_f, speed_diff_r
    ch["torque_diff_front"] = -(40.0 + 0.15 * wheel_torque[0]) * np.tanh(speed_diff_f / 0.3)  # preload + ramp
    ch["torque_diff_rear"] = -(100.0 + 0.25 * wheel_torque[1]) * np.tanh(speed_diff_r / 0.3)

    ch.update(_chassis(
        car, g, a_long=a_long, a_lat=a_lat, a_vert=a_vert, n_front=n_front, n_rear=n_rear, throttle=throttle,
        alpha=alpha, dt=dt, noise=noise,
    ))
    tyre_bulk = _tyre_temperatures(
        car, state, v=v, f_wheel_x=f_wheel_x, fy_axle=fy_axle, n_w=n_w, n_axle=n_axle, slip_ratio=slip_ratio,
        alpha=alpha, dt=dt, ch=ch,
    )
    battery = _battery(car, state, t=g.t, v=v, p_total=p_total, ch=ch)

    values = np.full((n, len(catalog.payload_channels)), np.nan, dtype=np.float32)
    for name, arr in ch.items():
        j = catalog.payload_index.get(name)
        if j is not None:
            values[:, j] = arr

    lap_time = float(g.t[-1])
    end = CarState(
        speed=float(v_node[-1]),
        tyre_temperature=(float(tyre_bulk[0]), float(tyre_bulk[1]), float(tyre_bulk[2]), float(tyre_bulk[3])),
        battery_temperature=float(ch["battery_temperature"][-1]),
        battery_energy_kwh=float(ch["battery_energy"][-1]),
        battery_heat_generated_j=float(ch["battery_q_internal"][-1]),
        battery_heat_dissipated_j=float(ch["battery_heat_dissipated"][-1]),
        total_distance=state.total_distance + track.length,
        ambient_c=state.ambient_c,
    )
    sector_times = tuple(float(np.interp(x, track.s, g.t_node)) for x in track.sector_lines)
    return LapTrace(
        plan=plan, lap_time=lap_time, t=g.t, lap_distance=g.s, values=values, start=state, end=end,
        energy_kwh=battery[0], regen_kwh=battery[1], grip_factor=lim.mu / car.mu,
        power_cap_kw=lim.p_drive / KW, sector_times=sector_times, catalog=catalog,
    )


def _chassis(
    car: CarParams, g: _Grid, *, a_long: F64, a_lat: F64, a_vert: F64, n_front: F64, n_rear: F64, throttle: F64,
    alpha: F64, dt: float, noise: Callable[[float], F64],
) -> dict[str, F64]:
    """Accelerations, body angles and rates, ride heights, DRS, steering torque."""
    w = max(1, round(CHASSIS_SMOOTHING_S / dt))
    roll_deg = 0.45 * _movavg(a_lat, w) / G  # 0.45 deg/g; + = right side down (ISO x), i.e. in a left turn
    pitch_rad = np.radians(-0.30 * _movavg(a_long, w) / G)  # 0.30 deg/g; + = nose down, under braking
    roll_rate = _gradient(np.radians(roll_deg), dt)
    pitch_rate = _gradient(pitch_rad, dt)
    yaw_rate = g.v * g.kappa
    m, wf = car.mass, car.weight_front
    k_front, k_rear = 400e3, 480e3  # N/m heave stiffness per axle: ~20 mm of aero squat at 355 km/h
    ride_f = 0.045 - (n_front - wf * m * G) / k_front + noise(0.0004)
    ride_r = 0.060 - (n_rear - (1 - wf) * m * G) / k_rear + noise(0.0004)
    drs_target = (g.drs_zone & (throttle > 0.95)).astype(np.float64)
    return {
        "accel_longitudinal": a_long + noise(0.15),
        "accel_lateral": a_lat + noise(0.15),
        "accel_vertical": a_vert + noise(0.6),  # kinematic: 0 on a flat road; kerbs and bumps as noise
        "roll_angle": roll_deg, "roll_rate": roll_rate, "pitch_rate": pitch_rate, "yaw_rate": yaw_rate,
        "roll_acceleration": _gradient(_movavg(roll_rate, w), dt),
        "pitch_acceleration": _gradient(_movavg(pitch_rate, w), dt),
        "yaw_acceleration": _gradient(_movavg(yaw_rate, w), dt),
        "ride_height_front": np.clip(ride_f, 0.002, 0.1),  # 2 mm: the plank touches the road
        "ride_height_rear": np.clip(ride_r, 0.002, 0.1),
        "drs_position": np.clip(_movavg(drs_target, max(1, round(DRS_RAMP_S / dt))), 0.0, 1.0),
        "steering_torque": np.clip(3.2 * alpha[0:2].mean(axis=0), -30.0, 30.0),  # aligning torque, 3.2 Nm/deg
    }


def _tyre_temperatures(
    car: CarParams, state: CarState, *, v: F64, f_wheel_x: F64, fy_axle: F64, n_w: F64, n_axle: F64,
    slip_ratio: F64, alpha: F64, dt: float, ch: dict[str, F64],
) -> F64:
    """Surface temperatures into ``ch``; returns the bulk temperatures at the end of the lap.

    Bulk: C dT/dt = slip power - h(v) (T - ambient), C = 40 kJ/K, h = 50 + 1.3 v W/K (x1.3 for the wider
    rears), so tyres need 1-2 laps to reach their ~95-105 degC working range. Surface: bulk plus
    0.15 K per kW of current slip power (0.5 s average).
    """
    f_wheel_y = np.repeat(fy_axle, 2, axis=0) * n_w / np.repeat(n_axle, 2, axis=0)
    slip_power = (np.abs(f_wheel_x * slip_ratio) + np.abs(f_wheel_y * np.tan(np.radians(alpha)))) * v
    heat_in = car.tyre_heat_fraction * slip_power
    h = (50.0 + 1.3 * v) * np.array([[1.0], [1.0], [1.3], [1.3]])
    c, amb = car.tyre_heat_capacity, state.ambient_c
    end = np.zeros(4)
    for i, w in enumerate(("fl", "fr", "rl", "rr")):
        bulk = _linear_recurrence(1 - dt * h[i] / c, dt * (heat_in[i] + h[i] * amb) / c, state.tyre_temperature[i])
        ch[f"tyre_temperature_{w}"] = bulk[1:] + 1.5e-4 * _movavg(heat_in[i], max(1, round(0.5 / dt)))
        end[i] = bulk[-1]
    return end


def _battery(
    car: CarParams, state: CarState, *, t: F64, v: F64, p_total: F64, ch: dict[str, F64]
) -> tuple[float, float]:
    """Battery channels into ``ch``; returns (net energy drawn, energy regenerated) over the lap, kWh.

    Energy is the trapezoidal integral of total electrical power (terminal energy: ohmic heat is reported,
    not subtracted). Heat: R(T) I^2 with R = 30 mOhm at 25 degC halving every 28 K, I = P / V(SOC).
    Cooling: h = 10 + 0.4 * 1005 * m_dot W/K, air flow m_dot = 0.04 + 0.012 v kg/s (fan + ram air).
    Thermal mass 300 kJ/K. ``battery_q_internal`` is the heat generated and ``battery_heat_dissipated``
    the heat removed since the session started: their difference is exactly C (T - T0).
    """
    p_kw = p_total / KW
    steps = np.diff(t)
    used = np.r_[0.0, np.cumsum(0.5 * (p_kw[1:] + p_kw[:-1]) * steps)] / KWS_PER_KWH
    energy = state.battery_energy_kwh - used
    soc = energy / car.battery_capacity_kwh
    volts = car.battery_voltage_empty + (car.battery_voltage_full - car.battery_voltage_empty) * soc
    current = p_total / volts
    air_flow = np.minimum(0.04 + 0.012 * v, 2.0)
    h = 10.0 + 0.4 * 1005.0 * air_flow
    c, amb, t0 = car.battery_heat_capacity, state.ambient_c, state.battery_temperature
    temp = np.full(len(t), t0)
    heat = np.zeros(len(t))
    for _ in range(2):  # resistance falls as the pack warms: one fixed-point pass is enough
        heat = car.battery_resistance * 2.0 ** (-(temp - 25.0) / 28.0) * current * current
        temp = _linear_recurrence(1 - steps * h[:-1] / c, steps * (heat[:-1] + h[:-1] * amb) / c, t0)
    generated = state.battery_heat_generated_j + np.r_[0.0, np.cumsum(heat[:-1] * steps)]
    dissipated = state.battery_heat_dissipated_j + (generated - state.battery_heat_generated_j) - c * (temp - t0)
    ch.update({
        "battery_energy": energy, "battery_soc": soc, "battery_temperature": temp, "battery_total_heat": heat,
        "battery_air_mass_flow": air_flow, "battery_heat_dissipation": h, "battery_q_internal": generated,
        "battery_heat_dissipated": dissipated,
    })
    regen = float(-np.sum(np.minimum(p_kw[:-1], 0.0) * steps) / KWS_PER_KWH)
    return float(used[-1]), regen


__all__ = ["CarState", "LapLimits", "LapPlan", "LapTrace", "flying_speed", "lap_limits", "simulate_lap", "solve_speed"]
