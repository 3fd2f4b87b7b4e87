"""Simulated cars run through the real session processor (``p424.processing``) in memory, for the ML tests.

The windows and laps are exactly what Flink stores and publishes, without Kafka or Cassandra;
``FleetSource`` serves them through the training-source protocol (``p424.ml.source``) with the
columns Cassandra returns, so the dataset step runs on them unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder
from p424.ml.features import SPEC
from p424.ml.source import SessionFacts, StoredLap, WindowRows
from p424.processing.outputs import LapRow, Outputs, QualityRow, SessionRow, WindowRow
from p424.processing.session import ProcessingSettings, SessionProcessor
from p424.sim import CarSimulator, driver_pace
from p424.storage import window_stats, writes
from p424.storage.reader import LapKey

T0_MS = 1_790_000_000_000
RATE_HZ = 5.0
FIRST_SESSION = 9001


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


def process(cars: int, laps: int, seed: int = 3, first_session: int = FIRST_SESSION) -> Processed:
    """``cars`` simulated cars of ``laps`` laps each, all leaving the line at ``T0_MS``."""
    out = Processed([], [])
    for car in range(1, cars + 1):
        sid = first_session + car - 1
        sim = CarSimulator(car, sid, seed=seed, pace=driver_pace(seed, car), rate_hz=RATE_HZ, laps=laps)
        proc = SessionProcessor(sid, car, ProcessingSettings((100, 1000)))
        samples = sim.samples()
        first = next(samples)
        # Channels the simulator does not model (NaN) are sent absent, as a replay sends a lap file's missing columns.
        enc = FrameEncoder(present=~np.isnan(first[1]))
        for h, v in itertools.chain([first], samples):
            out.take(proc.on_frame(enc.encode(h, v), T0_MS + round(h.sim_time * 1000)))
        out.take(proc.flush())
    return out


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
