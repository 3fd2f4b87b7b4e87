"""PERRINN 424 vehicle parameters and the pure per-point relations of the quasi-steady-state model.

Figures come from /work/shared/reference/perrinn424.md and were calibrated on the real simulator lap
start (perrinn424_lap_start_mgu_50hz.csv, 50 Hz):
- motor speed: 206 rpm per m/s when free rolling (211 under full power, 200 under regen: tyre slip),
  so 98.6 m/s (355 km/h) is about 20,300 rpm; the fixture itself reaches 18,956 rpm at 89 m/s;
- electrical power caps 250 kW front + 500 kW rear, power balance 1/3 front in drive and in regen;
- efficiency 0.964 above about 12,500 rpm, 0.959 at 10,000, 0.943 at 7,500, 0.916 at 5,400 rpm:
  ``eta = 0.964 - 0.40 * exp(-rpm / 2540)`` fits those points within 0.003;
- mechanical torque * rotor speed = efficiency * electrical power (drive) and
  electrical power = efficiency * mechanical power (regen), as in the fixture;
- 750 kW gives 11.5 m/s^2 at 49 m/s and about 8 m/s^2 at 70 m/s, which sets mass and drag.

Figures read from the real export of today's simulator (tests/data/perrinn424_training_data_excerpt_15s.csv):
- wheel radius 0.351 m (WheelSpin / nWheel, all four wheels within 0.002 m);
- aero balance 45 % front with DRS closed, 42 % open (the front flap follows the DRS);
- suspension travel grows with ride height, about 0.65 mm per mm (travel is the extension of the damper,
  so it shrinks under load), and ride heights sit on 2 mm when the plank touches.
That export's downforce and drag are 2-2.5 times this model's (SCz 5.7-7.3 m^2, SCx 0.97-1.36 m^2): its car
on this corner table accelerated more slowly out of T13 than both real laps, so the lap model keeps the
figures above, calibrated on the fixture, and reports its own coefficients in the aero channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

G = 9.80665
KW = 1000.0
TOP_SPEED_MS = 355 / 3.6  # 98.61 m/s, the 424's target top speed


@dataclass(frozen=True)
class CarParams:
    mass: float = 1150.0  # kg with driver (reference: 1100-1200 kg)
    rho_air: float = 1.15  # kg/m^3 at rho_elevation (the Nordschleife is 320-620 m above sea level)
    rho_elevation: float = 470.0  # m above sea level where the air has rho_air
    cda: float = 0.85  # m^2 drag area, DRS closed: the car would reach ~400 km/h on 723 kW, hence the limiter
    cla: float = 2.6  # m^2 lift area: 14 kN (1.25 x weight) of downforce at 355 km/h
    drs_cda_factor: float = 0.88  # DRS open: -12 % drag
    drs_cla_factor: float = 0.80  # and -20 % downforce
    aero_balance_front: float = 0.45  # front share of downforce, DRS closed (real export: 45 %)
    aero_balance_front_drs: float = 0.42  # DRS open (real export: 42 %)
    front_flap_deg: float = 2.0  # front flap angle with DRS closed; it follows the DRS to hold the balance
    front_flap_drs_deg: float = -3.0
    crr: float = 0.012  # rolling resistance coefficient on the normal load
    mu: float = 1.85  # peak tyre friction coefficient (slicks at working temperature)
    wheel_radius: float = 0.351  # m, real export: WheelSpin / nWheel
    rpm_per_mps: float = 206.0  # motor rpm per m/s of road speed without slip (fixture)
    motor_rpm_max: float = 21_000.0  # rpm; 355 km/h is 20,300 rpm
    p_front_max: float = 250.0 * KW  # W electrical
    p_rear_max: float = 500.0 * KW  # W electrical
    p_regen_max: float = 430.0 * KW  # W electrical, total, fed back to the battery
    torque_front_max: float = 280.0  # Nm mechanical, the fixture's peaks (275 Nm front, 593 Nm rear)
    torque_rear_max: float = 600.0  # Nm
    rotor_inertia_front: float = 0.015  # kg m^2: rotor torque = mechanical torque + J * d(omega)/dt
    rotor_inertia_rear: float = 0.03
    v_max: float = TOP_SPEED_MS - 0.15  # m/s, speed limiter set just under 355 km/h
    wheelbase: float = 2.75  # m
    cg_height: float = 0.30  # m
    weight_front: float = 0.45  # static front share of the weight
    track_width: float = 1.60  # m
    steering_ratio: float = 12.0  # steering wheel angle per road wheel angle
    steering_lock_deg: float = 180.0  # steering wheel angle at full device input (raw steer 10,000)
    brake_pedal_full_g: float = 4.0  # braking force (regen + friction) per weight at full brake pedal
    ride_height_front: float = 0.058  # m static; real export: 57-64 mm at 80 km/h, 10-26 mm at 300 km/h
    ride_height_rear: float = 0.072  # m static; real export: 22-38 mm at 300 km/h, up to 96 mm under braking
    heave_stiffness_front: float = 160e3  # N/m per axle: ~25 mm of aero squat at 300 km/h (real export: ~35)
    heave_stiffness_rear: float = 170e3
    travel_static_front: float = 0.053  # m damper extension at the static ride height (real export:
    travel_static_rear: float = 0.066  # travel = 0.63 x ride height + 16 mm front, 0.68 x + 18 mm rear)
    travel_per_ride_height: float = 0.65
    travel_max: float = 0.083  # m droop stop (the real export reaches 83.3 mm)
    roll_gradient: float = 0.45  # deg of body roll per g of lateral acceleration
    roll_share_front: float = 0.9  # front axle roll / body roll (a stiffer rear roll bar rolls the rear more)
    camber_front: float = -3.0  # deg static
    camber_rear: float = -2.0
    camber_per_roll: float = 0.6  # deg of camber per deg of body roll (the rest is recovered by the geometry)
    camber_per_heave: float = 30.0  # deg per m of ride height lost (more negative in compression)
    understeer_gradient: float = 0.5  # deg of road wheel per g of lateral acceleration
    slip_ratio_peak: float = 0.08  # longitudinal slip at full longitudinal grip
    slip_angle_peak_front: float = 7.0  # deg at full lateral grip
    slip_angle_peak_rear: float = 6.0
    brake_gain: float = 450.0  # N of friction brake force per bar of line pressure
    battery_capacity_kwh: float = 55.0
    battery_soc_full: float = 0.95  # charged to 95 % so regen always has headroom
    battery_heat_capacity: float = 3.0e5  # J/K, about 300 kg of cells
    battery_resistance: float = 0.030  # ohm at 25 degC, halving every ~28 K
    battery_voltage_empty: float = 720.0  # V open-circuit at 0 % SOC
    battery_voltage_full: float = 840.0  # V at 100 % SOC
    tyre_heat_capacity: float = 40_000.0  # J/K lumped tyre + rim, so tyres take laps to warm
    tyre_heat_fraction: float = 1.0  # share of the modelled slip power that heats the tyre
    # grip lost per MJ of slip energy through the four tyres: a lap at full pace puts ~17 MJ through them,
    # so they lose ~0.35 % of their grip a lap, ~3.5 % over a 10-lap stint (several seconds a lap)
    tyre_wear_per_mj: float = 2.0e-4
    ambient_c: float = 20.0  # mean air temperature; each car's session draws +-4 degC around it

    @property
    def p_drive_max(self) -> float:
        return self.p_front_max + self.p_rear_max

    @property
    def balance_front(self) -> float:
        return self.p_front_max / self.p_drive_max  # 1/3, the fixture's PowerBalance

    @property
    def gear_ratio(self) -> float:
        return self.rpm_per_mps * 2 * math.pi * self.wheel_radius / 60  # motor turns per wheel turn, ~7.3


def air_density(car: CarParams, elevation: F64) -> F64:
    """Air density at ``elevation`` (m): isothermal atmosphere, 8.4 km scale height (-3.5 % over 300 m)."""
    out: F64 = car.rho_air * np.exp(-(elevation - car.rho_elevation) / 8_400.0)
    return out


def efficiency(rpm: F64) -> F64:
    """MGU efficiency versus motor speed (fit to the fixture; floor 0.70 near standstill)."""
    return np.maximum(0.964 - 0.40 * np.exp(-np.abs(rpm) / 2540.0), 0.70)


def tyre_grip_factor(temperature_c: float) -> float:
    """Grip relative to the 95 degC optimum: -8 % at 50 degC or 140 degC (slick-like window)."""
    x = min(abs(temperature_c - 95.0) / 45.0, 1.3)
    return 1.0 - 0.08 * x * x


# BMS derating: lithium-ion power cells are rated for discharge up to about 60 degC, so the pack delivers
# full power up to 45 degC, then 2 % less per degree, 70 % at 60 degC (flat beyond); below 10 % SOC the
# voltage sag costs another 20 %. The cap is set at the line for the whole lap. With this pack's cooling a
# car at full pace reaches 45 degC after 3-4 laps and settles at 46-48 degC (4-6 % derated).
BATTERY_DERATE_START_C = 45.0
BATTERY_DERATE_END_C = 60.0
BATTERY_DERATE_MIN = 0.7


def battery_power_factor(temperature_c: float, soc: float) -> float:
    """Share of the peak electrical power the BMS allows at this pack temperature and state of charge."""
    x = min(max((temperature_c - BATTERY_DERATE_START_C) / (BATTERY_DERATE_END_C - BATTERY_DERATE_START_C), 0.0), 1.0)
    f = 1.0 - (1.0 - BATTERY_DERATE_MIN) * x
    if soc < 0.10:
        f *= 0.8
    return f


def tyre_wear_factor(car: CarParams, wear_mj: float) -> float:
    """Grip left after ``wear_mj`` MJ of slip energy through the four tyres (linear, floor 85 %)."""
    return max(1.0 - car.tyre_wear_per_mj * wear_mj, 0.85)
