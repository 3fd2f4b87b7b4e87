"""A session processed by the stream's own SessionProcessor, as the rows Cassandra would hold.

Tests of the archive start from these rows: the frames, windows, laps and profile points the
stream job writes (built by ``SessionProcessor`` from the frames, stored through
``p424.storage.writes``' table definitions: the very column lists and parameter tuples the sink
binds), read back as the driver returns them (timestamps as naive UTC datetimes, NaN as null).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from p424.archive.build import SessionData
from p424.codec.frame import FrameEncoder
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor
from p424.sim import CarSimulator
from p424.storage import writes
from unity_bridge.lapfile import lap_frames, read_lap_file

EPOCH = datetime(1970, 1, 1)
TIMESTAMPS = ("start_ts", "started_at", "last_frame_at", "updated_at", "ts")
T0_MS = 1_790_000_000_000  # the bridge's receive time of the first frame


def simulated_frames(session_id: int, laps: int, rate_hz: float = 20.0, car_id: int = 7, seed: int = 3) -> list[bytes]:
    """A simulated stint as datagrams, the channels the simulator fills present (the rest absent)."""
    samples = list(CarSimulator(car_id, session_id, seed=seed, rate_hz=rate_hz, laps=laps).samples())
    encoder = FrameEncoder(~np.isnan(samples[0][1]))
    return [encoder.encode(h, v) for h, v in samples]


def replayed_frames(csv: Path, session_id: int, laps: int, car_id: int = 7) -> list[bytes]:
    """A real lap file replayed as a stint (it ends with the crossing that closes its last lap)."""
    samples = list(lap_frames(read_lap_file(csv), laps, car_id, session_id))
    encoder = FrameEncoder(~np.isnan(samples[0][1]))
    return [encoder.encode(h, v) for h, v in samples]


def as_row(table: Any, record: Any, stamped: bool = False) -> dict[str, Any]:
    params = table.params(record, 0) if stamped else table.params(record)
    row = dict(zip(table.columns, params, strict=True))
    for k in TIMESTAMPS:
        if isinstance(row.get(k), int):
            row[k] = EPOCH + timedelta(milliseconds=row[k])
    return row


@dataclass
class Processed:
    session_id: int
    frames: list[bytes]  # as sent
    out: Outputs

    def data(self, track: str = "Nordschleife (simulated)", with_windows: bool = True) -> SessionData:
        t = writes.TABLES
        stored = {f.seq: f.frame for f in self.out.frames}
        laps = {lap.lap: as_row(t.lap, lap) for lap in self.out.laps}  # later rows overwrite provisional ones
        windows: dict[int, dict[tuple[int, int], tuple[int, int, bytes]]] = {}
        for w in self.out.windows:
            if w.window_ms == 100:
                row = as_row(t.window, w)
                windows.setdefault(round(w.window_start * 10), {})[(w.lap, w.ts_ms)] = (
                    w.lap,
                    w.frame_count,
                    row["stats"],
                )
        return SessionData(
            session={**as_row(t.session, self.out.sessions[-1], stamped=True), "track": track},
            quality=as_row(t.quality, self.out.quality[-1], stamped=True),
            laps=list(laps.values()),
            seqs=sorted(stored),
            frames=[stored[s] for s in sorted(stored)],
            windows={i: list(v.values()) for i, v in windows.items()} if with_windows else None,
        )

    def windows(self, window_ms: int) -> dict[tuple[int, int], Any]:
        """(lap, ts_ms) -> the last WindowRow the stream emitted under that key (what Cassandra keeps)."""
        return {(w.lap, w.ts_ms): w for w in self.out.windows if w.window_ms == window_ms}


def process(session_id: int, frames: Sequence[bytes], arrival: Sequence[int] | None = None) -> Processed:
    """Run the stream's processor over ``frames`` (in ``arrival`` order, 20 ms apart), then its idle flush."""
    proc = SessionProcessor(session_id, 7)
    out = Outputs()
    for k, i in enumerate(arrival if arrival is not None else range(len(frames))):
        out.extend(proc.on_frame(frames[i], T0_MS + 20 * k))
    out.extend(proc.flush())
    return Processed(session_id, list(frames), out)
