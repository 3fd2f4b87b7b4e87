"""One lap of the quasi-steady-state model: speed profile, then every catalog channel on a time grid.

Pure functions of (track, car parameters, car state at the line, lap plan); no I/O, no global state.

Model, in order:
1. Corner speed limits from the friction circle with downforce and road vertical curvature:
   ``v^2 |k| = mu (g cos(slope) + v^2 k_v + q ClA v^2 / m)``.
2. Backward pass (braking on the friction ellipse, at the share of it the driver uses before each corner,
   plus drag, rolling resistance and gravity along the slope), then forward pass from the speed at the line
   (traction/friction ellipse, electrical power cap times efficiency, motor torque cap, speed limiter), on a
   2 m distance grid. Lifts (lift-and-coast before a braking zone, or a lift after running wide) are nodes
   without drive: a second forward pass coasts through them. Constant acceleration per 2 m step gives the
   time of every node.
3. Uniform time grid (the simulator's 50 Hz channel rate by default): net wheel force smoothed over 0.1 s
   (load transfer and pedal ramps), then drive/regen split, efficiencies, torques, driver inputs, chassis,
   wheels, suspension, aero, tyres, battery and the car's place in the world, all vectorised with numpy.

Signs: lateral quantities are ISO 8855 (y to the left: accel_lateral, yaw_rate, slip angles and roll_angle
are positive in a left turn), but the steering wheel angle is the simulator's (+ clockwise, to the right:
the catalog stores SteeringAngle unchanged); the world channels are the simulator's Unity ones: heading = RotationY
(clockwise from +z, so yaw_rate = -d(heading)/dt), attitude_pitch = RotationX (+ nose down, so -slope on a
climb) and attitude_roll = RotationZ (+ left side down, so -roll_angle; the road has no banking).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.sim.car import (
    KW,
    CarParams,
    G,
    air_density,
    battery_power_factor,
    efficiency,
    tyre_grip_factor,
    tyre_wear_factor,
)
from p424.sim.track import Track
from p424.units import KWS_PER_KWH

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
B = npt.NDArray[np.bool_]

WRAP_M = 1_500.0  # the backward pass looks this far into the next lap, so braking before the line is right
FORCE_SMOOTHING_S = 0.10
CHASSIS_SMOOTHING_S = 0.16
DRS_RAMP_S = 0.30
LIFT_MIN_SPEED = 45.0  # m/s: below this a lift before braking saves nothing worth the time
LOCK_UP_S = 0.4  # a lock-up shows in the last this-many seconds of the braking zone
AUTOMATIC_GEAR_DRIVE = 4.0  # the device's automatic gear selector in D, as the real export shows throughout
RAW_FULL = 10_000.0  # device input range: pedals 0..10,000, steering -10,000..10,000

EnergyMode = Literal["push", "balanced", "save"]
MistakeKind = Literal["lock-up", "run-wide"]


@dataclass(frozen=True, kw_only=True)
class EnergyModeSettings:
    """What an energy-management mode changes: the power cap and where the driver lifts and coasts."""

    power_factor: float  # share of the (BMS-derated) peak power the driver uses
    lift_m: tuple[float, float]  # planned lift before each braking zone, uniform in this range (m)
    lift_min_straight_m: float  # only before corners whose straight is at least this long


ENERGY_MODES: dict[str, EnergyModeSettings] = {
    "push": EnergyModeSettings(power_factor=1.0, lift_m=(0.0, 0.0), lift_min_straight_m=math.inf),
    "balanced": EnergyModeSettings(power_factor=0.96, lift_m=(50.0, 100.0), lift_min_straight_m=400.0),
    "save": EnergyModeSettings(power_factor=0.90, lift_m=(80.0, 140.0), lift_min_straight_m=200.0),
}


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
    tyre_wear_mj: float = 0.0  # slip energy through the four tyres since they were fitted


@dataclass(frozen=True, kw_only=True)
class Mistake:
    """A driver error at one corner: a lock-up (braked too late, runs deep, slow apex) or running wide on the
    exit (slow apex, then a lift of ``lift_m`` metres to stay on the road)."""

    corner: int
    kind: MistakeKind
    speed_factor: float  # the corner's speed limit is multiplied by this (< 1)
    lift_m: float = 0.0  # run-wide: metres without drive after the corner


@dataclass(frozen=True, eq=False)
class LapPlan:
    """Per-lap driver choices and randomness, drawn by the generator from its seeded RNG."""

    lap: int
    push: float  # 0-1, 1 = flat out; scales grip use and the power cap
    pace: float  # driver skill: fraction of the available grip used at push 1
    corner_factors: F64 = field(repr=False)  # per-corner speed multipliers <= 1 (lines, commitment)
    noise_seed: int = 0
    recharged: bool = False  # the battery was recharged at the line before this lap
    brake_factors: F64 | None = field(default=None, repr=False)  # per corner: share of the braking grip used
    lift_m: F64 | None = field(default=None, repr=False)  # per corner: lift-and-coast before its braking zone
    mistake: Mistake | None = None
    energy_mode: EnergyMode = "push"


@dataclass(frozen=True, eq=False)
class LapTrace:
    """A lap on a uniform time grid ``t`` (lap-relative, last node = lap_time), values in payload order.

    A trace simulated ``until`` a time stops there: ``t[-1] < lap_time`` and ``end`` is the state then.
    """

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
    battery_factor: float  # BMS derate at the line (1 = full power)
    sector_times: tuple[float, ...]
    lifts: int  # lift-and-coast zones driven
    catalog: Catalog = CATALOG

    @property
    def length(self) -> float:
        return float(self.lap_distance[-1])

    def column(self, name: str) -> F32:
        return self.values[:, self.catalog.payload_index[name]]


@dataclass(frozen=True)
class LapLimits:
    """What the driver uses this lap."""

    mu: float  # friction coefficient used (tyre peak x driver pace x push x tyre temperature x wear)
    p_drive: float  # W electrical, total
    p_regen: float  # W electrical, total
    battery_factor: float  # BMS derate (temperature, low SOC)


@dataclass(frozen=True, eq=False)
class SpeedProfile:
    """The solved lap on the distance grid."""

    v: F64  # m/s at every node of ``track.s``
    lift_and_coast: B  # nodes of the driver's planned lifts before braking zones
    no_drive: B  # every node driven without power (planned lifts and a mistake's lift)
    lifts: int  # planned lifts actually driven (approach fast enough)


# --------------------------------------------------------------------------------------------- speed


def _corner_limit(track: Track, car: CarParams, mu: float, factors: F64, qcla_m: F64, g_cos: F64) -> F64:
    k = np.abs(track.curvature)
    den = k - mu * (track.vertical_curvature + qcla_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(den > 1e-9, np.sqrt(mu * g_cos / np.maximum(den, 1e-12)), np.inf)
    v = v * factors[track.corner_id]
    return np.minimum(v, car.v_max)


def _aero(track: Track, car: CarParams) -> tuple[F64, F64]:
    """q * ClA / m and q * CdA / m per node and per (m/s)^2 (1/m), with DRS zones open."""
    half_rho = 0.5 * air_density(car, track.elevation)
    cla = np.where(track.drs_zone, car.cla * car.drs_cla_factor, car.cla)
    cda = np.where(track.drs_zone, car.cda * car.drs_cda_factor, car.cda)
    return half_rho * cla / car.mass, half_rho * cda / car.mass


def _slope(track: Track) -> tuple[F64, F64]:
    """g cos(slope) and g sin(slope) per node."""
    inv = 1.0 / np.sqrt(1.0 + track.grade * track.grade)
    return G * inv, G * track.grade * inv


def _per_corner(track: Track, values: F64 | None, default: float) -> F64:
    if values is None:
        return np.full(len(track.s), default)
    out: F64 = values[track.corner_id]
    return out


def solve_speed(track: Track, car: CarParams, lim: LapLimits, plan: LapPlan, v_start: float) -> SpeedProfile:
    """Speed (m/s) at every node of ``track.s`` for a lap that crosses the line at ``v_start``.

    Plain-float loops (about 10,000 nodes each way, ~15 ms per pass): the passes are sequential by nature.
    """
    qcla_m, qcda_m = _aero(track, car)
    g_cos, g_sin = _slope(track)
    factors = plan.corner_factors.copy()
    if plan.mistake is not None:
        factors[plan.mistake.corner] *= plan.mistake.speed_factor
    vlim = _corner_limit(track, car, lim.mu, factors, qcla_m, g_cos)
    n = len(track.s) - 1
    wrap = round(WRAP_M / track.ds)

    def ext(x: F64) -> list[float]:
        out: list[float] = np.r_[x, x[1 : wrap + 1]].tolist()
        return out

    kk = ext(np.abs(track.curvature))
    lift = ext(track.vertical_curvature + qcla_m)  # normal load per unit mass = g cos + v^2 * lift
    drag = ext(qcda_m)
    gc, gs = ext(g_cos), ext(g_sin)
    brake = ext(_per_corner(track, plan.brake_factors, 1.0))
    ds2 = 2.0 * track.ds
    mu, crr, g_min = lim.mu, car.crr, 0.2 * G
    sqrt, exp = math.sqrt, math.exp

    # backward: the fastest speed from which the car can still brake for everything ahead
    vb = ext(vlim)
    for i in range(len(vb) - 1, 0, -1):
        v2 = vb[i] * vb[i]
        nm = gc[i] + v2 * lift[i]
        nm = max(nm, g_min)
        grip = mu * nm
        r = v2 * kk[i] / grip
        ax = grip * sqrt(1.0 - r * r) * brake[i] if r < 1.0 else 0.0
        vp = v2 + ds2 * (ax + drag[i] * v2 + crr * nm + gs[i])
        vp = sqrt(vp) if vp > 0.0 else 0.0
        vb[i - 1] = min(vb[i - 1], vp)

    # forward: accelerate as hard as grip, power and torque allow, never above the backward envelope
    p_m = lim.p_drive / car.mass
    f_tq_m = min(car.torque_front_max / car.balance_front, car.torque_rear_max / (1 - car.balance_front))
    f_tq_m *= car.gear_ratio / car.wheel_radius / car.mass
    k_eta = car.rpm_per_mps / 2540.0  # efficiency(): 0.964 - 0.40 exp(-rpm / 2540), floor 0.70

    def forward(coast: list[bool]) -> list[float]:
        vf = [0.0] * (n + 1)
        vf[0] = min(v_start, vb[0])
        for i in range(n):
            v = vf[i]
            v2 = v * v
            nm = gc[i] + v2 * lift[i]
            nm = max(nm, g_min)
            if coast[i]:
                ax = 0.0
            else:
                grip = mu * nm
                r = v2 * kk[i] / grip
                ax = grip * sqrt(1.0 - r * r) if r < 1.0 else 0.0
                vv = v if v > 1.0 else 1.0
                eta = 0.964 - 0.40 * exp(-k_eta * vv)
                ap = (eta if eta > 0.70 else 0.70) * p_m / vv
                ax = min(ax, ap, f_tq_m)
            vn = v2 + ds2 * (ax - drag[i] * v2 - crr * nm - gs[i])
            vn = sqrt(vn) if vn > 0.0 else 0.0
            vf[i + 1] = vn if vn < vb[i + 1] else vb[i + 1]
        return vf

    wide = np.zeros(n + 1, dtype=np.bool_)
    if plan.mistake is not None and plan.mistake.kind == "run-wide" and plan.mistake.lift_m > 0:
        end = track.arc_start[plan.mistake.corner] + track.corners[plan.mistake.corner].arc
        wide = (track.s >= end) & (track.s < end + plan.mistake.lift_m)
    vf = forward(wide.tolist())
    planned = np.zeros(n + 1, dtype=np.bool_)
    lifts = 0
    if plan.lift_m is not None and np.any(plan.lift_m > 0):
        bound = np.asarray(vf) >= np.asarray(vb[: n + 1]) - 1e-9
        for c, length in enumerate(plan.lift_m):
            zone = _lift_zone(track, bound, np.asarray(vf), c, float(length))
            if zone is not None:
                planned[zone[0] : zone[1]] = True
                lifts += 1
        if lifts:
            vf = forward((planned | wide).tolist())
    return SpeedProfile(v=np.asarray(vf), lift_and_coast=planned, no_drive=planned | wide, lifts=lifts)


def _lift_zone(track: Track, bound: B, vf: F64, corner: int, length: float) -> tuple[int, int] | None:
    """Nodes [a, b) of a lift of ``length`` metres ending where the braking for ``corner`` begins, inside the
    corner's own straight; None when there is no such braking zone or the approach is too slow to bother."""
    if length <= 0.0 or corner == 0:  # T13's approach starts at the line: no lift there
        return None
    arc = round(track.arc_start[corner] / track.ds)
    free = np.flatnonzero(~bound[:arc])
    if len(free) == 0:
        return None
    onset = int(free[-1]) + 1  # the braking zone runs from here to the arc
    straight_start = int(np.argmax(track.corner_id == corner))
    a = max(onset - round(length / track.ds), straight_start)
    if onset <= straight_start or vf[onset] < LIFT_MIN_SPEED or a >= onset:
        return None
    return a, onset


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


