"""Units as the simulator writes them, and their conversion to the units the catalog stores.

The simulator exports display values (value x its display multiplier) with a units row such as
``km/h``, ``G``, ``mm``, ``%``, ``°/s``; its telemetry API gives the same display units per
channel. The catalog stores SI units (with kW, kWh and rpm as engineers read them). One table
here says what each spelling measures, so the lap-file reader and the Unity sender (its generated
C# table, ``unity_bridge/golden_vectors.py``) convert the same way. The few conversion constants
processing, simulation and features share are defined here once too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STANDARD_GRAVITY = 9.80665  # m/s2 per g
KWS_PER_KWH = 3600.0  # kW*s in a kWh: energies integrate power (kW) over the session clock (s)

# Spelling -> (the unit it converts through, how many of that unit one of it is).
UNITS: dict[str, tuple[str, float]] = {
    "s": ("s", 1.0),
    "ms": ("s", 1e-3),
    "m": ("m", 1.0),
    "km": ("m", 1e3),
    "mm": ("m", 1e-3),
    "m/s": ("m/s", 1.0),
    "km/h": ("m/s", 1 / 3.6),
    "m/s2": ("m/s2", 1.0),
    "m/s²": ("m/s2", 1.0),
    "g": ("m/s2", STANDARD_GRAVITY),
    "G": ("m/s2", STANDARD_GRAVITY),
    "deg": ("deg", 1.0),
    "°": ("deg", 1.0),
    "rad": ("deg", 180 / math.pi),
    "rad/s": ("rad/s", 1.0),
    "deg/s": ("rad/s", math.pi / 180),
    "°/s": ("rad/s", math.pi / 180),
    "rad/s2": ("rad/s2", 1.0),
    "rad/s²": ("rad/s2", 1.0),
    "ratio": ("ratio", 1.0),
    "%": ("ratio", 1e-2),
    "rpm": ("rpm", 1.0),
    "W": ("W", 1.0),
    "kW": ("W", 1e3),
    "J": ("J", 1.0),
    "kWh": ("J", 3.6e6),
    "Nm": ("Nm", 1.0),
    "N": ("N", 1.0),
    "bar": ("bar", 1.0),
    "degC": ("degC", 1.0),
    "°C": ("degC", 1.0),
    "kg/s": ("kg/s", 1.0),
    "W/degC": ("W/degC", 1.0),
    "W/°C": ("W/degC", 1.0),
    "m2": ("m2", 1.0),
    "m²": ("m2", 1.0),
    "kg/m3": ("kg/m3", 1.0),
    "kg/m³": ("kg/m3", 1.0),
}
# How the simulator spells a unit in its exports where that differs from the catalog's spelling.
SIMULATOR_SPELLING: dict[str, str] = {"deg": "°", "deg/s": "°/s", "g": "G"}

# What a units row writes for a value without a unit (counts, flags, gear) or one it does not
# name: the value is taken as stored, in the catalog's unit.
UNSTATED = frozenset({"", "n/a"})


class UnitError(ValueError):
    pass


@dataclass(frozen=True, kw_only=True)
class Conversion:
    factor: float  # stored value = written value * factor

    def apply(self, value: float) -> float:
        return value * self.factor


def conversion(written: str, stored: str) -> Conversion:
    """How a value written in ``written`` becomes one in the catalog's ``stored`` unit.

    Raises UnitError naming both units when ``written`` is unknown or measures something else.
    """
    written = written.strip()
    if written in UNSTATED or written == stored:
        return Conversion(factor=1.0)
    if written not in UNITS:
        raise UnitError(f"unknown unit {written!r} (known: {', '.join(sorted(UNITS))})")
    if stored == "":
        raise UnitError(f"unit {written!r} given for a value the catalog stores without a unit")
    if stored not in UNITS:
        raise UnitError(f"the catalog unit {stored!r} is not in p424/units.py")
    base_w, per_w = UNITS[written]
    base_s, per_s = UNITS[stored]
    if base_w != base_s:
        raise UnitError(f"unit {written!r} does not measure what {stored!r} does")
    return Conversion(factor=per_w / per_s)
