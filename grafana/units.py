"""Catalog units -> Grafana units and display ranges (display value = stored value x multiplier)."""

from __future__ import annotations

from p424.catalog import Channel

# Grafana's built-in unit ids for the catalog's display units; anything else is shown as a suffix.
GRAFANA_UNITS: dict[str, str] = {
    "km/h": "velocitykmh",
    "m/s": "velocityms",
    "km": "lengthkm",
    "m": "lengthm",
    "mm": "lengthmm",
    "%": "percent",
    "kW": "kwatt",
    "W": "watt",
    "kWh": "kwatth",
    "J": "joule",
    "rpm": "rotrpm",
    "Nm": "forceNm",
    "bar": "pressurebar",
    "deg": "degree",
    "degC": "celsius",
    "g": "accG",
    "m/s2": "accMS2",
    "s": "s",
    "rad/s": "rotrads",
    "deg/s": "rotdegs",
    "": "none",
}
SUFFIXES: dict[str, str] = {"rad/s2": "rad/s²", "W/degC": "W/°C", "kg/s": "kg/s", "ratio": ""}


def grafana_unit(display_unit: str) -> str:
    if display_unit in GRAFANA_UNITS:
        return GRAFANA_UNITS[display_unit]
    suffix = SUFFIXES.get(display_unit, display_unit)
    return f"suffix: {suffix}" if suffix else "none"


def channel_unit(c: Channel) -> str:
    return grafana_unit(c.shown_unit)


def display_range(c: Channel) -> tuple[float, float]:
    """The catalog's display range in display units (a negative multiplier would swap the ends)."""
    a, b = c.lo * c.multiplier, c.hi * c.multiplier
    return (min(a, b), max(a, b))


def decimals(c: Channel) -> int:
    """Enough decimals for about three significant digits over the display range."""
    lo, hi = display_range(c)
    span = hi - lo
    if span >= 100:
        return 0
    if span >= 10:
        return 1
    if span >= 1:
        return 2
    return 3