def _cumtrapz(y: F64, t: F64) -> F64:
    out: F64 = np.r_[0.0, np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(t))]
    return out


# --------------------------------------------------------------------------------------------- lap


def lap_limits(car: CarParams, state: CarState, plan: LapPlan) -> LapLimits:
    """Grip and power the driver uses this lap, from pace, push, tyres, battery and the energy mode."""
    tyre = float(np.mean(state.tyre_temperature))
    soc = state.battery_energy_kwh / car.battery_capacity_kwh
    # push 1 uses all the grip; push 0.85 about 96 % (earlier braking, slower apexes)
    mu = car.mu * plan.pace * (0.75 + 0.25 * plan.push) * tyre_grip_factor(tyre)
    mu *= tyre_wear_factor(car, state.tyre_wear_mj)
    bms = battery_power_factor(state.battery_temperature, soc)
    # not pushing also means easing off on the straights: push 0.85 caps the pack at ~716 kW
    p_drive = car.p_drive_max * (0.70 + 0.30 * plan.push) * bms * ENERGY_MODES[plan.energy_mode].power_factor
    return LapLimits(mu=mu, p_drive=p_drive, p_regen=car.p_regen_max, battery_factor=bms)


def flying_speed(track: Track, car: CarParams, state: CarState, plan: LapPlan) -> float:
    """Speed at the line of a car arriving from a previous lap driven the same way."""
    lim = lap_limits(car, state, plan)
    return float(solve_speed(track, car, lim, plan, 30.0).v[-1])


