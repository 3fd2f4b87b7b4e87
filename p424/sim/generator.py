"""Sample generator: a car's session as protocol-v1 headers and float32 payload vectors.

Each lap is simulated once when the session reaches it (``p424.sim.lap.simulate_lap``: ~80 ms of CPU, ~110 ms
with lifts before every braking zone; ~7 MB held per car) on the simulator's 50 Hz channel grid, then sampled
at any output rate by linear interpolation, in blocks of numpy arrays; the per-sample API only slices those
arrays. A 10-lap stint at 50 Hz takes about 1 s of CPU.
Physics does not depend on the output rate: the same seed gives the same laps at 50 Hz and 1000 Hz.

Session conventions:
- sample ``i`` is at ``sim_time = i / rate_hz`` (session clock, continuing across laps); ``sequence = i``;
- laps count from 1; ``lap_distance`` restarts at 0 on the line;
- a session of ``laps=N`` ends with the line crossing that closes lap N: its last sample is the first sample
  of lap N + 1 (lap = N + 1, start-line marker, sector 1, ``lap_distance`` = the metres driven since the
  line), taken from lap N + 1 simulated from lap N's end, so it continues lap N's values. Lap N + 1 is not
  in ``lap_summaries``; a session of N + 1 laps has the same sample there;
- ``markers``: 8 (bit 3, start-line pass) on the first sample of every lap, including the first sample of
  the session and the closing one; 16 (bit 4, sector-line pass) on the first sample at or after each
  intermediate sector line; no other bits;
- ``sector`` is 1-based (1..3); ``gear`` is 1 (drive) throughout, ``automatic_gear`` 4 (D);
- discrete channels (catalog kind) are held, not interpolated, between the 50 Hz physics samples, and the
  heading is interpolated the short way round (it wraps at 360 degrees);
- start ``"flying"`` (default): the session begins as the car crosses the line at racing speed (37 m/s out
  of the Hohenrain chicane, like the simulator's lap files) with tyres and battery warm from an out lap not
  recorded, on new tyres; ``"standing"``: lap 1 is an out lap launched from rest on the line with cold tyres;
- randomness derives from ``(seed, car_id)`` only (not ``session_id``), lap by lap from ``(seed, car_id,
  lap)``: per car an ambient temperature and starting temperatures; per lap a push level (mean ~0.97),
  corner-by-corner speed and braking-point variation, occasional lifts, a rare mistake (a lock-up or
  running wide, ~1 s to 3 s) and sensor noise;
- a stint changes the car lap by lap: the tyres lose grip with the slip energy they have taken (~0.4 % a
  lap), the battery warms (the BMS derates power above 45 degC, 2 % per degree, see ``p424.sim.car``), and the
  ``energy_mode`` ("push", "balanced", "save": ``p424.sim.lap.ENERGY_MODES``) sets the power cap and the
  lift-and-coast before braking zones;
- battery: starts at 95 % SOC; a lap at full pace uses ~35 kWh of the 55 kWh pack, so when the energy at
  the line is below what the next lap needs (last lap's energy + 10 % + 5 % reserve) the pack is recharged
  to 95 % at the line, seen as a step up of ``battery_energy`` on the lap's first sample
  (``LapSummary.recharged``). Within a lap, energy only follows the power trace; ``battery_net_energy``
  and ``battery_power_rms`` restart at the line, as the simulator's BatteryPowerModel does.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog, Kind
from p424.codec.frame import FrameHeader
from p424.markers import MARKER_SECTOR_LINE, MARKER_START_LINE
from p424.sim.car import CarParams
from p424.sim.lap import (
    ENERGY_MODES,
    CarState,
    EnergyMode,
    LapPlan,
    LapTrace,
    Mistake,
    MistakeKind,
    flying_speed,
    simulate_lap,
)
from p424.sim.track import Track, nordschleife

StartMode = Literal["flying", "standing"]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

PHYSICS_DT = 0.02  # s: the simulator polls the 424 channels at 50 Hz
RESERVE_SOC = 0.05
ENERGY_MARGIN = 1.10
CLOSING_MARGIN_S = 2.0  # the closing lap is simulated this far past its sample (smoothing windows are < 1 s)
CIRCULAR = {"heading": 360.0}  # channels that wrap, with their period

# Driver variation, per lap (see CarSimulator.lap_plan)
BRAKE_SIGMA = 0.03  # share of the braking grip left unused before a corner: |N(0, 3 %)|, at most 12 %
RANDOM_LIFT_P = 0.35  # chance of one unplanned lift in a lap (traffic, a yellow flag, backing off)
RANDOM_LIFT_M = (40.0, 120.0)
RANDOM_LIFT_MIN_STRAIGHT_M = 150.0  # before a corner with at least this much straight
MISTAKE_P: dict[str, float] = {"push": 0.15, "balanced": 0.10, "save": 0.06}  # chance of a mistake in a lap
# the corner's speed limit during the mistake: a lock-up runs deep and stops the car at the apex, running
# wide costs less there and then a lift on the exit
MISTAKE_SPEED_FACTOR: dict[str, tuple[float, float]] = {"lock-up": (0.70, 0.85), "run-wide": (0.80, 0.92)}
MISTAKE_MAX_RADIUS_M = 110.0  # mistakes happen in the braking corners
RUN_WIDE_LIFT_M = (60.0, 150.0)


@dataclass(frozen=True, eq=False)
class SampleBlock:
    """Consecutive samples of one car as arrays; ``values`` is (n, payload channels), catalog order."""

    car_id: int
    session_id: int
    sequence: npt.NDArray[np.int64]
    sim_time: F64
    lap: npt.NDArray[np.int32]
    lap_distance: F64
    markers: npt.NDArray[np.uint32]
    values: F32
    catalog: Catalog = field(default=CATALOG, repr=False)

    def __len__(self) -> int:
        return len(self.sequence)

    def header(self, i: int) -> FrameHeader:
        return FrameHeader(
            car_id=self.car_id, session_id=self.session_id, sequence=int(self.sequence[i]),
            sim_time=float(self.sim_time[i]), lap=int(self.lap[i]), lap_distance=float(self.lap_distance[i]),
            markers=int(self.markers[i]), catalog_hash=self.catalog.hash,
        )

    def rows(self) -> Iterator[tuple[FrameHeader, F32]]:
        """(header, values) per sample; ``values`` is a read-only view into this block."""
        car, session, chash = self.car_id, self.session_id, self.catalog.hash
        values = self.values.view()
        values.flags.writeable = False
        for seq, t, lap, dist, mk, row in zip(
            self.sequence.tolist(), self.sim_time.tolist(), self.lap.tolist(), self.lap_distance.tolist(),
            self.markers.tolist(), values, strict=True,
        ):
            yield FrameHeader(car, session, seq, t, lap, dist, mk, 0, chash), row

    def column(self, name: str) -> F32:
        return self.values[:, self.catalog.payload_index[name]]

    @staticmethod
    def concat(blocks: Sequence[SampleBlock]) -> SampleBlock:
        if not blocks:
            raise ValueError("no blocks to concatenate")
        b0 = blocks[0]
        return SampleBlock(
            car_id=b0.car_id, session_id=b0.session_id,
            sequence=np.concatenate([b.sequence for b in blocks]),
            sim_time=np.concatenate([b.sim_time for b in blocks]),
            lap=np.concatenate([b.lap for b in blocks]),
            lap_distance=np.concatenate([b.lap_distance for b in blocks]),
            markers=np.concatenate([b.markers for b in blocks]),
            values=np.concatenate([b.values for b in blocks]),
            catalog=b0.catalog,
        )


@dataclass(frozen=True, kw_only=True)
class LapSummary:
    """Per-lap facts (labels for ML and tests); times in seconds, energies in kWh."""

    lap: int
    start_time: float  # session clock at the line
    lap_time: float
    sector_times: tuple[float, ...]  # duration of each sector
    energy_kwh: float  # net electrical energy drawn from the battery (integral of total power)
    regen_kwh: float  # energy returned by regeneration (included in energy_kwh with its sign)
    push: float
    pace: float
    grip_factor: float  # friction used / tyre peak friction (driver, push, tyre temperature)
    power_cap_kw: float
    battery_power_factor: float  # BMS derate for this lap (1 = full power)
    energy_mode: EnergyMode
    lifts: int  # lift-and-coast zones driven (planned by the mode, or an unplanned lift)
    mistake: MistakeKind | None
    tyre_wear_mj: float  # slip energy the tyres had taken at the line
    tyre_temperature_start: float  # mean bulk tyre temperature at the line, degC
    battery_temperature_start: float
    battery_energy_start_kwh: float
    recharged: bool
    standing_start: bool
    v_max: float  # m/s


def driver_pace(seed: int, car_id: int) -> float:
    """A reproducible per-car driver pace in [0.975, 1.0] (1.0 = the simulator's reference lap)."""
    return float(1.0 - 0.025 * np.random.default_rng([seed, car_id, 0x9ACE]).random())


class CarSimulator:
    """One car's session: laps simulated lazily, sampled at ``rate_hz``.

    Iterate ``samples()`` (or the object itself) for ``(FrameHeader, float32 values)`` pairs, ``blocks()``
    for numpy blocks, ``run()`` for every sample at once, ``laps()`` for the physics traces.
    """

    def __init__(
        self,
        car_id: int,
        session_id: int,
        seed: int = 0,
        pace: float = 1.0,
        *,
        rate_hz: float = 50.0,
        laps: int = 1,
        start: StartMode = "flying",
        energy_mode: EnergyMode = "push",
        params: CarParams | None = None,
        track: Track | None = None,
        physics_dt: float = PHYSICS_DT,
        catalog: Catalog = CATALOG,
    ) -> None:
        if not 0 <= car_id < 2**16:
            raise ValueError(f"car_id {car_id} does not fit the frame's uint16")
        if session_id <= 0:
            raise ValueError("session_id must be positive")
        if not 0 < rate_hz <= 10_000:
            raise ValueError(f"rate_hz {rate_hz} outside (0, 10000]")
        if laps < 1:
            raise ValueError("laps must be at least 1")
        if not 0.5 <= pace <= 1.05:
            raise ValueError(f"pace {pace} outside [0.5, 1.05]")
        if start not in ("flying", "standing"):
            raise ValueError(f"start must be 'flying' or 'standing', not {start!r}")
        if energy_mode not in ENERGY_MODES:
            raise ValueError(f"energy_mode must be one of {', '.join(ENERGY_MODES)}, not {energy_mode!r}")
        self.car_id = car_id
        self.session_id = session_id
        self.seed = seed
        self.pace = pace
        self.rate_hz = float(rate_hz)
        self.n_laps = laps
        self.start: StartMode = start
        self.energy_mode: EnergyMode = energy_mode
        self.params = params or CarParams()
        self.track = track or nordschleife()
        self.physics_dt = physics_dt
        self.catalog = catalog
        self.lap_summaries: list[LapSummary] = []
        self._sector_col = catalog.payload_index.get("sector")
        self._total_col = catalog.payload_index.get("total_distance")
        self._held = np.array([i for i, c in enumerate(catalog.payload_channels) if c.kind is Kind.DISCRETE])
        self._circular = [(catalog.payload_index[n], p) for n, p in CIRCULAR.items() if n in catalog.payload_index]

    # ---------------------------------------------------------------- physics, lap by lap

    def initial_state(self) -> CarState:
        rng = np.random.default_rng([self.seed, self.car_id, 0x5E55])
        ambient = self.params.ambient_c + float(rng.uniform(-4.0, 4.0))
        standing = self.start == "standing"
        tyre0 = 50.0 if standing else 85.0
        tyres = tuple(float(x) for x in tyre0 + rng.normal(0.0, 2.0, 4))
        return CarState(
            speed=0.0,
            tyre_temperature=(tyres[0], tyres[1], tyres[2], tyres[3]),
            battery_temperature=ambient + (5.0 if standing else 10.0) + float(rng.normal(0.0, 1.0)),
            battery_energy_kwh=self.params.battery_capacity_kwh * self.params.battery_soc_full,
            battery_heat_generated_j=0.0,
            battery_heat_dissipated_j=0.0,
            total_distance=0.0,
            ambient_c=ambient,
        )

    def lap_plan(self, lap: int, recharged: bool = False) -> LapPlan:
        """The driver's lap, drawn from ``(seed, car_id, lap)`` only."""
        rng = np.random.default_rng([self.seed, self.car_id, lap])
        corners = self.track.corners
        push = float(np.clip(1.0 - rng.gamma(1.5, 0.02), 0.85, 1.0))  # mean 0.97: most laps near the limit
        # corner by corner the driver is up to 3 % under the limit speed, never over the tyres' grip
        factors = 1.0 - np.clip(np.abs(rng.normal(0.0, 0.008, len(corners))), 0.0, 0.03)
        noise_seed = int(rng.integers(2**63))
        # braking points: the driver uses up to 12 % less than the braking grip, so brakes earlier
        brake = 1.0 - np.clip(np.abs(rng.normal(0.0, BRAKE_SIGMA, len(corners))), 0.0, 0.12)
        mode = ENERGY_MODES[self.energy_mode]
        straights = np.array([c.straight_before for c in corners])
        lo, hi = mode.lift_m
        lift = np.where(straights >= mode.lift_min_straight_m, rng.uniform(lo, hi, len(corners)), 0.0)
        if rng.random() < RANDOM_LIFT_P:
            c = int(rng.choice(np.flatnonzero(straights >= RANDOM_LIFT_MIN_STRAIGHT_M)))
            lift[c] = max(lift[c], rng.uniform(*RANDOM_LIFT_M))
        mistake = None
        if rng.random() < MISTAKE_P[self.energy_mode]:
            # not T13: its braking zone sets the speed at the line, which the lap before has already driven
            c = int(rng.choice([i for i, x in enumerate(corners) if x.radius <= MISTAKE_MAX_RADIUS_M and i > 0]))
            kind: MistakeKind = "lock-up" if rng.random() < 0.5 else "run-wide"
            mistake = Mistake(
                corner=c, kind=kind, speed_factor=float(rng.uniform(*MISTAKE_SPEED_FACTOR[kind])),
                lift_m=float(rng.uniform(*RUN_WIDE_LIFT_M)) if kind == "run-wide" else 0.0,
            )
        return LapPlan(lap=lap, push=push, pace=self.pace, corner_factors=factors, noise_seed=noise_seed,
                       recharged=recharged, brake_factors=brake, lift_m=lift, mistake=mistake,
                       energy_mode=self.energy_mode)

    def _recharge(self, lap: int, state: CarState, last_energy: float) -> tuple[CarState, bool]:
        """The pack recharged at the line when it cannot cover the next lap (see the session conventions)."""
        car = self.params
        need = last_energy * ENERGY_MARGIN + RESERVE_SOC * car.battery_capacity_kwh
        if lap > 1 and state.battery_energy_kwh < need:
            return replace(state, battery_energy_kwh=car.battery_capacity_kwh * car.battery_soc_full), True
        return state, False

    def laps(self) -> Iterator[tuple[float, LapTrace]]:
        """(session time at the line, lap trace) for laps 1..n; appends to ``lap_summaries``."""
        for t0, trace, _ in self._traces(until=None, closing=False):
            yield t0, trace

    def _traces(self, until: float | None, closing: bool = True) -> Iterator[tuple[float, LapTrace, bool]]:
        """Laps 1..n, then (``closing``) the start of lap n + 1, its first ``until`` seconds: (t0, trace,
        is the closing lap)."""
        self.lap_summaries.clear()
        state = self.initial_state()
        t0 = 0.0
        last_energy = 0.0
        for lap in range(1, self.n_laps + (2 if closing else 1)):
            closing = lap == self.n_laps + 1
            state, recharged = self._recharge(lap, state, last_energy)
            plan = self.lap_plan(lap, recharged)
            if lap == 1 and self.start == "flying":
                state = replace(state, speed=flying_speed(self.track, self.params, state, plan))
            trace = simulate_lap(
                self.track, self.params, state, plan, dt=self.physics_dt, catalog=self.catalog,
                until=until if closing else None,
            )
            if closing:
                yield t0, trace, True
                return
            splits = (0.0, *trace.sector_times, trace.lap_time)
            self.lap_summaries.append(LapSummary(
                lap=lap, start_time=t0, lap_time=trace.lap_time,
                sector_times=tuple(b - a for a, b in itertools.pairwise(splits)),
                energy_kwh=trace.energy_kwh, regen_kwh=trace.regen_kwh, push=plan.push, pace=plan.pace,
                grip_factor=trace.grip_factor, power_cap_kw=trace.power_cap_kw,
                battery_power_factor=trace.battery_factor, energy_mode=plan.energy_mode, lifts=trace.lifts,
                mistake=plan.mistake.kind if plan.mistake is not None else None, tyre_wear_mj=state.tyre_wear_mj,
                tyre_temperature_start=float(np.mean(state.tyre_temperature)),
                battery_temperature_start=state.battery_temperature,
                battery_energy_start_kwh=state.battery_energy_kwh, recharged=recharged,
                standing_start=lap == 1 and self.start == "standing",
                v_max=float(np.max(trace.column("speed"))),
            ))
            yield t0, trace, False
            last_energy = trace.energy_kwh
            state = trace.end
            t0 += trace.lap_time

    # ---------------------------------------------------------------- sampling

    def _first_index(self, t: float) -> int:
        """Index of the first sample at or after session time ``t`` (shared by both ends of a lap)."""
        return math.ceil(t * self.rate_hz - 1e-7)

    def _sample(self, trace: LapTrace, t0: float, i0: int, i1: int, prev_distance: float) -> SampleBlock:
        idx = np.arange(i0, i1, dtype=np.int64)
        sim_time = idx / self.rate_hz
        tg = trace.t
        tau = np.clip(sim_time - t0, 0.0, tg[-1])
        j = np.minimum((tau / self.physics_dt).astype(np.int64), len(tg) - 2)
        j = np.where(tg[j] > tau, j - 1, j)  # guard against rounding at grid nodes
        w = np.clip((tau - tg[j]) / (tg[j + 1] - tg[j]), 0.0, 1.0)
        v0, v1 = trace.values[j], trace.values[j + 1]
        w32 = w.astype(np.float32)
        values = v0 + (v1 - v0) * w32[:, None]
        if len(self._held):
            values[:, self._held] = v0[:, self._held]
        for col, period in self._circular:
            step = np.mod(v1[:, col] - v0[:, col] + period / 2, period) - period / 2
            values[:, col] = np.mod(v0[:, col] + step * w32, period)
        s = trace.lap_distance
        dist = s[j] + (s[j + 1] - s[j]) * w
        if self._sector_col is not None:
            values[:, self._sector_col] = self.track.sector_of(dist)
        if self._total_col is not None:
            values[:, self._total_col] = trace.start.total_distance + dist
        markers = np.zeros(len(idx), dtype=np.uint32)
        if len(idx) and i0 == self._first_index(t0):
            markers[0] |= MARKER_START_LINE
        prev = np.r_[prev_distance, dist[:-1]]
        for line in self.track.sector_lines:
            markers[(dist >= line) & (prev < line)] |= MARKER_SECTOR_LINE
        return SampleBlock(
            car_id=self.car_id, session_id=self.session_id, sequence=idx, sim_time=sim_time,
            lap=np.full(len(idx), trace.plan.lap, dtype=np.int32), lap_distance=dist, markers=markers,
            values=values, catalog=self.catalog,
        )

    def blocks(self, max_samples: int = 4096) -> Iterator[SampleBlock]:
        """Consecutive blocks of at most ``max_samples``; a block never spans two laps. The last block is the
        closing sample (the first of lap n + 1)."""
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        for t0, trace, closing in self._traces(until=1.0 / self.rate_hz + CLOSING_MARGIN_S):
            i0 = self._first_index(t0)
            i_end = i0 + 1 if closing else self._first_index(t0 + trace.lap_time)
            prev = -1.0
            for a in range(i0, i_end, max_samples):
                block = self._sample(trace, t0, a, min(a + max_samples, i_end), prev)
                prev = float(block.lap_distance[-1])
                yield block

    def samples(self, block_size: int = 4096) -> Iterator[tuple[FrameHeader, F32]]:
        """(FrameHeader, float32 values in catalog payload order) for every sample of the session."""
        for block in self.blocks(block_size):
            yield from block.rows()

    def __iter__(self) -> Iterator[tuple[FrameHeader, F32]]:
        return self.samples()

    def run(self) -> SampleBlock:
        """The whole session as one block (mind memory at high rates: ~250 bytes per sample)."""
        return SampleBlock.concat(list(self.blocks(1 << 16)))


def fleet(
    n_cars: int, session_id: int, seed: int = 0, *, first_car_id: int = 1, rate_hz: float = 50.0, laps: int = 1,
    start: StartMode = "flying",
) -> list[CarSimulator]:
    """``n_cars`` simulators with car ids from ``first_car_id`` and a reproducible per-car ``driver_pace``."""
    return [
        CarSimulator(car_id, session_id, seed, driver_pace(seed, car_id), rate_hz=rate_hz, laps=laps, start=start)
        for car_id in range(first_car_id, first_car_id + n_cars)
    ]


def generate_samples(
    car_id: int, session_id: int, seed: int = 0, pace: float = 1.0, *, rate_hz: float = 50.0, laps: int = 1,
    start: StartMode = "flying",
) -> Iterator[tuple[FrameHeader, F32]]:
    """Shortcut for ``CarSimulator(...).samples()``."""
    return CarSimulator(car_id, session_id, seed, pace, rate_hz=rate_hz, laps=laps, start=start).samples()


def generate_block(
    car_id: int, session_id: int, seed: int = 0, pace: float = 1.0, *, rate_hz: float = 50.0, laps: int = 1,
    start: StartMode = "flying",
) -> SampleBlock:
    """Every sample of a session as one ``SampleBlock`` (benchmarks)."""
    return CarSimulator(car_id, session_id, seed, pace, rate_hz=rate_hz, laps=laps, start=start).run()
