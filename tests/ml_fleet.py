"""Simulated cars run through the real session processor (``p424.processing``) in memory, for the ML tests.

The windows and laps are exactly what Flink stores and publishes, without Kafka or Cassandra;
``FleetSource`` serves them through the training-source protocol (``p424.ml.source``) with the
columns Cassandra returns, so the dataset step runs on them unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder
from p424.ml.dataset import plan_folds
from p424.ml.features import SPEC
from p424.ml.settings import TrainingSettings
from p424.ml.source import SessionFacts, StoredLap, WindowRows
from p424.processing.outputs import LapRow, Outputs, QualityRow, SessionRow, WindowRow
from p424.processing.session import ProcessingSettings, SessionProcessor
from p424.sim import CarSimulator, driver_pace
from p424.storage import window_stats, writes
from p424.storage.reader import LapKey

T0_MS = 1_790_000_000_000
RATE_HZ = 5.0
SEED = 3
FIRST_SESSION = 9001
TRACK_CARS = 5  # cars 1-5 share a track in the ML tests: three held out for validation, two to train on
VALIDATION_FRACTION = TrainingSettings.__dataclass_fields__["validation_fraction"].default


@dataclass
class Processed:
    windows: list[WindowRow]
    laps: list[LapRow]
    sessions: dict[int, SessionRow] = field(default_factory=dict)  # the last row of each session
    quality: dict[int, QualityRow] = field(default_factory=dict)

    def rows(self, window_ms: int) -> dict[tuple[int, int], list[dict[str, Any]]]:
        """Window rows as Cassandra returns them (column -> value), per (session, lap), in time order."""
        cols = writes.Statements("ks").window_columns
        out: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for w in self.windows:
            if w.window_ms == window_ms:
                row = window_stats.expand(dict(zip(cols, writes.window_params(w), strict=True)), SPEC.window_columns())
                out.setdefault((w.session_id, w.lap), []).append(row)
        return out

    def lap_rows(self) -> list[dict[str, Any]]:
        """``laps`` rows with the columns training reads, as the driver returns them."""
        cols = writes.Statements("ks")._tables.lap.columns
        wanted = {
            "session_id",
            "lap",
            "car_id",
            "start_ts",
            "lap_time",
            "distance",
            "complete",
            "invalidated",
            "energy_net_kwh",
        }
        return [{c: v for c, v in zip(cols, writes.lap_params(lap), strict=True) if c in wanted} for lap in self.laps]

    def stored_laps(self) -> list[StoredLap]:
        return [StoredLap.from_row(r) for r in self.lap_rows()]

    def take(self, o: Outputs) -> None:
        self.windows += o.windows
        self.laps += o.laps
        self.sessions.update((r.session_id, r) for r in o.sessions)
        self.quality.update((r.session_id, r) for r in o.quality)


def car_simulator(car: int, session_id: int, laps: int, seed: int = SEED) -> CarSimulator:
    """Car ``car`` of the ML tests' fleet (its driver's pace from the seed), sampled at RATE_HZ."""
    return CarSimulator(car, session_id, seed=seed, pace=driver_pace(seed, car), rate_hz=RATE_HZ, laps=laps)


def process(cars: int, laps: int, seed: int = SEED, session_ids: Sequence[int] | None = None) -> Processed:
    """``cars`` simulated cars of ``laps`` laps each, all leaving the line at ``T0_MS``; car ``i`` is session
    ``session_ids[i - 1]`` (``FIRST_SESSION + i - 1`` by default)."""
    out = Processed([], [])
    ids = list(session_ids) if session_ids is not None else [FIRST_SESSION + i for i in range(cars)]
    for car in range(1, cars + 1):
        sid = ids[car - 1]
        sim = car_simulator(car, sid, laps, seed)
        proc = SessionProcessor(sid, car, ProcessingSettings((100, 1000)))
        samples = sim.samples()
        first = next(samples)
        # Channels the simulator does not model (NaN) are sent absent, as a replay sends a lap file's missing columns.
        enc = FrameEncoder(present=~np.isnan(first[1]))
        for h, v in itertools.chain([first], samples):
            out.take(proc.on_frame(enc.encode(h, v), T0_MS + round(h.sim_time * 1000)))
        out.take(proc.flush())
    return out


# Which cars of the track the held-out sessions belong to decides the scores (the cars' laps are the same
# under any session ids): with sessions FIRST_SESSION.. the stable hash holds out these cars.
HELD_OUT_CARS = frozenset(
    s - FIRST_SESSION + 1
    for s in plan_folds(range(FIRST_SESSION, FIRST_SESSION + TRACK_CARS), VALIDATION_FRACTION).validation
)


def session_ids_holding_out(held_out: frozenset[int], cars: int, draw: Callable[[], int]) -> list[int]:
    """Fresh session ids for cars 1..``cars`` (``draw`` gives one) such that the stable hash holds out the sessions
    of the cars in ``held_out`` among the first TRACK_CARS, as it does in tests/test_ml_unit.py: a platform test
    on fresh ids then scores exactly the unit test's folds."""
    while True:
        ids = [draw() for _ in range(cars)]
        folds = plan_folds(ids[:TRACK_CARS], VALIDATION_FRACTION)
        if {ids.index(s) + 1 for s in folds.validation} == held_out:
            return ids


@dataclass
class FleetSource:
    """A processed fleet as a ``TrainingSource``; ``tracks`` names the track of some sessions (others: none)."""

    fleet: Processed
    tracks: Mapping[int, str] = field(default_factory=dict)
    lost: Mapping[int, int] = field(default_factory=dict)  # session -> frames lost
    window_reads: list[list[LapKey]] = field(default_factory=list)

    @property
    def description(self) -> str:
        return "simulated fleet in memory"

    def session_ids(self) -> list[int]:
        return sorted({lap.session_id for lap in self.fleet.laps})

    def sessions(self, session_ids: Sequence[int]) -> list[SessionFacts]:
        known = set(self.session_ids())
        return [
            SessionFacts(
                session_id=s,
                track=self.tracks.get(s),
                catalog_hash=CATALOG.hash_hex,
                frames_received=10_000,
                frames_lost=self.lost.get(s, 0),
            )
            for s in session_ids
            if s in known
        ]

    def laps(self, session_ids: Sequence[int]) -> list[StoredLap]:
        wanted = set(session_ids)
        return [lap for lap in self.fleet.stored_laps() if lap.session_id in wanted]

    def windows(self, laps: Sequence[LapKey], window_ms: int, columns: Sequence[str]) -> WindowRows:
        self.window_reads.append(list(laps))
        rows = self.fleet.rows(window_ms)
        return {(k.session_id, k.lap): rows.get((k.session_id, k.lap), []) for k in laps}

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
