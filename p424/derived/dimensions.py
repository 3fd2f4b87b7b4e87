"""Units of measure as dimensions and a scale: what maths-channel expressions are checked with.

A unit is a product of four base dimensions with integer exponents (length m, mass kg, time s,
temperature K) and a scale to them: ``kW`` is 1000 kg m2 s-3, ``kWh`` 3.6e6 kg m2 s-2. Angles are
plain numbers, as in SI, with their scale (``rad`` 1, ``deg`` pi/180, ``rpm`` 2*pi/60 per second),
so torque times speed is a power (``Nm*rpm`` is 2*pi/60 W) while adding degrees to radians, or a
slip angle to a slip ratio, is still refused for their different scales. ``ratio``, ``%`` and the
catalog's empty unit are plain numbers too. ``degC`` is a temperature on the kelvin scale:
expressions add and compare temperatures, they never convert between Celsius and kelvin (which
would need an offset).

Unit texts are the catalog's spellings: symbols, each optionally followed by an integer exponent
(``m2``, ``s-1``, ``s^2``), joined by ``*`` or ``.``; every factor after a ``/`` divides (``m/s2``,
``kg/m3``, ``W/degC``, ``kWh/km``). ``g`` is standard gravity (the simulator's display unit for
accelerations), not the gram.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from p424.units import KWS_PER_KWH, STANDARD_GRAVITY

BASES = ("m", "kg", "s", "K")
Dims = tuple[int, int, int, int]
_NONE: Dims = (0, 0, 0, 0)
REL_TOL = 1e-9  # scales equal within rounding are the same unit


class UnitError(ValueError):
    """A unit text that cannot be read, or units an operation cannot combine."""


@dataclass(frozen=True)
class Unit:
    dims: Dims
    scale: float  # how many of the base units (SI, rad, K) one of this is
    text: str  # how it was written, or built from the texts it was combined from

    def __str__(self) -> str:
        return self.text or "1"

    def __mul__(self, other: Unit) -> Unit:
        return Unit(_scaled(self.dims, 1, other.dims, 1), self.scale * other.scale, _join(self.text, "*", other.text))

    def __truediv__(self, other: Unit) -> Unit:
        return Unit(_scaled(self.dims, 1, other.dims, -1), self.scale / other.scale, _join(self.text, "/", other.text))

    def __pow__(self, n: int) -> Unit:
        text = self.text if n == 1 or not self.text else f"({self.text})^{n}"
        return Unit(_scaled(_NONE, 1, self.dims, n), self.scale**n, text)

    def sqrt(self) -> Unit:
        if any(a % 2 for a in self.dims):
            raise UnitError(f"the square root of {self} has no unit (odd powers of {_dims_text(self.dims)})")
        d = self.dims
        half: Dims = (d[0] // 2, d[1] // 2, d[2] // 2, d[3] // 2)
        return Unit(half, math.sqrt(self.scale), f"sqrt({self.text})" if self.text else "")

    @property
    def dimensionless(self) -> bool:
        return self.dims == _NONE

    def same_dimension(self, other: Unit) -> bool:
        return self.dims == other.dims

    def same(self, other: Unit) -> bool:
        """Interchangeable: the same dimension and the same scale (a value of one is a value of the other)."""
        return self.dims == other.dims and math.isclose(self.scale, other.scale, rel_tol=REL_TOL)

    def factor_to(self, other: Unit) -> float:
        """What a value in this unit is multiplied by to be in ``other`` (same dimension only)."""
        if not self.same_dimension(other):
            raise UnitError(f"{self} cannot be converted to {other}: {self.describe()} is not {other.describe()}")
        return self.scale / other.scale

    def describe(self) -> str:
        """The unit in base units, for messages: ``kWh`` -> ``3.6e+06 m2*kg/s2``."""
        base = _dims_text(self.dims)
        if math.isclose(self.scale, 1.0, rel_tol=REL_TOL):
            return base
        return f"{self.scale:.6g} {base}" if base != "1" else f"{self.scale:.6g}"


def _scaled(a: Dims, ka: int, b: Dims, kb: int) -> Dims:
    """``ka * a + kb * b``, exponent by exponent."""
    return (
        ka * a[0] + kb * b[0],
        ka * a[1] + kb * b[1],
        ka * a[2] + kb * b[2],
        ka * a[3] + kb * b[3],
    )


def _join(a: str, op: str, b: str) -> str:
    if not b:
        return a
    left = a or "1"
    right = f"({b})" if op == "/" and any(c in b for c in "*/") else b
    return f"{left}{op}{right}"


def _dims_text(dims: Dims) -> str:
    up = [f"{b}{e if e != 1 else ''}" for b, e in zip(BASES, dims, strict=True) if e > 0]
    down = [f"{b}{-e if e != -1 else ''}" for b, e in zip(BASES, dims, strict=True) if e < 0]
    text = "*".join(up) or "1"
    return f"{text}/{'*'.join(down)}" if down else text


_M: Dims = (1, 0, 0, 0)
_KG: Dims = (0, 1, 0, 0)
_S: Dims = (0, 0, 1, 0)
_K: Dims = (0, 0, 0, 1)
_NEWTON: Dims = (1, 1, -2, 0)
_JOULE: Dims = (2, 1, -2, 0)
_WATT: Dims = (2, 1, -3, 0)
_PASCAL: Dims = (-1, 1, -2, 0)

# Every symbol a unit text may use: (dimensions, scale to the base units).
SYMBOLS: dict[str, tuple[Dims, float]] = {
    "1": (_NONE, 1.0),
    "ratio": (_NONE, 1.0),
    "%": (_NONE, 0.01),
    "m": (_M, 1.0),
    "km": (_M, 1e3),
    "cm": (_M, 1e-2),
    "mm": (_M, 1e-3),
    "s": (_S, 1.0),
    "ms": (_S, 1e-3),
    "min": (_S, 60.0),
    "h": (_S, 3600.0),
    "kg": (_KG, 1.0),
    "t": (_KG, 1e3),
    "rad": (_NONE, 1.0),
    "deg": (_NONE, math.pi / 180),
    "rev": (_NONE, 2 * math.pi),
    "rpm": ((0, 0, -1, 0), 2 * math.pi / 60),
    "K": (_K, 1.0),
    "degC": (_K, 1.0),
    "g": ((1, 0, -2, 0), STANDARD_GRAVITY),
    "N": (_NEWTON, 1.0),
    "kN": (_NEWTON, 1e3),
    "Nm": (_JOULE, 1.0),
    "J": (_JOULE, 1.0),
    "kJ": (_JOULE, 1e3),
    "MJ": (_JOULE, 1e6),
    "Wh": (_JOULE, 3600.0),
    "kWh": (_JOULE, KWS_PER_KWH * 1e3),
    "W": (_WATT, 1.0),
    "kW": (_WATT, 1e3),
    "MW": (_WATT, 1e6),
    "Pa": (_PASCAL, 1.0),
    "kPa": (_PASCAL, 1e3),
    "bar": (_PASCAL, 1e5),
}

NUMBER = Unit(_NONE, 1.0, "")
_FACTOR = re.compile(r"^(?P<symbol>[A-Za-z%]+|1)(?:\^?(?P<exp>-?\d+))?$")


def parse_unit(text: str) -> Unit:
    """The unit a text names; UnitError saying which part is unknown."""
    clean = text.strip()
    if clean in ("", "1"):
        return NUMBER
    dims = _NONE
    scale = 1.0
    for i, part in enumerate(clean.split("/")):
        for factor in re.split(r"[*.]", part):
            m = _FACTOR.match(factor.strip())
            if m is None or m["symbol"] not in SYMBOLS:
                known = ", ".join(sorted(SYMBOLS))
                raise UnitError(f"unit {text!r}: {factor.strip()!r} is not a unit this platform knows ({known})")
            base, s = SYMBOLS[m["symbol"]]
            exp = int(m["exp"] or 1) * (1 if i == 0 else -1)
            dims = _scaled(dims, 1, base, exp)
            scale *= s**exp
    return Unit(dims, scale, clean)
