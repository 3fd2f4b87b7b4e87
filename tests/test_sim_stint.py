"""Stints: the laps of one car differ as real stints do (braking points, lifts, mistakes, tyre wear, battery
heat and BMS derating, the energy mode), reproducibly by (seed, car, lap)."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from p424.sim import CarParams, CarSimulator, LapPlan, LapTrace, Mistake, SampleBlock, nordschleife, simulate_lap
from p424.sim.car import BATTERY_DERATE_END_C, BATTERY_DERATE_MIN, BATTERY_DERATE_START_C, battery_power_factor
from p424.sim.generator import MISTAKE_P, RANDOM_LIFT_P
from p424.sim.lap import CarState

TRACK = nordschleife()
CAR = CarParams()
STINT_LAPS = 10


@pytest.fixture(scope="module")
def stint() -> tuple[CarSimulator, SampleBlock, float]:
    """A 10-lap stint at 50 Hz in push mode, and how long it took to simulate (s)."""
    sim = CarSimulator(3, 7, seed=11, rate_hz=50, laps=STINT_LAPS)
    started = time.process_time()  # CPU time: a loaded test machine does not count
    block = sim.run()
    return sim, block, time.process_time() - started


def near(trace: LapTrace, a: float, b: float) -> npt.NDArray[np.bool_]:
    """Samples of ``trace`` between lap distances a (excluded) and b."""
    out: npt.NDArray[np.bool_] = (trace.lap_distance > a) & (trace.lap_distance <= b)
    return out


def warm_state(**changes: object) -> CarState:
    base = CarState(
        speed=37.0, tyre_temperature=(95.0,) * 4, battery_temperature=30.0, battery_energy_kwh=52.0,
        battery_heat_generated_j=0.0, battery_heat_dissipated_j=0.0, total_distance=0.0, ambient_c=20.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_ten_lap_stint_varies_by_seconds_and_tenths_of_a_kwh(
    stint: tuple[CarSimulator, SampleBlock, float], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, block, elapsed = stint
    laps = sim.lap_summaries
    times = np.array([s.lap_time for s in laps])
    energies = np.array([s.energy_kwh for s in laps])
    with capsys.disabled():
        print(f"\nsim stint: {STINT_LAPS} laps at 50 Hz ({len(block):,} samples) in {elapsed:.2f} s of CPU; lap times "
              f"{', '.join(f'{t:.1f}' for t in times)} s; energies {', '.join(f'{e:.2f}' for e in energies)} kWh")
    # real stints: seconds between laps, tenths of a kWh (driver, tyres, battery), never minutes
    assert 2.0 <= np.ptp(times) <= 15.0
    assert 0.1 <= np.ptp(energies) <= 2.0
    assert len(np.unique(np.round(times, 2))) == STINT_LAPS


def test_the_battery_warms_over_a_stint_and_the_bms_derates(stint: tuple[CarSimulator, SampleBlock, float]) -> None:
    sim, block, _ = stint
    laps = sim.lap_summaries
    at_line = [s.battery_temperature_start for s in laps]
    assert all(b > a for a, b in itertools.pairwise(at_line[:5])) and at_line[-1] > at_line[0] + 10.0
    # derating: full power while the pack is below 45 degC, less once it is above
    for s in laps:
        assert s.battery_power_factor == pytest.approx(battery_power_factor(s.battery_temperature_start, 0.9))
    derated = [s for s in laps if s.battery_power_factor < 1.0]
    assert laps[0].battery_power_factor == 1.0 and derated and derated[0].lap >= 3
    for s in derated:
        p = block.column("power_electrical_total")[block.lap == s.lap]
        assert p.max() <= CAR.p_drive_max / 1000 * s.battery_power_factor + 1e-3
    # the curve: 1 up to 45 degC, 70 % from 60 degC, linear between
    assert battery_power_factor(BATTERY_DERATE_START_C, 0.9) == 1.0
    assert battery_power_factor(BATTERY_DERATE_END_C + 5, 0.9) == BATTERY_DERATE_MIN == 0.7
    assert battery_power_factor(52.5, 0.9) == pytest.approx(0.85)
    # a hotter pack costs time and saves energy, lap for lap
    plan = LapPlan(1, 1.0, 1.0, np.ones(len(TRACK.corners)))
    cool, hot = (simulate_lap(TRACK, CAR, warm_state(battery_temperature=t), plan) for t in (40.0, 55.0))
    assert hot.lap_time > cool.lap_time + 2.0 and hot.energy_kwh < cool.energy_kwh - 0.5


def test_tyres_lose_grip_with_the_slip_energy_they_take(stint: tuple[CarSimulator, SampleBlock, float]) -> None:
    sim, _, _ = stint
    wear = [s.tyre_wear_mj for s in sim.lap_summaries]
    per_lap = np.diff(wear)
    assert wear[0] == 0.0 and per_lap.min() > 12.0 and per_lap.max() < 22.0  # MJ of slip energy a lap
    plan = LapPlan(1, 1.0, 1.0, np.ones(len(TRACK.corners)))
    new, worn = (simulate_lap(TRACK, CAR, warm_state(tyre_wear_mj=w), plan) for w in (0.0, wear[-1]))
    assert worn.grip_factor == pytest.approx(new.grip_factor * (1 - CAR.tyre_wear_per_mj * wear[-1]))
    assert 1.5 < worn.lap_time - new.lap_time < 8.0  # ~3 % of grip after ten laps


def test_the_energy_mode_trades_time_for_energy() -> None:
    runs = {}
    for mode in ("push", "balanced", "save"):
        sim = CarSimulator(5, 1, seed=5, rate_hz=50, laps=2, energy_mode=mode)
        block = sim.run()
        runs[mode] = (sim.lap_summaries, block)
    energy = {m: sum(s.energy_kwh for s in laps) / 2 for m, (laps, _) in runs.items()}
    lap_time = {m: sum(s.lap_time for s in laps) / 2 for m, (laps, _) in runs.items()}
    assert energy["save"] < energy["balanced"] < energy["push"]
    assert lap_time["save"] > lap_time["balanced"] > lap_time["push"]
    assert energy["push"] - energy["save"] > 3.0 and 5.0 < lap_time["save"] - lap_time["push"] < 30.0
    for mode, (laps, block) in runs.items():
        lift = block.column("lift_and_coast")
        assert all(s.energy_mode == mode for s in laps)
        if mode == "save":  # before nearly every braking zone
            assert min(s.lifts for s in laps) > 20 and lift.mean() > 0.05
            assert np.percentile(block.column("throttle")[lift == 1], 90) < 0.05
            assert np.percentile(block.column("brake_position")[lift == 1], 90) < 0.05


def test_mistakes_cost_time_and_show_in_the_channels() -> None:
    plan = CarSimulator(1, 1, seed=3).lap_plan(2)
    clean = replace(plan, mistake=None)
    corner = next(i for i, c in enumerate(TRACK.corners) if c.name == "Aremberg")
    lock_up = replace(plan, mistake=Mistake(corner=corner, kind="lock-up", speed_factor=0.78))
    wide = replace(plan, mistake=Mistake(corner=corner, kind="run-wide", speed_factor=0.86, lift_m=100.0))
    state = warm_state()
    base, locked, ran_wide = (simulate_lap(TRACK, CAR, state, p) for p in (clean, lock_up, wide))
    assert 0.2 < locked.lap_time - base.lap_time < 4.0 and 0.2 < ran_wide.lap_time - base.lap_time < 5.0
    entry = TRACK.arc_start[corner]
    assert locked.column("slip_ratio_fl")[near(locked, entry - 60, entry)].min() < -0.15  # the wheel stops
    assert base.column("slip_ratio_fl")[near(base, entry - 60, entry)].min() > -0.12
    exit_ = entry + TRACK.corners[corner].arc
    lifted = near(ran_wide, exit_ + 10, exit_ + 90)
    assert ran_wide.column("throttle")[lifted].max() < 0.05
    assert base.column("throttle")[near(base, exit_ + 10, exit_ + 90)].mean() > 0.05
    assert ran_wide.column("lift_and_coast")[lifted].max() == 0.0  # a lift, not the lift-and-coast button
    # how often: a mistake in ~15 % of push laps, an unplanned lift in ~35 %
    plans = [CarSimulator(car, 1, seed=9).lap_plan(lap) for car in range(1, 11) for lap in range(1, 11)]
    mistakes = sum(p.mistake is not None for p in plans) / len(plans)
    assert MISTAKE_P["push"] / 2 < mistakes < MISTAKE_P["push"] * 2
    assert all(p.mistake is None or TRACK.corners[p.mistake.corner].radius <= 110 for p in plans)
    unplanned = sum(bool(p.lift_m is not None and p.lift_m.max() > 0) for p in plans) / len(plans)
    assert RANDOM_LIFT_P / 2 < unplanned < RANDOM_LIFT_P * 1.5


def test_braking_points_vary_corner_by_corner_and_lap_by_lap() -> None:
    sim = CarSimulator(2, 1, seed=4)
    brakes = np.array([sim.lap_plan(lap).brake_factors for lap in range(1, 11)])
    assert brakes.min() >= 0.88 and brakes.max() <= 1.0 and 0.01 < np.std(brakes) < 0.04
    assert len({tuple(np.round(b, 6)) for b in brakes}) == 10
    # braking earlier everywhere is slower, and the driver's variation is worth seconds over a lap
    plan = LapPlan(1, 1.0, 1.0, np.ones(len(TRACK.corners)))
    state = warm_state()
    late, early = (simulate_lap(TRACK, CAR, state, replace(plan, brake_factors=np.full(len(TRACK.corners), f)))
                   for f in (1.0, 0.94))
    assert 0.3 < early.lap_time - late.lap_time < 2.0


def test_stints_are_reproducible_by_seed_car_and_lap(stint: tuple[CarSimulator, SampleBlock, float]) -> None:
    sim, block, _ = stint
    short = CarSimulator(3, 99, seed=11, rate_hz=50, laps=2)  # another session id, fewer laps
    short_block = short.run()
    assert [s.lap_time for s in short.lap_summaries] == [s.lap_time for s in sim.lap_summaries[:2]]
    assert np.array_equal(short_block.values, block.values[: len(short_block)])
    for lap in (1, 5):
        a, b = sim.lap_plan(lap), short.lap_plan(lap)
        assert (a.push, a.noise_seed, a.mistake) == (b.push, b.noise_seed, b.mistake)
        assert a.brake_factors is not None and b.brake_factors is not None
        assert np.array_equal(a.brake_factors, b.brake_factors)
        other_car = CarSimulator(4, 99, seed=11).lap_plan(lap)
        assert other_car.noise_seed != a.noise_seed
