"""Sample generator: a car's session as protocol-v1 headers and float32 payload vectors.

Each lap is simulated once when the session reaches it (``p424.sim.lap.simulate_lap``: ~35 ms, ~50 ms for a
flying first lap; ~3.6 MB held per car) on the simulator's 50 Hz channel grid, then sampled at any output
rate by linear interpolation, in blocks of numpy arrays; the per-sample API only slices those arrays.
Physics does not depend on the output rate: the same seed gives the same laps at 50 Hz and 1000 Hz.

Session conventions:
- sample ``i`` is at ``sim_time = i / rate_hz`` (session clock, continuing across laps); ``sequence = i``;
- laps count from 1; ``lap_distance`` restarts at 0 on the line;
- ``markers``: 8 (bit 3, start-line pass) on the first sample of every lap, including the first sample of
  the session; 16 (bit 4, sector-line pass) on the first sample at or after each intermediate sector line;
  no other bits;
- ``sector`` is 1-based (1..3); ``gear`` is 1 (drive) throughout;
- start ``"flying"`` (default): the session begins as the car crosses the line at racing speed (37 m/s out
  of the Hohenrain chicane, like the simulator's lap files) with tyres and battery warm from an out lap not
  recorded; ``"standing"``: lap 1 is an out lap launched from rest on the line with cold tyres;
- randomness derives from ``(seed, car_id)`` only (not ``session_id``): per car an ambient temperature and
  starting temperatures, per lap a push level (mean ~0.97), corner-by-corner speed jitter and sensor noise;
- battery: starts at 95 % SOC; a lap at full pace uses ~35 kWh of the 55 kWh pack, so when the energy at
  the line is below what the next lap needs (last lap's energy + 10 % + 5 % reserve) the pack is recharged
  to 95 % at the line, seen as a step up of ``battery_energy`` on the lap's first sample
  (``LapSummary.recharged``). Within a lap, energy only follows the power trace.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.codec.frame import FrameHeader
from p424.markers import MARKER_SECTOR_LINE, MARKER_START_LINE
from p424.sim.car import CarParams
from p424.sim.lap import CarState, LapPlan, LapTrace, flying_speed, simulate_lap
from p424.sim.track import Track, nordschleife

StartMode = Literal["flying", "standing"]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

PHYSICS_DT = 0.02  # s: the simulator polls the 424 channels at 50 Hz
RESERVE_SOC = 0.05
ENERGY_MARGIN = 1.10


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
        self.car_id = car_id
        self.session_id = session_id
        self.seed = seed
        self.pace = pace
        self.rate_hz = float(rate_hz)
        self.n_laps = laps
        self.start: StartMode = start
        self.params = params or CarParams()
        self.track = track or nordschleife()
        self.physics_dt = physics_dt
        self.catalog = catalog
        self.lap_summaries: list[LapSummary] = []
        self._sector_col = catalog.payload_index.get("sector")
        self._total_col = catalog.payload_index.get("total_distance")

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
        rng = np.random.default_rng([self.seed, self.car_id, lap])
        push = float(np.clip(1.0 - rng.gamma(1.5, 0.02), 0.85, 1.0))  # mean 0.97: most laps near the limit
        # corner by corner the driver is up to 3 % under the limit speed, never over the tyres' grip
        factors = 1.0 - np.clip(np.abs(rng.normal(0.0, 0.008, len(self.track.corners))), 0.0, 0.03)
        return LapPlan(lap=lap, push=push, pace=self.pace, corner_factors=factors,
                       noise_seed=int(rng.integers(2**63)), recharged=recharged)

    def laps(self) -> Iterator[tuple[float, LapTrace]]:
        """(session time at the line, lap trace) for laps 1..n; appends to ``lap_summaries``."""
        self.lap_summaries.clear()
        state = self.initial_state()
        t0 = 0.0
        car = self.params
        last_energy = 0.0
        for lap in range(1, self.n_laps + 1):
            recharged = False
            need = last_energy * ENERGY_MARGIN + RESERVE_SOC * car.battery_capacity_kwh
            if lap > 1 and state.battery_energy_kwh < need:
                state = replace(state, battery_energy_kwh=car.battery_capacity_kwh * car.battery_soc_full)
                recharged = True
            plan = self.lap_plan(lap, recharged)
            if lap == 1 and self.start == "flying":
                state = replace(state, speed=flying_speed(self.track, car, state, plan))
            trace = simulate_lap(self.track, car, state, plan, dt=self.physics_dt, catalog=self.catalog)
            splits = (0.0, *trace.sector_times, trace.lap_time)
            self.lap_summaries.append(LapSummary(
                lap=lap, start_time=t0, lap_time=trace.lap_time,
                sector_times=tuple(b - a for a, b in itertools.pairwise(splits)),
                energy_kwh=trace.energy_kwh, regen_kwh=trace.regen_kwh, push=plan.push, pace=plan.pace,
                grip_factor=trace.grip_factor, power_cap_kw=trace.power_cap_kw,
                tyre_temperature_start=float(np.mean(state.tyre_temperature)),
                battery_temperature_start=state.battery_temperature,
                battery_energy_start_kwh=state.battery_energy_kwh, recharged=recharged,
                standing_start=lap == 1 and self.start == "standing",
                v_max=float(np.max(trace.column("speed"))),
            ))
            yield t0, trace
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
        tau = np.clip(sim_time - t0, 0.0, trace.lap_time)
        j = np.minimum((tau / self.physics_dt).astype(np.int64), len(tg) - 2)
        j = np.where(tg[j] > tau, j - 1, j)  # guard against rounding at grid nodes
        w = np.clip((tau - tg[j]) / (tg[j + 1] - tg[j]), 0.0, 1.0)
        v0 = trace.values[j]
        values = v0 + (trace.values[j + 1] - v0) * w.astype(np.float32)[:, None]
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
        """Consecutive blocks of at most ``max_samples``; a block never spans two laps."""
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        for t0, trace in self.laps():
            i0 = self._first_index(t0)
            i_end = self._first_index(t0 + trace.lap_time)
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
