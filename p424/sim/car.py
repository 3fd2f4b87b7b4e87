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
    rho_air: float = 1.15  # kg/m^3, the Nordschleife is 320-620 m above sea level
    cda: float = 0.85  # m^2 drag area, DRS closed: the car would reach ~400 km/h on 723 kW, hence the limiter
    cla: float = 2.6  # m^2 lift area: 14 kN (1.25 x weight) of downforce at 355 km/h
    drs_cda_factor: float = 0.88  # DRS open: -12 % drag
    drs_cla_factor: float = 0.80  # and -20 % downforce
    aero_balance_front: float = 0.45  # front share of downforce
    crr: float = 0.012  # rolling resistance coefficient on the normal load
    mu: float = 1.85  # peak tyre friction coefficient (slicks at working temperature)
    wheel_radius: float = 0.34  # m
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


def efficiency(rpm: F64) -> F64:
    """MGU efficiency versus motor speed (fit to the fixture; floor 0.70 near standstill)."""
    return np.maximum(0.964 - 0.40 * np.exp(-np.abs(rpm) / 2540.0), 0.70)


def tyre_grip_factor(temperature_c: float) -> float:
    """Grip relative to the 95 degC optimum: -8 % at 50 degC or 140 degC (slick-like window)."""
    x = min(abs(temperature_c - 95.0) / 45.0, 1.3)
    return 1.0 - 0.08 * x * x


def battery_power_factor(temperature_c: float, soc: float) -> float:
    """BMS derate: full power up to 55 degC, 70 % at 70 degC; 80 % below 10 % SOC."""
    f = 1.0 - 0.3 * min(max((temperature_c - 55.0) / 15.0, 0.0), 1.0)
    if soc < 0.10:
        f *= 0.8
    return f
