"""Where the analysis API reads a session from: Cassandra (the hot store) or the archive.

Both sit behind one protocol, ``SessionData``: the reads the API makes, with the shapes
``p424.storage.reader.TelemetryStore`` gives them. ``TelemetryStore`` is the hot source;
``ArchiveData`` answers the same reads from the archive (``p424.archive``): gold tables for the
session, laps and quality, bronze for the original frames (decoded by the same codec), silver for
distance profiles, and windows recomputed from silver exactly as the stream job computed them.
So a session reads the same whichever store holds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow.compute as pc

from p424.catalog import CATALOG
from p424.config import Config
from p424.storage.reader import LapId, WindowBlock
from p424.storage.schema import WINDOW_STATS

if TYPE_CHECKING:
    from p424.archive.reader import ArchiveReader

SOURCES = ("auto", "cassandra", "archive")
# Gold lap rows carry their session's partition columns; Cassandra's lap rows do not.
ARCHIVE_ONLY_LAP_COLUMNS = ("track", "track_name", "date")
_STAT_FIELDS = {"min": "mins", "max": "maxs", "mean": "means", "last": "lasts"}
_FRAME_COLUMNS = ["seq", "sim_time", "lap", "lap_distance", "markers", "frame"]


class SessionData(Protocol):
    """The reads of the analysis API (``TelemetryStore`` implements it for Cassandra)."""

    cfg: Config

    def session_row(self, session_id: int) -> dict[str, Any] | None: ...

    def quality(self, session_id: int) -> dict[str, Any] | None: ...

    def laps(self, session_id: int) -> list[dict[str, Any]]: ...

    def frames(self, session_id: int, start_sim_time: float, end_sim_time: float) -> Iterable[dict[str, Any]]: ...

    def profiles(
        self, laps: Sequence[LapId], columns: Sequence[str] = ("*",)
    ) -> dict[LapId, list[dict[str, Any]]]: ...

    def window_blocks(
        self, laps: Sequence[LapId], window_ms: int, stats: Sequence[str], channels: Sequence[str]
    ) -> dict[LapId, WindowBlock]: ...


class ArchiveData:
    """``SessionData`` from the archive."""

    def __init__(self, reader: ArchiveReader, cfg: Config) -> None:
        self.reader = reader
        self.cfg = cfg

    def session_row(self, session_id: int) -> dict[str, Any] | None:
        return self.reader.session_row(session_id)

    def quality(self, session_id: int) -> dict[str, Any] | None:
        return self.reader.quality(session_id)

    def laps(self, session_id: int) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in row.items() if k not in ARCHIVE_ONLY_LAP_COLUMNS}
            for row in self.reader.laps(session_id)
        ]

    def frames(self, session_id: int, start_sim_time: float, end_sim_time: float) -> list[dict[str, Any]]:
        """The original datagrams (bronze) whose session time lies in [start, end], in sequence order."""
        table = self.reader.bronze(session_id, _FRAME_COLUMNS)
        t = table.column("sim_time")
        inside = pc.and_(pc.greater_equal(t, start_sim_time), pc.less_equal(t, end_sim_time))
        return list(table.filter(inside).sort_by("seq").to_pylist())

    def profiles(self, laps: Sequence[LapId], columns: Sequence[str] = ("*",)) -> dict[LapId, list[dict[str, Any]]]:
        """Silver's distance table of each lap, as the ``lap_distance_profile`` rows (every 10 m)."""
        out: dict[LapId, list[dict[str, Any]]] = {}
        for sid, lap in dict.fromkeys(laps):
            table = self.reader.lap_distance(sid, lap, None if "*" in columns else list(columns))
            out[(sid, lap)] = table.to_pylist()
        return out

    def window_blocks(
        self, laps: Sequence[LapId], window_ms: int, stats: Sequence[str], channels: Sequence[str]
    ) -> dict[LapId, WindowBlock]:
        """Windows recomputed from silver (``ArchiveReader.lap_window_stats``), as arrays."""
        bad = [s for s in stats if s not in WINDOW_STATS]
        if bad or not stats:
            raise ValueError(f"stats are some of {', '.join(WINDOW_STATS)}, not {', '.join(bad) or 'none'}")
        other = [c for c in channels if c not in CATALOG.payload_index]
        if other:  # silver holds the catalog's channels; maths channels live in the hot store's windows
            raise ValueError(f"not channels of the archive (catalog {CATALOG.version}): {', '.join(other)}")
        idx = np.array([CATALOG.payload_index[c] for c in channels], dtype=np.intp)
        out: dict[LapId, WindowBlock] = {}
        for sid, lap in dict.fromkeys(laps):
            windows = self.reader.lap_window_stats(sid, lap, window_ms)
            started = (self.reader.record(sid) or {}).get("started_at")
            anchor = round((started - datetime(1970, 1, 1)).total_seconds() * 1000) if started else 0
            values = {
                s: np.array([getattr(w, _STAT_FIELDS[s])[idx] for w in windows], dtype=np.float64).reshape(
                    len(windows), len(idx)
                )
                for s in stats
            }
            out[(sid, lap)] = WindowBlock(
                ts_ms=np.array([anchor + w.index * w.window_ms for w in windows], dtype=np.int64),
                window_start=np.array([w.start for w in windows], dtype=np.float64),
                lap_time=np.array([w.last_lap_time for w in windows], dtype=np.float64),
                lap_distance=np.array([w.last_lap_distance for w in windows], dtype=np.float64),
                frame_count=np.array([w.frame_count for w in windows], dtype=np.int64),
                values=values,
            )
        return out
