"""Training data from the archive: ``ArchiveSource``, the ``TrainingSource`` of the session archive.

Training reads what it learns from here by default (TRAINING_SOURCE=archive): sessions, their track,
catalog and frame loss from gold ``session_quality``, lap labels from gold ``laps`` (one DuckDB
query across every archived session), and each lap's windows recomputed from its silver frames
exactly as the stream job computed the windows it stored, so features from the archive equal features
from Cassandra (``CassandraSource``)::

    from p424.archive import ArchiveStore
    from p424.archive.training import ArchiveSource
    from p424.ml.pipeline import extract
    from p424.ml.settings import TrainingSettings

    with ArchiveSource.from_store(ArchiveStore.from_config()) as source:
        extracted = extract(TrainingSettings.from_config(cfg), source)

A session is in the archive once the ``p424_archive`` DAG has written it (ARCHIVE_CLOSED_AFTER_S after it
went silent), so training sees closed sessions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self

from p424.archive.reader import ArchiveReader
from p424.archive.store import ArchiveStore
from p424.ml.source import SessionFacts, StoredLap, WindowRows
from p424.storage.reader import LapKey

READERS = 4  # laps read concurrently (object-store latency, not CPU, bounds this)


def _in(ids: Sequence[int]) -> tuple[str, list[object]]:
    return f"WHERE session_id IN ({', '.join('?' for _ in ids)})", list(ids)


class ArchiveSource:
    """Training's data from the archive's gold and silver layers (see the module docstring)."""

    def __init__(self, reader: ArchiveReader) -> None:
        self.reader = reader

    @classmethod
    def from_store(cls, store: ArchiveStore) -> ArchiveSource:
        return cls(ArchiveReader(store))

    @property
    def description(self) -> str:
        return f"session archive {self.reader.store.url('')}"

    def session_ids(self) -> list[int]:
        return self.reader.session_ids()

    def _archived(self, session_ids: Sequence[int]) -> list[int]:
        """The sessions asked for that the archive holds (others have nothing to give yet)."""
        return sorted({int(s) for s in session_ids} & set(self.reader.session_ids()))

    def sessions(self, session_ids: Sequence[int]) -> list[SessionFacts]:
        ids = self._archived(session_ids)
        if not ids:
            return []
        rows = self.reader.gold_all("session_quality", *_in(ids)).to_pylist()
        return [
            SessionFacts(
                session_id=int(r["session_id"]),
                track=r.get("track_name"),
                catalog_hash=r.get("catalog_hash"),
                frames_received=int(r.get("frames_received") or 0),
                frames_lost=int(r.get("frames_lost") or 0),
            )
            for r in rows
        ]

    def laps(self, session_ids: Sequence[int]) -> list[StoredLap]:
        ids = self._archived(session_ids)
        if not ids:
            return []
        rows = self.reader.gold_all("laps", *_in(ids)).to_pylist()
        return sorted((StoredLap.from_row(r) for r in rows), key=lambda lap: (lap.session_id, lap.lap))

    def windows(self, laps: Sequence[LapKey], window_ms: int, columns: Sequence[str]) -> WindowRows:
        """Each lap's windows as Cassandra holds them: time order, windows without frames left out."""
        keys = list(dict.fromkeys((int(k.session_id), int(k.lap)) for k in laps))

        def one(key: tuple[int, int]) -> list[dict[str, Any]]:
            rows = self.reader.windows(key[0], key[1], window_ms, list(columns))
            return [r for r in rows if r["frame_count"]]

        with ThreadPoolExecutor(max_workers=READERS) as pool:
            return dict(zip(keys, pool.map(one, keys), strict=True))

    def close(self) -> None:
        """Nothing held open: every read opens and closes its own objects."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
