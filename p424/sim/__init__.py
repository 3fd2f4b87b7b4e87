"""Load generator: physically plausible PERRINN 424 laps and stints of a Nordschleife-like track.

Physics (pure): ``track`` (a closed 3-D line: curvature, heights, world position), ``car`` (parameters
and relations, BMS derating, tyre wear), ``lap`` (one lap's speed profile and every catalog channel, the
driver's plan: braking points, lifts, mistakes, energy mode). Iteration: ``generator`` (sessions that
close their last lap, per-lap plans, sampling at any rate, frame headers, numpy blocks).
"""

from p424.sim.car import CarParams
from p424.sim.generator import (
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