@dataclass(frozen=True, eq=False)
class _Grid:
    """The lap on the uniform time grid, with the track quantities at each point."""

    t: F64
    s: F64
    v: F64
    acc: F64  # dv/dt of the speed profile (piecewise constant per 2 m step)
    kappa: F64
    kv: F64
    grade: F64
    heading: F64  # deg, unwrapped
    x: F64
    y: F64
    z: F64
    rho: F64  # kg/m^3
    drs_zone: B
    lift_and_coast: B
    t_node: F64
    n_whole: int  # samples of the whole lap (more than len(t) when simulated ``until`` a time)


def _time_grid(track: Track, car: CarParams, prof: SpeedProfile, dt: float, until: float | None) -> _Grid:
    """Resample the distance-grid speed profile on t = 0, dt, 2 dt, ..., lap_time (or ``until``), exactly."""
    ds, v_node = track.ds, prof.v
    a_node = np.r_[(v_node[1:] ** 2 - v_node[:-1] ** 2) / (2 * ds), 0.0]
    t_node = np.r_[0.0, np.cumsum(2 * ds / np.maximum(v_node[1:] + v_node[:-1], 1e-9))]
    lap_time = float(t_node[-1])
    t: F64 = np.arange(math.floor(lap_time / dt) + 1, dtype=np.float64) * dt
    if lap_time - t[-1] > 1e-9:
        t = np.r_[t, lap_time]
    n_whole = len(t)
    if until is not None:
        t = t[: max(2, int(np.searchsorted(t, until, side="right")))]
    idx = np.clip(np.searchsorted(t_node, t, side="right") - 1, 0, len(v_node) - 2)
    tau = t - t_node[idx]
    acc = a_node[idx]
    v = np.maximum(v_node[idx] + acc * tau, 0.0)  # constant acceleration inside each step
    s = np.minimum(track.s[idx] + v_node[idx] * tau + 0.5 * acc * tau * tau, track.length)
    frac = np.clip((s - track.s[idx]) / ds, 0.0, 1.0)

    def at_s(arr: F64) -> F64:
        out: F64 = arr[idx] + (arr[idx + 1] - arr[idx]) * frac
        return out

    return _Grid(
        t=t, s=s, v=v, acc=acc, kappa=at_s(track.curvature), kv=at_s(track.vertical_curvature),
        grade=at_s(track.grade), heading=at_s(track.heading), x=at_s(track.x), y=at_s(track.y), z=at_s(track.z),
        rho=air_density(car, at_s(track.elevation)), drs_zone=track.drs_zone[idx],
        lift_and_coast=prof.lift_and_coast[idx], t_node=t_node, n_whole=n_whole,
    )


