"""The PERRINN 424 channel catalog: the single source of truth for every channel.

The frame codec (payload layout), the Cassandra schema (window and lap columns), the Grafana
dashboards (one panel per channel) and the ML features all derive from ``CHANNELS`` below.
Adding a channel is one line in ``CHANNELS``; append payload channels at the end. Any change
to names, units, transport or order changes the catalog hash, so senders and consumers notice a
mismatch instead of mis-reading values (appending can also move payload offsets, when the
presence bitmap grows by a word every 32 channels).

Header channels travel in the fixed frame header (session clock, lap, lap distance, markers);
payload channels travel as float32 values in catalog order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

CATALOG_VERSION = "1.0.0"


class Transport(StrEnum):
    HEADER = "header"  # carried in the fixed frame header (float64 or integer)
    PAYLOAD = "payload"  # carried as float32 in catalog order


class Kind(StrEnum):
    CONTINUOUS = "continuous"  # interpolate linearly when resampling
    DISCRETE = "discrete"  # hold the previous value when resampling (gear, lap, flags)


@dataclass(frozen=True)
class Channel:
    name: str  # snake_case identifier: Cassandra column stem, feature name, panel id
    unit: str  # SI unit of the stored value
    group: str
    lo: float  # display range, in stored units
    hi: float
    description: str
    sim_name: str = ""  # the simulator's channel name (CamelCase); its lap-file column is upper-case
    rate_hz: int = 50  # nominal poll rate in the simulator
    multiplier: float = 1.0  # display value = stored value * multiplier
    display_unit: str = ""  # unit after multiplying; empty means ``unit``
    kind: Kind = Kind.CONTINUOUS
    transport: Transport = Transport.PAYLOAD
    key: bool = False  # summarised per lap (min/max columns in the laps table)

    @property
    def csv_column(self) -> str:
        return self.sim_name.upper() if self.sim_name else self.name.upper()

    @property
    def shown_unit(self) -> str:
        return self.display_unit or self.unit


H, D = Transport.HEADER, Kind.DISCRETE

# One line per channel. Order of payload channels is the wire order: append new channels at the end.
CHANNELS: tuple[Channel, ...] = (
    # --- timing and track position (frame header) ---
    Channel(
        "sim_time",
        "s",
        "timing",
        0,
        86400,
        "Session clock: seconds since the session started",
        "TotalTime",
        transport=H,
    ),
    Channel(
        "lap",
        "",
        "timing",
        0,
        999,
        "Lap (segment) number, counted from the session start",
        "Segment",
        kind=D,
        transport=H,
    ),
    Channel(
        "lap_distance",
        "m",
        "timing",
        0,
        21000,
        "Distance from the start line along the lap",
        "Distance",
        multiplier=0.001,
        display_unit="km",
        transport=H,
    ),
    Channel(
        "markers",
        "",
        "timing",
        0,
        65535,
        "Marker bitmask (bit 0 time reset, 1 distance reset, 2 reposition, 3 start line, 4 sector line, 9 off track, 10 contact, 11 impact)",
        "Markers",
        kind=D,
        transport=H,
    ),
    # --- timing and track position (payload) ---
    Channel("sector", "", "timing", 0, 10, "Sector of the lap, 1-based", "Sector", kind=D),
    Channel(
        "total_distance",
        "m",
        "timing",
        0,
        2_000_000,
        "Distance driven since the session started",
        "TotalDistance",
        multiplier=0.001,
        display_unit="km",
    ),
    # --- vehicle ---
    Channel("speed", "m/s", "vehicle", 0, 100, "Vehicle speed", "Speed", multiplier=3.6, display_unit="km/h", key=True),
    # --- powertrain ---
    Channel("motor_rpm_front", "rpm", "powertrain", 0, 21000, "Front MGU speed", "MotorRpmFront", key=True),
    Channel("motor_rpm_rear", "rpm", "powertrain", 0, 21000, "Rear MGU speed", "MotorRpmRear", key=True),
    Channel(
        "power_electrical_front",
        "kW",
        "powertrain",
        -300,
        300,
        "Front MGU electrical power (negative when regenerating)",
        "PowerElectricalFront",
        key=True,
    ),
    Channel(
        "power_electrical_rear",
        "kW",
        "powertrain",
        -550,
        550,
        "Rear MGU electrical power (negative when regenerating)",
        "PowerElectricalRear",
        key=True,
    ),
    Channel(
        "power_electrical_total",
        "kW",
        "powertrain",
        -800,
        800,
        "Total electrical power drawn from the battery (negative when regenerating)",
        "PowerElectricalTotal",
        key=True,
    ),
    Channel(
        "power_balance",
        "ratio",
        "powertrain",
        0,
        1,
        "Front share of the total electrical power",
        "PowerBalance",
        multiplier=100,
        display_unit="%",
    ),
    Channel(
        "efficiency_front",
        "ratio",
        "powertrain",
        0,
        1,
        "Front MGU efficiency",
        "EfficiencyFront",
        multiplier=100,
        display_unit="%",
    ),
    Channel(
        "efficiency_rear",
        "ratio",
        "powertrain",
        0,
        1,
        "Rear MGU efficiency",
        "EfficiencyRear",
        multiplier=100,
        display_unit="%",
    ),
    Channel(
        "torque_mechanical_front", "Nm", "powertrain", -600, 600, "Front MGU mechanical torque", "TorqueMechanicalFront"
    ),
    Channel(
        "torque_mechanical_rear", "Nm", "powertrain", -1200, 1200, "Rear MGU mechanical torque", "TorqueMechanicalRear"
    ),
    Channel("torque_rotor_front", "Nm", "powertrain", -600, 600, "Front rotor torque", "TorqueRotorFront"),
    Channel("torque_rotor_rear", "Nm", "powertrain", -1200, 1200, "Rear rotor torque", "TorqueRotorRear"),
    # --- driver inputs ---
    Channel(
        "throttle",
        "ratio",
        "driver",
        0,
        1,
        "Throttle pedal position",
        "Throttle",
        multiplier=100,
        display_unit="%",
        key=True,
    ),
    Channel("brake_pressure", "bar", "driver", 0, 100, "Brake line pressure", "BrakePressure", key=True),
    Channel("steering_angle", "deg", "driver", -360, 360, "Steering wheel angle", "SteeringAngle"),
    Channel("gear", "", "driver", -1, 1, "Gear selector: -1 reverse, 0 neutral, 1 drive", "Gear", kind=D),
    # --- differential ---
    Channel(
        "torque_diff_front", "Nm", "differential", -1000, 1000, "Front differential torque transfer", "TorqueDiffFront"
    ),
    Channel(
        "torque_diff_rear", "Nm", "differential", -2000, 2000, "Rear differential torque transfer", "TorqueDiffRear"
    ),
    Channel("speed_diff_front", "m/s", "differential", -5, 5, "Front axle wheel speed difference", "SpeedDiffFront"),
    Channel("speed_diff_rear", "m/s", "differential", -5, 5, "Rear axle wheel speed difference", "SpeedDiffRear"),
    # --- chassis ---
    Channel(
        "accel_longitudinal",
        "m/s2",
        "chassis",
        -50,
        50,
        "Longitudinal acceleration (ISO 8855 x)",
        "AccelerationLongitudinal",
        multiplier=1 / 9.80665,
        display_unit="g",
        key=True,
    ),
    Channel(
        "accel_lateral",
        "m/s2",
        "chassis",
        -50,
        50,
        "Lateral acceleration (ISO 8855 y)",
        "AccelerationLateral",
        multiplier=1 / 9.80665,
        display_unit="g",
        key=True,
    ),
    Channel(
        "accel_vertical",
        "m/s2",
        "chassis",
        -50,
        50,
        "Vertical acceleration (ISO 8855 z), gravity removed: 0 on a flat road",
        "AccelerationVertical",
        multiplier=1 / 9.80665,
        display_unit="g",
    ),
    Channel("roll_rate", "rad/s", "chassis", -2, 2, "Roll rate", "RollRate"),
    Channel("pitch_rate", "rad/s", "chassis", -2, 2, "Pitch rate", "PitchRate"),
    Channel("yaw_rate", "rad/s", "chassis", -3, 3, "Yaw rate", "YawRate"),
    Channel(
        "roll_acceleration",
        "rad/s2",
        "chassis",
        -50,
        50,
        "Angular acceleration about x (motion-platform output)",
        "AngularAccelerationX",
    ),
    Channel(
        "pitch_acceleration",
        "rad/s2",
        "chassis",
        -50,
        50,
        "Angular acceleration about y (motion-platform output)",
        "AngularAccelerationY",
    ),
    Channel(
        "yaw_acceleration",
        "rad/s2",
        "chassis",
        -50,
        50,
        "Angular acceleration about z (motion-platform output)",
        "AngularAccelerationZ",
    ),
    Channel("roll_angle", "deg", "chassis", -5, 5, "Body roll angle", "RollAngle"),
    Channel(
        "ride_height_front",
        "m",
        "chassis",
        0,
        0.1,
        "Front ride height",
        "RideHeightFront",
        multiplier=1000,
        display_unit="mm",
    ),
    Channel(
        "ride_height_rear",
        "m",
        "chassis",
        0,
        0.1,
        "Rear ride height",
        "RideHeightRear",
        multiplier=1000,
        display_unit="mm",
    ),
    Channel(
        "drs_position",
        "ratio",
        "chassis",
        0,
        1,
        "DRS flap position (0 closed, 1 open)",
        "DrsPosition",
        multiplier=100,
        display_unit="%",
    ),
    Channel(
        "steering_torque", "Nm", "chassis", -30, 30, "Steering column torque (motion-platform output)", "SteeringTorque"
    ),
    # --- tyres ---
    Channel(
        "slip_ratio_fl",
        "ratio",
        "tyres",
        -0.3,
        0.3,
        "Front-left longitudinal slip ratio",
        "SlipRatioFL",
        multiplier=100,
        display_unit="%",
    ),
    Channel(
        "slip_ratio_fr",
        "ratio",
        "tyres",
        -0.3,
        0.3,
        "Front-right longitudinal slip ratio",
        "SlipRatioFR",
        multiplier=100,
        display_unit="%",
    ),
    Channel(
        "slip_ratio_rl",
        "ratio",
        "tyres",
        -0.3,
        0.3,
        "Rear-left longitudinal slip ratio",
        "SlipRatioRL",
        multiplier=100,
        display_unit="%",
    ),
    Channel(
        "slip_ratio_rr",
        "ratio",
        "tyres",
        -0.3,
        0.3,
        "Rear-right longitudinal slip ratio",
        "SlipRatioRR",
        multiplier=100,
        display_unit="%",
    ),
    Channel("slip_angle_fl", "deg", "tyres", -15, 15, "Front-left slip angle", "SlipAngleFL"),
    Channel("slip_angle_fr", "deg", "tyres", -15, 15, "Front-right slip angle", "SlipAngleFR"),
    Channel("slip_angle_rl", "deg", "tyres", -15, 15, "Rear-left slip angle", "SlipAngleRL"),
    Channel("slip_angle_rr", "deg", "tyres", -15, 15, "Rear-right slip angle", "SlipAngleRR"),
    Channel("tyre_temperature_fl", "degC", "tyres", 0, 150, "Front-left tyre surface temperature", "TyreTemperatureFL"),
    Channel(
        "tyre_temperature_fr", "degC", "tyres", 0, 150, "Front-right tyre surface temperature", "TyreTemperatureFR"
    ),
    Channel("tyre_temperature_rl", "degC", "tyres", 0, 150, "Rear-left tyre surface temperature", "TyreTemperatureRL"),
    Channel("tyre_temperature_rr", "degC", "tyres", 0, 150, "Rear-right tyre surface temperature", "TyreTemperatureRR"),
    # --- battery ---
    Channel(
        "battery_temperature", "degC", "battery", 0, 75, "Battery cell temperature", "BatteryTemperature", key=True
    ),
    Channel("battery_total_heat", "W", "battery", 0, 200_000, "Heat generated in the battery", "BatteryTotalHeat"),
    Channel(
        "battery_air_mass_flow",
        "kg/s",
        "battery",
        0,
        2,
        "Cooling air mass flow through the battery",
        "BatteryAirMassFlow",
    ),
    Channel(
        "battery_heat_dissipation",
        "W/degC",
        "battery",
        0,
        5000,
        "Battery heat dissipation coefficient",
        "BatteryHeatDissipation",
    ),
    Channel(
        "battery_heat_dissipated",
        "J",
        "battery",
        -1e9,
        1e9,
        "Heat dissipated by the battery since the session started",
        "BatteryHeatDissipated",
    ),
    Channel(
        "battery_q_internal", "J", "battery", 0, 1e9, "Internal heat accumulated in the battery", "BatteryQInternal"
    ),
    Channel(
        "battery_soc",
        "ratio",
        "battery",
        0,
        1,
        "Battery state of charge",
        "BatterySOC",
        multiplier=100,
        display_unit="%",
        key=True,
    ),
    Channel("battery_energy", "kWh", "battery", 0, 55, "Usable energy left in the battery", "BatteryEnergy", key=True),
)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Catalog:
    """An immutable, validated view of a channel list with derived layouts and a stable hash."""

    def __init__(self, channels: Iterable[Channel], version: str = CATALOG_VERSION) -> None:
        self.channels: tuple[Channel, ...] = tuple(channels)
        self.version = version
        self._validate()
        self.by_name: dict[str, Channel] = {c.name: c for c in self.channels}
        self.header_channels = tuple(c for c in self.channels if c.transport is Transport.HEADER)
        self.payload_channels = tuple(c for c in self.channels if c.transport is Transport.PAYLOAD)
        self.payload_names: tuple[str, ...] = tuple(c.name for c in self.payload_channels)
        self.payload_index: dict[str, int] = {n: i for i, n in enumerate(self.payload_names)}

    def _validate(self) -> None:
        seen: set[str] = set()
        for c in self.channels:
            if not _NAME.match(c.name):
                raise ValueError(f"channel name {c.name!r} is not snake_case")
            if c.name in seen:
                raise ValueError(f"channel {c.name!r} is defined twice")
            if not c.lo < c.hi:
                raise ValueError(f"channel {c.name!r}: display range lo must be below hi")
            seen.add(c.name)
        header = {c.name for c in self.channels if c.transport is Transport.HEADER}
        if header != {"sim_time", "lap", "lap_distance", "markers"}:
            raise ValueError(
                f"the frame header carries exactly sim_time, lap, lap_distance, markers; got {sorted(header)}"
            )

    @cached_property
    def hash(self) -> int:
        """32-bit hash of what decides how a frame is read: every channel's name, unit and
        transport, in order.

        Display ranges, descriptions and groups do not change it, so they can be edited without
        invalidating senders.
        """
        wire = [[c.name, c.unit, c.transport.value] for c in self.channels]
        digest = hashlib.sha256(json.dumps(wire, separators=(",", ":")).encode()).digest()
        return int.from_bytes(digest[:4], "little")

    @property
    def hash_hex(self) -> str:
        return f"{self.hash:08x}"

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.channels)

    def __len__(self) -> int:
        return len(self.channels)

    def __getitem__(self, name: str) -> Channel:
        return self.by_name[name]

    def by_csv_column(self) -> dict[str, Channel]:
        return {c.csv_column: c for c in self.channels}

    def key_channels(self) -> tuple[Channel, ...]:
        return tuple(c for c in self.payload_channels if c.key)

    def groups(self) -> dict[str, tuple[Channel, ...]]:
        out: dict[str, list[Channel]] = {}
        for c in self.channels:
            out.setdefault(c.group, []).append(c)
        return {g: tuple(cs) for g, cs in out.items()}

    def to_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "hash": self.hash_hex,
            "channels": [
                {
                    "name": c.name,
                    "unit": c.unit,
                    "group": c.group,
                    "rate_hz": c.rate_hz,
                    "range": [c.lo, c.hi],
                    "multiplier": c.multiplier,
                    "display_unit": c.shown_unit,
                    "description": c.description,
                    "sim_name": c.sim_name,
                    "kind": c.kind.value,
                    "transport": c.transport.value,
                    "key": c.key,
                }
                for c in self.channels
            ],
        }


CATALOG = Catalog(CHANNELS)
