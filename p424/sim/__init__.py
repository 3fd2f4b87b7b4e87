"""Load generator: physically plausible PERRINN 424 laps of a Nordschleife-like track.

Physics (pure): ``track`` (geometry), ``car`` (parameters and relations), ``lap`` (one lap's speed
profile and channels). Iteration: ``generator`` (sampling at any rate, frame headers, numpy blocks).
"""

from p424.sim.car import CarParams
from p424.sim.generator import (
    MARKER_SECTOR_LINE,
    MARKER_START_LINE,
    CarSimulator,
    LapSummary,
    SampleBlock,
    StartMode,
    driver_pace,
    fleet,
    generate_block,
    generate_samples,
)
from p424.sim.lap import ENERGY_MODES, CarState, EnergyMode, LapPlan, LapTrace, Mistake, simulate_lap
from p424.sim.track import Track, nordschleife

__all__ = [
    "ENERGY_MODES",
    "MARKER_SECTOR_LINE",
    "MARKER_START_LINE",
    "CarParams",
    "CarSimulator",
    "CarState",
    "EnergyMode",
    "LapPlan",
    "LapSummary",
    "LapTrace",
    "Mistake",
    "SampleBlock",
    "StartMode",
    "Track",
    "driver_pace",
    "fleet",
    "generate_block",
    "generate_samples",
    "nordschleife",
    "simulate_lap",
]
