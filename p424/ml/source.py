"""Where training reads its data: one typed interface, ``TrainingSource``, and its Cassandra implementation.

The dataset step asks a source for four things: the stored session ids, each session's facts (track,
catalog, frame loss), the lap summaries of some sessions, and the windows of some laps (``LapKey``:
session, lap and the lap's duration). Lap
summaries come back as ``StoredLap``; windows as rows with Cassandra's ``channel_windows`` columns
(``ts``, ``lap_time``, ``lap_distance``, ``frame_count`` and ``<channel>_<stat>``), which
``p424.ml.features.WindowObs.from_row`` reads. Any store that answers the same (the session
archive's silver/gold tables give lap summaries and per-lap window statistics equal to Cassandra's)
can stand behind the protocol (``p424.archive.training.ArchiveSource``); ``open_source`` picks one from
the settings.

``CassandraSource`` reads through ``p424.storage.reader.TelemetryStore``, the platform's one reader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, Self

from p424.ml.typed import JsonRecord
from p424.storage.reader import LapKey, TelemetryStore

WindowRows = dict[tuple[int, int], list[dict[str, Any]]]


@dataclass(frozen=True, kw_only=True)
class SessionFacts(JsonRecord):
    """What training needs to know of a session besides its laps."""

    session_id: int
    track: str | None  # as stored: None or "" when the sender named none (see p424.ml.tracks.resolve)
    catalog_hash: str | None  # hex, the catalog the session's frames were written with
    frames_received: int
    frames_lost: int

    @property
    def loss_ratio(self) -> float:
        total = self.frames_received + self.frames_lost
        return self.frames_lost / total if total else 0.0


@dataclass(frozen=True, kw_only=True)
class StoredLap(JsonRecord):
    """A lap summary as stored (``laps`` table): the outcome and identity of one lap."""

    session_id: int
    lap: int
    car_id: int
    start_ms: int | None  # session wall clock at the line (epoch ms), orders laps across sessions
    lap_time: float | None
    distance: float | None
    complete: bool
    invalidated: bool
    energy_net_kwh: float | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredLap:
        """From a ``laps`` row (the column names of p424/storage/cql/0001_core.cql)."""
        return cls(
            session_id=int(row["session_id"]),
            lap=int(row["lap"]),
            car_id=int(row.get("car_id") or 0),
            start_ms=_epoch_ms(row.get("start_ts")),
            lap_time=_number(row.get("lap_time")),
            distance=_number(row.get("distance")),
            complete=bool(row.get("complete")),
            invalidated=bool(row.get("invalidated")),
            energy_net_kwh=_number(row.get("energy_net_kwh")),
        )


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _epoch_ms(v: object) -> int | None:
    """The driver returns ``timestamp`` columns as naive UTC datetimes."""
    if isinstance(v, datetime):
        aware = v if v.tzinfo is not None else v.replace(tzinfo=UTC)
        return round(aware.timestamp() * 1000)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return int(v)
    return None


class TrainingSource(Protocol):
    """What the dataset step reads; see the module docstring."""

    @property
    def description(self) -> str:
        """Where the data came from, for the model card (e.g. ``cassandra keyspace telemetry``)."""
        ...

    def session_ids(self) -> list[int]: ...

    def sessions(self, session_ids: Sequence[int]) -> list[SessionFacts]: ...

    def laps(self, session_ids: Sequence[int]) -> list[StoredLap]: ...

    def windows(self, laps: Sequence[LapKey], window_ms: int, columns: Sequence[str]) -> WindowRows:
        """Every window of each lap in time order, keyed by (session id, lap); ``columns`` are the
        ``<channel>_<stat>`` values each row must carry (absent ones may be missing or None)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class CassandraSource:
    """The live store: everything through ``TelemetryStore`` (concurrent partition reads)."""

    def __init__(self, store: TelemetryStore) -> None:
        self.store = store

    @classmethod
    def connect(cls, host: str, port: int, keyspace: str) -> CassandraSource:
        from p424.config import load_config

        cfg = load_config().replace(cassandra_host=host, cassandra_port=port, cassandra_keyspace=keyspace)
        return cls(TelemetryStore(cfg))

    @property
    def description(self) -> str:
        return f"cassandra keyspace {self.store.ks}"

    def session_ids(self) -> list[int]:
        return self.store.session_ids()

    def sessions(self, session_ids: Sequence[int]) -> list[SessionFacts]:
        quality = {int(q["session_id"]): q for q in self.store.quality_of(session_ids)}
        out = []
        for row in self.store.sessions_of(session_ids):
            sid = int(row["session_id"])
            q = quality.get(sid, {})
            out.append(
                SessionFacts(
                    session_id=sid,
                    track=row.get("track"),
                    catalog_hash=row.get("catalog_hash"),
                    frames_received=int(q.get("frames_received") or 0),
                    frames_lost=int(q.get("frames_lost") or 0),
                )
            )
        return out

    def laps(self, session_ids: Sequence[int]) -> list[StoredLap]:
        return [StoredLap.from_row(r) for r in self.store.laps_of(session_ids)]

    def windows(self, laps: Sequence[LapKey], window_ms: int, columns: Sequence[str]) -> WindowRows:
        return self.store.lap_windows(laps, window_ms, columns)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


SOURCES = ("archive", "cassandra")  # TRAINING_SOURCE: the session archive (p424.archive.training) or the hot store


def open_source(
    kind: str, *, cassandra_host: str, cassandra_port: int, keyspace: str, archive_prefix: str = ""
) -> TrainingSource:
    """The training source the settings name (the archive's store from the platform configuration)."""
    if kind == "cassandra":
        return CassandraSource.connect(cassandra_host, cassandra_port, keyspace)
    if kind == "archive":
        from p424.archive.store import ArchiveStore
        from p424.archive.training import ArchiveSource
        from p424.config import load_config

        return ArchiveSource.from_store(ArchiveStore.from_config(load_config(), prefix=archive_prefix))
    raise ValueError(f"unknown training source {kind!r}; known: {', '.join(SOURCES)}")