def simulate_lap(
    track: Track, car: CarParams, state: CarState, plan: LapPlan, *, dt: float = 0.02, catalog: Catalog = CATALOG,
    until: float | None = None,
) -> LapTrace:
    """Simulate one lap from ``state`` (speed at the line, temperatures, battery) following ``plan``.

    ``until`` (s) stops the channels there (the speed profile is always solved for the whole lap): the
    generator takes the first instants of the lap after a session's last one from such a trace.
    """
    lim = lap_limits(car, state, plan)
    prof = solve_speed(track, car, lim, plan, state.speed)
    g = _time_grid(track, car, prof, dt, until)
    v, m, n = g.v, car.mass, len(g.t)
    rng = np.random.default_rng(plan.noise_seed)

    def noise(sigma: float, rows: int = 0) -> F64:
        # float32 draws are twice as fast and the channels are float32 anyway; drawn for the whole lap, so a
        # lap simulated ``until`` a time has the same noise as the whole lap
        z = rng.standard_normal((rows, g.n_whole) if rows else g.n_whole, dtype=np.float32)
        out: F64 = sigma * z[..., :n].astype(np.float64)
        return out

    ch: dict[str, F64] = {"speed": v, "gear": np.ones(n), "automatic_gear": np.full(n, AUTOMATIC_GEAR_DRIVE)}

    # -- aero: the DRS flap takes 0.3 s to move and the coefficients follow it (the solver switched them at
    #    the zone edges); air density falls with height
    drs = np.clip(_movavg(g.drs_zone.astype(np.float64), max(1, round(DRS_RAMP_S / dt))), 0.0, 1.0)
    scz = car.cla * (1.0 - (1.0 - car.drs_cla_factor) * drs)
    scx = car.cda * (1.0 - (1.0 - car.drs_cda_factor) * drs)
    aero_bal = car.aero_balance_front + (car.aero_balance_front_drs - car.aero_balance_front) * drs
    q = 0.5 * g.rho * v * v
    downforce = q * scz
    ch.update({
        "drs_position": drs, "aero_scz_front": scz * aero_bal, "aero_scz_rear": scz * (1.0 - aero_bal),
        "aero_scx": scx, "aero_balance": aero_bal, "aero_downforce_front": downforce * aero_bal,
        "aero_downforce_rear": downforce * (1.0 - aero_bal), "aero_drag": q * scx, "air_density": g.rho,
        "aero_front_flap": car.front_flap_deg + (car.front_flap_drs_deg - car.front_flap_deg) * drs,
    })

    # -- forces (N): aero, normal load, resistance, gravity along the slope; the net wheel force is smoothed
    #    over 0.1 s (pedal ramps, load transfer), which keeps its integral, so speed and distance stay consistent
    cos_slope = 1.0 / np.sqrt(1.0 + g.grade * g.grade)
    a_vert = v * v * g.kv
    normal = np.maximum(m * (G * cos_slope + a_vert) + downforce, 0.2 * m * G)
    resist = q * scx + car.crr * normal + m * G * g.grade * cos_slope
    fx = _movavg(m * g.acc + resist, max(1, round(FORCE_SMOOTHING_S / dt)))
    a_lat = v * v * g.kappa
    a_long = (fx - resist) / m

    # -- axle and wheel loads: static split, aero balance, longitudinal and lateral load transfer
    wf = car.weight_front
    long_transfer = m * a_long * car.cg_height / car.wheelbase
    n_front = np.maximum(
        wf * m * (G * cos_slope + a_vert) + aero_bal * downforce - long_transfer, 0.05 * m * G
    )
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
    # the limited-slip differential holds an axle's wheels near one slip (the inner wheel cannot spin up):
    # slip from the axle's grip use, and noise mostly shared by its two wheels (the road, shaft wind-up)
    u_x = np.repeat(np.clip(f_axle / (mu * n_axle), -1.3, 1.3), 2, axis=0)
    shared = np.repeat(noise(0.0018, 2), 2, axis=0)
    slip_ratio = car.slip_ratio_peak * np.sign(u_x) * np.abs(u_x) ** 1.5 + shared + noise(0.0008, 4)
    if plan.mistake is not None and plan.mistake.kind == "lock-up":
        _lock_up(track, g, plan.mistake.corner, slip_ratio, brake_force > 0)
    fy_axle = np.stack([m * wf * a_lat, m * (1 - wf) * a_lat])  # yaw moment balance in steady cornering
    u_y = np.clip(fy_axle / (mu * n_axle), -1.2, 1.2)
    peak = np.array([[car.slip_angle_peak_front], [car.slip_angle_peak_rear]])
    alpha = np.repeat(peak * u_y * (1 + 0.15 * u_y * u_y), 2, axis=0) * np.array([[0.97], [1.03], [0.97], [1.03]])
    alpha += noise(0.08, 4)
    for i, w in enumerate(WHEELS):
        ch[f"slip_ratio_{w}"], ch[f"slip_angle_{w}"], ch[f"wheel_load_{w}"] = slip_ratio[i], alpha[i], n_w[i]
    # understeer: front minus rear axle slip angle, positive when the front slides more, either way round
    ch["understeer_angle"] = np.sign(a_lat) * (alpha[0:2].mean(axis=0) - alpha[2:4].mean(axis=0))

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
    inertia = np.array([[car.rotor_inertia_front], [car.rotor_inertia_rear]])
    rotor = torque + inertia * _gradient(omega, dt) + np.stack([noise(1.5), noise(3.0)])
    rpm_out = np.maximum(rpm + noise(12.0, 2), 0.0)
    for i, axle in enumerate(("front", "rear")):
        ch[f"motor_rpm_{axle}"] = rpm_out[i]
        ch[f"power_electrical_{axle}"] = p_elec[i] / KW
        ch[f"pre_efficiency_power_{axle}"] = p_elec[i] / KW  # the 2022-23 name of the electrical power
        ch[f"efficiency_{axle}"] = eta[i]
        ch[f"torque_mechanical_{axle}"] = torque[i]
        ch[f"torque_rotor_{axle}"] = rotor[i]
    ch["power_electrical_total"] = p_total / KW
    # the torque map asks for the 1/3 front balance (feed-forward) and nothing offsets it; delivered is what
    # the two MGUs actually draw, the wheel-torque balance what reaches the wheels
    with np.errstate(divide="ignore", invalid="ignore"):
        delivered = np.where(np.abs(p_total) > 1.0, p_elec[0] / p_total, bal)
        abs_torque = np.abs(torque).sum(axis=0)
        torque_bal = np.where(abs_torque > 1.0, np.abs(torque[0]) / abs_torque, bal)
    ch.update({
        "power_balance_feed_forward": np.full(n, bal), "power_balance_offset": np.zeros(n),
        "power_balance": np.full(n, bal), "power_balance_delivered": delivered, "wheel_torque_balance": torque_bal,
    })

    # -- driver: pedal = share of the torque available at this rotor speed (peak torque at low speed,
    #    750 kW above ~3,000 rpm); a traction-limited launch shows ~0.85 (traction control trims it)
    pedal_power = car.p_drive_max * lim.battery_factor * eta.mean(axis=0)
    torque_peak = car.torque_front_max + car.torque_rear_max
    torque_avail = np.minimum(torque_peak, pedal_power / np.maximum(omega.mean(axis=0), 1.0))
    throttle = np.clip(np.where(p_total > 0, torque.sum(axis=0) / torque_avail, 0.0), 0.0, 1.0)
    brake_position = np.clip(brake_force / (car.brake_pedal_full_g * m * G), 0.0, 1.0)
    # the steering wheel turns clockwise (+) to the right, as the simulator's SteeringAngle (the real export
    # steers negative through T13, a left turn); the catalog stores it as the simulator gives it
    road_wheel = car.wheelbase * g.kappa + np.radians(car.understeer_gradient) * a_lat / G  # ISO: + left
    steering = -np.degrees(road_wheel) * car.steering_ratio + noise(0.25)
    ch.update({
        "throttle": throttle, "brake_pressure": np.clip(friction / car.brake_gain, 0.0, 100.0),
        "brake_position": brake_position, "steering_angle": steering,
        "lift_and_coast": g.lift_and_coast.astype(np.float64),
        # the device's raw counts: pedals 0..10,000, steering +-10,000 at full lock (+ right, as the wheel)
        "raw_throttle": np.round(throttle * RAW_FULL), "raw_brake": np.round(brake_position * RAW_FULL),
        "raw_steer": np.round(np.clip(steering / car.steering_lock_deg, -1.0, 1.0) * RAW_FULL),
    })

    ch.update(_wheels(car, v=v, kappa=g.kappa, slip_ratio=slip_ratio, torque=torque))
    ch.update(_chassis(
        car, g, a_long=a_long, a_lat=a_lat, a_vert=a_vert, n_front=n_front, n_rear=n_rear, alpha=alpha, dt=dt,
        noise=noise,
    ))
    tyre_bulk, slip_energy = _tyre_temperatures(
        car, state, v=v, t=g.t, f_wheel_x=f_wheel_x, fy_axle=fy_axle, n_w=n_w, n_axle=n_axle,
        slip_ratio=slip_ratio, alpha=alpha, dt=dt, ch=ch,
    )
    battery = _battery(car, state, t=g.t, v=v, p_total=p_total, ch=ch)

    values = np.full((n, len(catalog.payload_channels)), np.nan, dtype=np.float32)
    for name, arr in ch.items():
        j = catalog.payload_index.get(name)
        if j is not None:
            values[:, j] = arr

    lap_time = float(g.t_node[-1])
    whole = until is None or g.t[-1] >= lap_time
    end = CarState(
        speed=float(prof.v[-1]) if whole else float(v[-1]),
        tyre_temperature=(float(tyre_bulk[0]), float(tyre_bulk[1]), float(tyre_bulk[2]), float(tyre_bulk[3])),
        battery_temperature=float(ch["battery_temperature"][-1]),
        battery_energy_kwh=float(ch["battery_energy"][-1]),
        battery_heat_generated_j=float(ch["battery_q_internal"][-1]),
        battery_heat_dissipated_j=float(ch["battery_heat_dissipated"][-1]),
        total_distance=state.total_distance + (track.length if whole else float(g.s[-1])),
        ambient_c=state.ambient_c,
        tyre_wear_mj=state.tyre_wear_mj + slip_energy / 1e6,
    )
    sector_times = tuple(float(np.interp(x, track.s, g.t_node)) for x in track.sector_lines)
    return LapTrace(
        plan=plan, lap_time=lap_time, t=g.t, lap_distance=g.s, values=values, start=state, end=end,
        energy_kwh=battery[0], regen_kwh=battery[1], grip_factor=lim.mu / car.mu,
        power_cap_kw=lim.p_drive / KW, battery_factor=lim.battery_factor, sector_times=sector_times,
        lifts=prof.lifts, catalog=catalog,
    )


