"""Training data from the archive: what ``p424.ml.dataset`` reads from Cassandra, read from gold and silver.

The training pipeline's dataset is lap labels (gold ``laps``) plus each qualifying lap's 1 s
windows, turned into lap-so-far feature rows by ``p424.ml.dataset.assemble``. Here the labels come
from every archived session's gold lap table (one DuckDB query) and the windows are recomputed
from the lap's silver frames exactly as the stream job computed the windows it stored, so features
from the archive equal features from Cassandra::

    from p424.archive import ArchiveReader, ArchiveStore
    from p424.archive.training import lossy_sessions, read_training_laps, read_training_windows
    from p424.ml import dataset

    reader = ArchiveReader(ArchiveStore.from_config())
    rows = read_training_laps(reader)                          # or read_training_laps(reader, session_ids)
    excluded = lossy_sessions(reader, {r["session_id"] for r in rows}, max_loss_ratio=0.01)
    selection = dataset.select_laps(rows, exclude=excluded)
    windows = read_training_windows(reader, selection.laps, window_ms=1000)
    df = dataset.assemble(selection.laps, windows)             # the same frame as from Cassandra
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from p424.archive.reader import ArchiveReader
from p424.ml.dataset import LapLabel
from p424.ml.features import SPEC, FeatureSpec

LAP_COLUMNS = ("session_id", "lap", "car_id", "lap_time", "distance", "complete", "invalidated", "energy_net_kwh")
READERS = 4  # laps read concurrently (object-store latency, not CPU, bounds this)


def read_training_laps(reader: ArchiveReader, session_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Lap rows of the archived sessions (all of them when ``session_ids`` is None), with the columns
    ``dataset.select_laps`` reads, in (session, lap) order."""
    ids = sorted({int(s) for s in session_ids}) if session_ids is not None else None
    if ids is not None and not ids:
        return []
    where = f"WHERE session_id IN ({', '.join('?' for _ in ids)})" if ids else ""
    table = reader.gold_all("laps", where, ids or ())
    rows = table.select(list(LAP_COLUMNS)).to_pylist()
    return sorted(rows, key=lambda r: (int(r["session_id"]), int(r["lap"])))


def lossy_sessions(reader: ArchiveReader, session_ids: Iterable[int], max_loss_ratio: float) -> set[int]:
    """Sessions whose frame loss (lost / (received + lost)) exceeds ``max_loss_ratio`` (gold quality)."""
    ids = sorted({int(s) for s in session_ids})
    if not ids:
        return set()
    where = f"WHERE session_id IN ({', '.join('?' for _ in ids)})"
    out: set[int] = set()
    for r in reader.gold_all("session_quality", where, ids).to_pylist():
        received, lost = int(r["frames_received"] or 0), int(r["frames_lost"] or 0)
        if received + lost and lost / (received + lost) > max_loss_ratio:
            out.add(int(r["session_id"]))
    return out


def read_training_windows(
    reader: ArchiveReader, laps: Sequence[LapLabel], window_ms: int = 1000, spec: FeatureSpec = SPEC
) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """Each lap's windows as ``dataset.read_windows`` returns them from Cassandra: time order, the
    feature spec's ``<channel>_<stat>`` columns, windows without frames left out."""
    wanted = spec.window_columns()

    def one(lap: LapLabel) -> list[dict[str, Any]]:
        rows = reader.windows(lap.session_id, lap.lap, window_ms, wanted)
        return [r for r in rows if r["frame_count"]]

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        found = list(pool.map(one, laps))
    return {(lap.session_id, lap.lap): rows for lap, rows in zip(laps, found, strict=True)}
