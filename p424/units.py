"""Unit conversions shared by processing, simulation and features (each defined once)."""

from __future__ import annotations

KWS_PER_KWH = 3600.0  # kW*s in a kWh: energies integrate power (kW) over the session clock (s)