WHEELS = ("fl", "fr", "rl", "rr")


def _lock_up(track: Track, g: _Grid, corner: int, slip_ratio: F64, braking: B) -> None:
    """A front lock-up in the last LOCK_UP_S of braking before ``corner``: the left front stops turning for
    a moment (slip down to -0.22), the right front follows at two thirds of that (in place)."""
    t_arc = float(np.interp(track.arc_start[corner], track.s, g.t_node))
    window = (g.t > t_arc - LOCK_UP_S) & (g.t <= t_arc) & braking
    depth = -0.22 * np.sin(np.pi * np.clip((g.t - (t_arc - LOCK_UP_S)) / LOCK_UP_S, 0.0, 1.0))
    slip_ratio[0] = np.where(window, np.minimum(slip_ratio[0], depth), slip_ratio[0])
    slip_ratio[1] = np.where(window, np.minimum(slip_ratio[1], 2.0 / 3.0 * depth), slip_ratio[1])


def _wheels(car: CarParams, *, v: F64, kappa: F64, slip_ratio: F64, torque: F64) -> dict[str, F64]:
    """Wheel speeds (the outer wheel of a turn covers more ground, each spins by its slip ratio), wheel rpm,
    differential speed differences and the limited-slip torque between the wheels of an axle."""
    half_track = 0.5 * car.track_width * kappa  # left turn: left wheels slower
    ground = np.stack([v * (1 - half_track), v * (1 + half_track)] * 2)
    spin = np.maximum(ground * (1 + slip_ratio), 0.0)
    rpm = spin / car.wheel_radius * (60 / (2 * math.pi))
    out: dict[str, F64] = {}
    for i, w in enumerate(WHEELS):
        out[f"wheel_speed_{w}"], out[f"wheel_rpm_{w}"] = spin[i], rpm[i]
    wheel_torque = np.abs(torque) * car.gear_ratio
    for k, axle in enumerate(("front", "rear")):
        left, right = 2 * k, 2 * k + 1
        diff = spin[right] - spin[left]
        # preload + ramp: the friction slows the faster wheel and drives the slower one, so the drive-torque
        # difference left minus right (the simulator's TorqueDiff) has the sign of right minus left speed
        # (the real export: negative in right turns); in a locking differential it is the friction torque
        preload, ramp = (40.0, 0.15) if axle == "front" else (100.0, 0.25)
        locking = (preload + ramp * wheel_torque[k]) * np.tanh(diff / 0.3)
        out[f"speed_diff_{axle}"] = diff  # right minus left
        out[f"wheel_rpm_diff_{axle}"] = rpm[left] - rpm[right]  # left minus right, as the simulator's RpmDiff
        out[f"torque_diff_{axle}"] = locking
        out[f"torque_friction_{axle}"] = locking
    return out


def _chassis(
    car: CarParams, g: _Grid, *, a_long: F64, a_lat: F64, a_vert: F64, n_front: F64, n_rear: F64, alpha: F64,
    dt: float, noise: Callable[[float], F64],
) -> dict[str, F64]:
    """Accelerations, body angles and rates, ride heights, suspension, camber, steering torque, and the car's
    place and attitude in the world."""
    w = max(1, round(CHASSIS_SMOOTHING_S / dt))
    roll_deg = car.roll_gradient * _movavg(a_lat, w) / G  # + = right side down (ISO x), i.e. in a left turn
    pitch_rad = np.radians(-0.30 * _movavg(a_long, w) / G)  # 0.30 deg/g; + = nose down, under braking
    roll_rate = _gradient(np.radians(roll_deg), dt)
    pitch_rate = _gradient(pitch_rad, dt)
    yaw_rate = g.v * g.kappa
    m, wf = car.mass, car.weight_front
    # heave: ride height falls with the axle load (aero squat, load transfer); the plank stops it at 2 mm
    # and the dampers' full extension (travel_max) at the top
    static = np.array([[car.ride_height_front], [car.ride_height_rear]])
    travel0 = np.array([[car.travel_static_front], [car.travel_static_rear]])
    droop = static + (car.travel_max - travel0) / car.travel_per_ride_height
    ride = np.clip(np.stack([
        car.ride_height_front - (n_front - wf * m * G) / car.heave_stiffness_front + noise(0.0004),
        car.ride_height_rear - (n_rear - (1 - wf) * m * G) / car.heave_stiffness_rear + noise(0.0004),
    ]), 0.002, droop)
    roll_axle = np.stack([car.roll_share_front * roll_deg, (2.0 - car.roll_share_front) * roll_deg])
    # damper extension follows the ride height; roll extends the left dampers in a left turn (right side down)
    base = travel0 + car.travel_per_ride_height * (ride - static)
    half_roll = car.travel_per_ride_height * 0.5 * car.track_width * np.tan(np.radians(roll_axle))
    travel = np.clip(np.stack([base[0] + half_roll[0], base[0] - half_roll[0], base[1] + half_roll[1],
                               base[1] - half_roll[1]]), 0.0, car.travel_max)
    # camber: the outer wheel leans out with the body, the inner one in; compression adds negative camber
    camber0 = np.array([[car.camber_front], [car.camber_rear]]) + car.camber_per_heave * (ride - static)
    lean = car.camber_per_roll * roll_axle
    camber = np.stack([camber0[0] - lean[0], camber0[0] + lean[0], camber0[1] - lean[1], camber0[1] + lean[1]])
    slope_deg = np.degrees(np.arctan(g.grade))
    out = {
        "accel_longitudinal": a_long + noise(0.15),
        "accel_lateral": a_lat + noise(0.15),
        "accel_vertical": a_vert + noise(0.6),  # kinematic: 0 on a flat road; kerbs and bumps as noise
        "roll_angle": roll_deg, "roll_rate": roll_rate, "pitch_rate": pitch_rate, "yaw_rate": yaw_rate,
        "roll_acceleration": _gradient(_movavg(roll_rate, w), dt),
        "pitch_acceleration": _gradient(_movavg(pitch_rate, w), dt),
        "yaw_acceleration": _gradient(_movavg(yaw_rate, w), dt),
        "roll_angle_front": roll_axle[0], "roll_angle_rear": roll_axle[1],
        "ride_height_front": ride[0], "ride_height_rear": ride[1],
        "steering_torque": np.clip(3.2 * alpha[0:2].mean(axis=0), -30.0, 30.0),  # aligning torque, 3.2 Nm/deg
        "ground_grade": g.grade, "ground_slope": slope_deg,
        # the world, in the simulator's Unity axes (see the module docstring)
        "position_x": g.x, "position_y": g.y, "position_z": g.z, "heading": np.mod(g.heading, 360.0),
        "attitude_pitch": np.degrees(pitch_rad) - slope_deg, "attitude_roll": -roll_deg,
    }
    for i, wheel in enumerate(WHEELS):
        out[f"suspension_travel_{wheel}"], out[f"camber_{wheel}"] = travel[i], camber[i]
    return out


def _tyre_temperatures(
    car: CarParams, state: CarState, *, v: F64, t: F64, f_wheel_x: F64, fy_axle: F64, n_w: F64, n_axle: F64,
    slip_ratio: F64, alpha: F64, dt: float, ch: dict[str, F64],
) -> tuple[F64, float]:
    """Surface temperatures into ``ch``; returns the bulk temperatures at the end and the slip energy (J).

    Bulk: C dT/dt = slip power - h(v) (T - ambient), C = 40 kJ/K, h = 50 + 1.3 v W/K (x1.3 for the wider
    rears), so tyres need 1-2 laps to reach their ~95-105 degC working range. Surface: bulk plus
    0.15 K per kW of current slip power (0.5 s average). The slip energy wears the tyres (tyre_wear_factor).
    """
    f_wheel_y = np.repeat(fy_axle, 2, axis=0) * n_w / np.repeat(n_axle, 2, axis=0)
    slip_power = (np.abs(f_wheel_x * slip_ratio) + np.abs(f_wheel_y * np.tan(np.radians(alpha)))) * v
    heat_in = car.tyre_heat_fraction * slip_power
    h = (50.0 + 1.3 * v) * np.array([[1.0], [1.0], [1.3], [1.3]])
    c, amb = car.tyre_heat_capacity, state.ambient_c
    end = np.zeros(4)
    for i, w in enumerate(WHEELS):
        bulk = _linear_recurrence(1 - dt * h[i] / c, dt * (heat_in[i] + h[i] * amb) / c, state.tyre_temperature[i])
        ch[f"tyre_temperature_{w}"] = bulk[1:] + 1.5e-4 * _movavg(heat_in[i], max(1, round(0.5 / dt)))
        end[i] = bulk[-1]
    return end, float(_cumtrapz(slip_power.sum(axis=0), t)[-1])


def _battery(
    car: CarParams, state: CarState, *, t: F64, v: F64, p_total: F64, ch: dict[str, F64]
) -> tuple[float, float]:
    """Battery channels into ``ch``; returns (net energy drawn, energy regenerated) over the lap, kWh.

    Energy is the trapezoidal integral of total electrical power (terminal energy: ohmic heat is reported,
    not subtracted). Heat: R(T) I^2 with R = 30 mOhm at 25 degC halving every 28 K, I = P / V(SOC).
    Cooling: h = 10 + 0.4 * 1005 * m_dot W/K, air flow m_dot = 0.04 + 0.012 v kg/s (fan + ram air).
    Thermal mass 300 kJ/K. ``battery_q_internal`` is the heat generated and ``battery_heat_dissipated``
    the heat removed since the session started: their difference is exactly C (T - T0).
    The simulator's BatteryPowerModel resets at the line: ``battery_net_energy`` (kWh drawn) and
    ``battery_power_rms`` (time-weighted RMS of the power) count from the lap's start.
    """
    p_kw = p_total / KW
    steps = np.diff(t)
    used = _cumtrapz(p_kw, t) / KWS_PER_KWH
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
    elapsed = t - t[0]
    mean_square = np.where(elapsed > 0, _cumtrapz(p_kw * p_kw, t) / np.maximum(elapsed, 1e-12), p_kw[0] ** 2)
    ch.update({
        "battery_energy": energy, "battery_soc": soc, "battery_temperature": temp, "battery_total_heat": heat,
        "battery_air_mass_flow": air_flow, "battery_heat_dissipation": h, "battery_q_internal": generated,
        "battery_heat_dissipated": dissipated, "battery_power": p_kw, "battery_power_rms": np.sqrt(mean_square),
        "battery_net_energy": used,
    })
    regen = float(-np.sum(np.minimum(p_kw[:-1], 0.0) * steps) / KWS_PER_KWH)
    return float(used[-1]), regen


__all__ = [
    "ENERGY_MODES",
    "CarState",
    "EnergyMode",
    "EnergyModeSettings",
    "LapLimits",
    "LapPlan",
    "LapTrace",
    "Mistake",
    "SpeedProfile",
    "flying_speed",
    "lap_limits",
    "simulate_lap",
    "solve_speed",
]
