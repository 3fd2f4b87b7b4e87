"""One session's hot-store rows -> the archive's Parquet objects (pure: rows in, bytes out).

Bronze keeps every stored frame as received (the protocol-v1 datagram, with its header fields as
columns). Silver decodes them into the current catalog's channels (SI units, as the catalog
states them) and cuts them into the stream's laps: per lap, every frame on the session clock
(``time.parquet``) and the lap resampled every ``PROFILE_STEP_M`` metres (``distance.parquet``),
with quality flags. Gold holds the analysis-ready tables: lap summaries, session quality and the
live model's predictions.

Laps are the stream job's: a frame belongs to the lap the ``laps`` table says was running at its
session time. Late frames (behind the session's watermark when they arrived: stored raw, left out
of windows and laps) are not marked where raw frames are stored, and their arrival order is gone; when
the session's quality row counted any, they are found from what the stream stored: a smallest
window whose ``frame_count`` is short of the frames stored in its span held late frames, and the
frames left out are those without which ``block_stats`` reproduces the window's stored statistics.
Duplicates never reach storage (the stream drops a repeated sequence number on arrival), so they
exist only as the session's count in ``gold/session_quality``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations, islice
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from p424.archive import parquet
from p424.archive.layout import FORMAT_VERSION, SessionKeys, session_date, track_slug
from p424.catalog import CATALOG, Catalog, Kind
from p424.codec.frame import decode_batch
from p424.processing.windows import block_stats
from p424.storage.schema import LAP_STATS, PROFILE_STEP_M, lap_stat_columns
from p424.storage.window_stats import unpack

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


class ArchiveError(RuntimeError):
    """A session that cannot be archived as it stands (the message says why)."""


@dataclass(frozen=True, kw_only=True)
class SessionData:
    """What the hot store holds of one session, as the archive reads it."""

    session: Mapping[str, Any]  # the ``sessions`` row
    quality: Mapping[str, Any] | None  # the ``session_quality`` row
    laps: Sequence[Mapping[str, Any]]  # ``laps`` rows
    seqs: Sequence[int]  # unwrapped sequence numbers (the key of a frame in frame_blocks and frames), ascending
    frames: Sequence[bytes]  # the datagrams, in the order of ``seqs``
    predictions: Sequence[Mapping[str, Any]] = ()  # ``predictions`` rows
    # The smallest windows (window index -> (lap, frame_count, stats blob) rows), read only when the
    # session counted late frames: they tell which frames the stream left out.
    windows: Mapping[int, Sequence[tuple[int, int, bytes]]] | None = None

    @property
    def session_id(self) -> int:
        return int(self.session["session_id"])


@dataclass(frozen=True, kw_only=True)
class Frames:
    """Decoded frames in sequence order; ``values`` in the current catalog's payload order, NaN absent."""

    seq: I64
    car_id: I64
    sim_time: F64
    lap_distance: F64
    header_lap: I64
    markers: I64
    catalog_hash: npt.NDArray[np.uint32]
    values: F32


@dataclass(frozen=True, kw_only=True)
class Built:
    """The objects of one archived session, keyed by archive key, plus what they hold."""

    keys: SessionKeys
    objects: dict[str, bytes]
    frames: int
    laps: list[int]
    late: int
    frames_sha256: str
    catalogs: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- decoding
def decode_frames(frames: Sequence[bytes], seqs: Sequence[int], catalog: Catalog = CATALOG) -> Frames:
    """Every datagram through the protocol codec (frames of any registered catalog version)."""
    try:
        batch = decode_batch(frames, catalog)
    except ValueError as err:
        raise ArchiveError(f"a stored frame does not decode: {err}") from err
    h = batch.headers
    return Frames(
        seq=np.asarray(seqs, dtype=np.int64),
        car_id=h["car_id"].astype(np.int64),
        sim_time=h["sim_time"].astype(np.float64),
        lap_distance=h["lap_distance"].astype(np.float64),
        header_lap=h["lap"].astype(np.int64),
        markers=h["markers"].astype(np.int64),
        catalog_hash=h["catalog_hash"].astype(np.uint32),
        values=batch.values,
    )


def frames_digest(frames: Sequence[bytes]) -> str:
    """SHA-256 of the datagrams in sequence order: their lengths (uint32 LE, one after another),
    then their bytes concatenated."""
    h = hashlib.sha256(np.fromiter((len(f) for f in frames), dtype="<u4", count=len(frames)).tobytes())
    h.update(b"".join(frames))
    return h.hexdigest()


def _binary_column(frames: Sequence[bytes]) -> pa.Array:
    """The datagrams as one Arrow binary array over a single joined buffer (no per-frame objects)."""
    lengths = np.fromiter((len(f) for f in frames), dtype=np.int32, count=len(frames))
    offsets = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64))).astype(np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(frames))]
    return pa.Array.from_buffers(pa.binary(), len(frames), buffers)


def _hex_column(hashes: npt.NDArray[np.uint32]) -> pa.Array:
    unique, inverse = np.unique(hashes, return_inverse=True)
    return pa.array([f"{int(h):08x}" for h in unique], type=pa.string()).take(pa.array(inverse))


MAX_CANDIDATES = 5000  # exclusion sets tried per window before giving up on identifying its late frames


def late_flags(f: Frames, data: SessionData, smallest_ms: int, catalog: Catalog = CATALOG) -> tuple[B, int]:
    """Which stored frames (sequence order) the stream left out as late, and how many of them could
    not be told apart by the stored statistics (then the highest sequence numbers are taken, and
    any of the equally matching choices gives the same windows)."""
    late = np.zeros(len(f.seq), dtype=np.bool_)
    if data.windows is None or not int((data.quality or {}).get("frames_late") or 0):
        return late, 0
    index = np.floor(f.sim_time * 1000 / smallest_ms).astype(np.int64)
    order = np.lexsort((f.seq, f.sim_time))
    unresolved = 0
    sorted_index = index[order]
    for idx in np.unique(sorted_index):
        rows = sorted(data.windows.get(int(idx), ()), key=lambda r: r[0])
        members = order[sorted_index == idx]  # this window's frames, in session-time order
        missing = len(members) - sum(count for _, count, _ in rows)
        if missing <= 0:
            continue
        found = _left_out(members, missing, rows, f, catalog)
        if found is None:
            unresolved += missing
            found = members[np.argsort(f.seq[members])[-missing:]]
        late[found] = True
    return late, unresolved


def _left_out(
    members: I64, missing: int, rows: Sequence[tuple[int, int, bytes]], f: Frames, catalog: Catalog
) -> I64 | None:
    """The ``missing`` frames of one window whose removal reproduces its stored rows' statistics."""
    stored = [(count, unpack(blob, catalog)) for _, count, blob in rows]
    for drop in islice(combinations(range(len(members)), missing), MAX_CANDIDATES):
        keep = np.delete(members, list(drop))
        start, ok = 0, True
        for count, matrix in stored:
            part = keep[start : start + count]
            start += count
            st = block_stats(0, 0, 0, f.values[part], f.sim_time[part], 0.0, f.lap_distance[part])
            got = np.vstack((st.mins, st.maxs, st.means, st.lasts))
            if not np.array_equal(got, matrix, equal_nan=True):
                ok = False
                break
        if ok:
            return members[list(drop)]
    return None


def _first_lap_number(header_lap: int) -> int:
    """The number the stream gives a session's first lap (``SessionProcessor._aggregate``)."""
    return 1 if header_lap <= 0 else header_lap


def _next_lap_number(header_lap: int, previous_header_lap: int, previous: int) -> int:
    """The number the stream gives the lap after ``previous`` (``SessionProcessor._aggregate``)."""
    return header_lap if header_lap > previous_header_lap else previous + 1


@dataclass(frozen=True, kw_only=True)
class LapSpans:
    """Each frame's lap (in session-time order) and each lap's start on the session clock."""

    order: I64  # indices into the sequence-ordered frames, in (sim_time, seq) order
    lap: I64  # lap number per frame, in ``order``
    starts: dict[int, float]


def assign_laps(f: Frames, late: B, laps: Sequence[Mapping[str, Any]]) -> LapSpans:
    """The stream's lap of every frame, from the ``laps`` rows.

    A frame belongs to the lap with the latest start at or before its session time. Frames the
    lap rows do not count (a stint ends with the crossing that closes its last lap: that frame
    opens a lap with no row) form the next lap, numbered as the stream numbers it.
    """
    order = np.lexsort((f.seq, f.sim_time)).astype(np.int64)
    t = f.sim_time[order]
    on_time = ~late[order]
    rows = sorted(laps, key=lambda r: int(r["lap"]))
    if not rows:
        first = int(np.flatnonzero(on_time)[0]) if on_time.any() else 0
        number = _first_lap_number(int(f.header_lap[order[first]]))
        return LapSpans(order=order, lap=np.full(len(t), number, dtype=np.int64), starts={number: float(t[first])})
    starts = np.array([float(r["start_sim_time"]) for r in rows])
    numbers = np.array([int(r["lap"]) for r in rows], dtype=np.int64)
    lap = numbers[np.clip(np.searchsorted(starts, t, side="right") - 1, 0, None)]
    spans = {int(n): float(s) for n, s in zip(numbers, starts, strict=True)}
    counted = sum(int(r.get("frames") or 0) for r in rows)
    extra = int(on_time.sum()) - counted
    if extra > 0:
        # The last `extra` on-time frames open the lap after the last row.
        on_idx = np.flatnonzero(on_time)
        first_extra = int(on_idx[-extra])
        last_row_first = int(np.flatnonzero(on_time & (lap == numbers[-1]))[0])
        number = _next_lap_number(
            int(f.header_lap[order[first_extra]]), int(f.header_lap[order[last_row_first]]), int(numbers[-1])
        )
        lap[first_extra:] = number
        spans[number] = float(t[first_extra])
    return LapSpans(order=order, lap=lap, starts=spans)


# ------------------------------------------------------------------------------------------- schemas
def _channel_fields(catalog: Catalog) -> list[pa.Field]:
    return [parquet.field(c.name, pa.float32(), c.unit) for c in catalog.payload_channels]


def bronze_schema() -> pa.Schema:
    return pa.schema(
        [
            parquet.field("session_id", pa.int64(), nullable=False),
            parquet.field("seq", pa.int64(), nullable=False),
            parquet.field("car_id", pa.int32(), nullable=False),
            parquet.field("sim_time", pa.float64(), "s", nullable=False),
            parquet.field("lap", pa.int32(), nullable=False),
            parquet.field("lap_distance", pa.float64(), "m", nullable=False),
            parquet.field("markers", pa.int64(), nullable=False),
            parquet.field("catalog_hash", pa.string(), nullable=False),
            parquet.field("frame", pa.binary(), nullable=False),
        ]
    )


def silver_time_schema(catalog: Catalog = CATALOG) -> pa.Schema:
    return pa.schema(
        [
            parquet.field("session_id", pa.int64(), nullable=False),
            parquet.field("lap", pa.int32(), nullable=False),
            parquet.field("seq", pa.int64(), nullable=False),
            parquet.field("sim_time", pa.float64(), "s", nullable=False),
            parquet.field("lap_time", pa.float64(), "s", nullable=False),
            parquet.field("lap_distance", pa.float64(), "m", nullable=False),
            parquet.field("header_lap", pa.int32(), nullable=False),
            parquet.field("markers", pa.int64(), nullable=False),
            parquet.field("late", pa.bool_(), nullable=False),
            parquet.field("gap_before", pa.int64(), nullable=False),
            *_channel_fields(catalog),
        ]
    )


def silver_distance_schema(catalog: Catalog = CATALOG) -> pa.Schema:
    return pa.schema(
        [
            parquet.field("session_id", pa.int64(), nullable=False),
            parquet.field("lap", pa.int32(), nullable=False),
            parquet.field("distance", pa.int32(), "m", nullable=False),
            parquet.field("elapsed", pa.float64(), "s", nullable=False),
            parquet.field("sim_time", pa.float64(), "s", nullable=False),
            *_channel_fields(catalog),
        ]
    )


_TS = pa.timestamp("ms", tz="UTC")
_SESSION_COLUMNS = [
    parquet.field("session_id", pa.int64(), nullable=False),
    parquet.field("track", pa.string(), nullable=False),  # slug, as in the keys
    parquet.field("track_name", pa.string()),
    parquet.field("date", pa.string(), nullable=False),
]


def laps_schema(catalog: Catalog = CATALOG) -> pa.Schema:
    units = {c.name: c.unit for c in catalog.payload_channels}
    return pa.schema(
        [
            *_SESSION_COLUMNS,
            parquet.field("lap", pa.int32(), nullable=False),
            parquet.field("car_id", pa.int32()),
            parquet.field("start_sim_time", pa.float64(), "s"),
            parquet.field("end_sim_time", pa.float64(), "s"),
            parquet.field("start_ts", _TS),
            parquet.field("lap_time", pa.float64(), "s"),
            parquet.field("distance", pa.float64(), "m"),
            parquet.field("frames", pa.int32()),
            parquet.field("complete", pa.bool_()),
            parquet.field("invalidated", pa.bool_()),
            parquet.field("max_speed", pa.float64(), units.get("speed", "")),
            parquet.field("mean_speed", pa.float64(), units.get("speed", "")),
            parquet.field("energy_drawn_kwh", pa.float64(), "kWh"),
            parquet.field("energy_regen_kwh", pa.float64(), "kWh"),
            parquet.field("energy_net_kwh", pa.float64(), "kWh"),
            parquet.field("sector_times", pa.list_(pa.float64()), "s"),
            *(
                parquet.field(col, pa.float32(), units[col.rsplit("_", 1)[0]])
                for col in lap_stat_columns(catalog)
                if col.rsplit("_", 1)[1] in LAP_STATS
            ),
        ]
    )


def quality_schema() -> pa.Schema:
    counts = (
        "frames",  # the stream's unique frames (sessions.frames)
        "laps",
        "frames_received",
        "frames_lost",
        "frames_duplicated",
        "frames_late",
        "frames_out_of_order",
        "first_seq",
        "last_seq",
        "frames_archived",  # rows in bronze
        "frames_late_archived",  # frames flagged late in silver
        "frames_late_unresolved",  # of those, frames the stored window statistics could not single out
        "gaps",  # runs of missing sequence numbers in the stored frames
        "frames_missing",  # sequence numbers missing between the first and the last stored frame
    )
    return pa.schema(
        [
            *_SESSION_COLUMNS,
            parquet.field("car_id", pa.int32()),
            parquet.field("source", pa.string()),
            parquet.field("description", pa.string()),
            parquet.field("catalog_hash", pa.string()),
            parquet.field("started_at", _TS),
            parquet.field("last_frame_at", _TS),
            parquet.field("first_sim_time", pa.float64(), "s"),
            parquet.field("last_sim_time", pa.float64(), "s"),
            *(parquet.field(c, pa.int64()) for c in counts),
        ]
    )


def predictions_schema() -> pa.Schema:
    return pa.schema(
        [
            *_SESSION_COLUMNS,
            parquet.field("lap", pa.int32(), nullable=False),
            parquet.field("ts", _TS, nullable=False),
            parquet.field("car_id", pa.int32()),
            parquet.field("window_start", pa.float64(), "s"),
            parquet.field("lap_distance", pa.float64(), "m"),
            parquet.field("lap_time_so_far", pa.float64(), "s"),
            parquet.field("energy_so_far_kwh", pa.float64(), "kWh"),
            parquet.field("predicted_lap_time", pa.float64(), "s"),
            parquet.field("predicted_energy_kwh", pa.float64(), "kWh"),
            parquet.field("baseline_lap_time", pa.float64(), "s"),
            parquet.field("baseline_energy_kwh", pa.float64(), "kWh"),
            parquet.field("model_name", pa.string()),
            parquet.field("model_version", pa.string()),
            parquet.field("latency_ms", pa.float64(), "ms"),
        ]
    )


def record_schema() -> pa.Schema:
    return pa.schema(
        [
            *_SESSION_COLUMNS,
            parquet.field("car_id", pa.int32()),
            parquet.field("started_at", _TS),
            parquet.field("last_frame_at", _TS),
            parquet.field("frames", pa.int64(), nullable=False),
            parquet.field("laps", pa.list_(pa.int32()), nullable=False),
            parquet.field("archive_format", pa.int32(), nullable=False),
            parquet.field("catalog", pa.string(), nullable=False),  # the catalog silver's channels follow
            parquet.field("source_catalogs", pa.list_(pa.string()), nullable=False),
            parquet.field("frames_sha256", pa.string(), nullable=False),
            parquet.field("objects", pa.list_(pa.string()), nullable=False),  # every other key of the session
        ]
    )


# ------------------------------------------------------------------------------------------- tables
def _column(values: npt.NDArray[Any], kind: pa.DataType) -> pa.Array:
    """A numpy column as Arrow; NaN of a float column becomes null (an absent channel)."""
    if pa.types.is_floating(kind):
        return pa.array(values, type=kind, mask=np.isnan(values))
    return pa.array(values, type=kind)


def _table(schema: pa.Schema, columns: Mapping[str, Any]) -> pa.Table:
    arrays = []
    for f in schema:
        v = columns[f.name]
        if isinstance(v, pa.Array):
            arrays.append(v)
        else:
            arrays.append(_column(v, f.type) if isinstance(v, np.ndarray) else pa.array(v, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _rows_table(schema: pa.Schema, rows: Sequence[Mapping[str, Any]], common: Mapping[str, Any]) -> pa.Table:
    """Dict rows (Cassandra's) as a table of ``schema``; columns a row lacks are null, NaN is null."""
    arrays = []
    for f in schema:
        values = [common[f.name]] * len(rows) if f.name in common else [r.get(f.name) for r in rows]
        arrays.append(pa.array(values, type=f.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def _catalog_name(catalog_hash: int, catalog: Catalog) -> str:
    known = catalog.known(catalog_hash)
    return f"{known.version if known else 'unknown'}-{catalog_hash:08x}"


def silver_distance(
    *,
    lap_start: float,
    sim_times: F64,
    lap_distances: F64,
    values: F32,
    step: int = PROFILE_STEP_M,
    catalog: Catalog = CATALOG,
) -> dict[str, Any]:
    """A lap resampled every ``step`` metres, as the stream's distance profile samples it.

    The grid starts at the first multiple of ``step`` ahead of the lap's first frame (0 at the
    line); each point lies between the frames where the lap distance first reaches it,
    interpolated linearly for continuous channels (with the stream's arithmetic: the float32
    difference scaled in float64, so the four channels the ``lap_distance_profile`` table keeps
    come out identical) and held from the earlier frame for discrete ones. Input: the lap's
    on-time frames in time order.
    """
    empty: dict[str, Any] = {"distance": np.empty(0, np.int32), "elapsed": np.empty(0), "sim_time": np.empty(0)}
    if len(sim_times) < 2:
        return {**empty, "values": np.empty((0, values.shape[1]), dtype=np.float32)}
    d0 = float(lap_distances[0])
    first = (int(np.floor(d0 / step)) + 1) * step if d0 > 0 else 0
    reach = np.maximum.accumulate(lap_distances)
    grid = np.arange(first, reach[-1] + 1e-9, step, dtype=np.float64) if reach[-1] >= first else np.empty(0)
    grid = grid[grid <= reach[-1]]
    k = np.clip(np.searchsorted(reach, grid, side="left"), 1, len(reach) - 1)
    d_lo, d_hi = lap_distances[k - 1], lap_distances[k]
    span = d_hi - d_lo
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(span > 0, (grid - d_lo) / np.where(span > 0, span, 1.0), 0.0)
    w = np.clip(w, 0.0, 1.0)
    t = sim_times[k - 1] + w * (sim_times[k] - sim_times[k - 1])
    lo, hi = values[k - 1], values[k]
    linear = (lo + w[:, None] * (hi - lo)).astype(np.float32)
    held = np.where(w[:, None] >= 1.0, hi, lo)
    continuous = np.array([c.kind is Kind.CONTINUOUS for c in catalog.payload_channels])
    resampled = np.where(continuous[None, :], linear, held).astype(np.float32)
    return {
        "distance": grid.astype(np.int32),
        "elapsed": t - lap_start,
        "sim_time": t,
        "values": resampled,
    }


def gold_laps(
    rows: Sequence[Mapping[str, Any]],
    common: Mapping[str, Any],
    meta: Mapping[str, Any],
    catalog: Catalog = CATALOG,
) -> bytes:
    """The gold lap table of one session (``common``: session_id, track, track_name, date)."""
    laps = sorted(rows, key=lambda r: int(r["lap"]))
    return parquet.to_bytes(_rows_table(laps_schema(catalog), laps, common), {**meta, "layer": "gold", "table": "laps"})


def build_session(data: SessionData, smallest_ms: int = 100, catalog: Catalog = CATALOG) -> Built:
    """Every object of the session's archive; the same rows always give the same bytes.

    ``smallest_ms``: the stream's smallest window (``WINDOW_SIZES_MS``), whose stored rows
    ``data.windows`` are."""
    sid = data.session_id
    if not data.frames:
        raise ArchiveError(f"session {sid} has no stored frames (expired from Cassandra, or never written)")
    if len(data.frames) != len(data.seqs):
        raise ArchiveError(f"session {sid}: {len(data.frames)} frames but {len(data.seqs)} sequence numbers")
    received = int((data.quality or {}).get("frames_received") or 0)
    if len(data.frames) < received:
        raise ArchiveError(
            f"session {sid}: Cassandra holds {len(data.frames)} frames, the stream counted {received} "
            "(still being written, or partly expired): not archived"
        )
    info = data.session
    keys = SessionKeys(session_id=sid, track=track_slug(info.get("track")), date=session_date(info.get("started_at")))
    common = {"session_id": sid, "track": keys.track, "track_name": info.get("track"), "date": keys.date}
    f = decode_frames(data.frames, data.seqs, catalog)
    late, unresolved = late_flags(f, data, smallest_ms, catalog)
    spans = assign_laps(f, late, data.laps)
    digest = frames_digest(data.frames)
    sources = sorted({int(h) for h in np.unique(f.catalog_hash)})
    source_names = [_catalog_name(h, catalog) for h in sources]
    meta = {
        "archive_format": FORMAT_VERSION,
        "session_id": sid,
        "catalog": f"{catalog.version}-{catalog.hash_hex}",
        "source_catalogs": source_names,
        "frames_sha256": digest,
    }
    objects: dict[str, bytes] = {}

    # bronze: every frame as received, in sequence order
    bronze = _table(
        bronze_schema(),
        {
            "session_id": np.full(len(f.seq), sid, dtype=np.int64),
            "seq": f.seq,
            "car_id": f.car_id,
            "sim_time": f.sim_time,
            "lap": f.header_lap,
            "lap_distance": f.lap_distance,
            "markers": f.markers,
            "catalog_hash": _hex_column(f.catalog_hash),
            "frame": _binary_column(data.frames),
        },
    )
    objects[keys.bronze] = parquet.to_bytes(bronze, {**meta, "layer": "bronze"})

    # silver: per lap, frames on the session clock and the lap every PROFILE_STEP_M metres
    gap = np.zeros(len(f.seq), dtype=np.int64)
    gap[1:] = np.maximum(np.diff(f.seq) - 1, 0)
    o = spans.order
    laps_seen = [int(n) for n in dict.fromkeys(spans.lap.tolist())]
    for number in sorted(laps_seen):
        sel = o[spans.lap == number]
        start = spans.starts[number]
        time_cols: dict[str, Any] = {
            "session_id": np.full(len(sel), sid, dtype=np.int64),
            "lap": np.full(len(sel), number, dtype=np.int32),
            "seq": f.seq[sel],
            "sim_time": f.sim_time[sel],
            "lap_time": f.sim_time[sel] - start,
            "lap_distance": f.lap_distance[sel],
            "header_lap": f.header_lap[sel],
            "markers": f.markers[sel],
            "late": late[sel],
            "gap_before": gap[sel],
        }
        for i, c in enumerate(catalog.payload_channels):
            time_cols[c.name] = f.values[sel, i]
        lap_meta = {**meta, "lap": number, "lap_start_sim_time": start}
        objects[keys.silver_time(number)] = parquet.to_bytes(
            _table(silver_time_schema(catalog), time_cols), {**lap_meta, "layer": "silver", "axis": "time"}
        )
        on_time = sel[~late[sel]]
        dist = silver_distance(
            catalog=catalog,
            lap_start=start,
            sim_times=f.sim_time[on_time],
            lap_distances=f.lap_distance[on_time],
            values=f.values[on_time],
        )
        n = len(dist["distance"])
        dist_cols: dict[str, Any] = {
            "session_id": np.full(n, sid, dtype=np.int64),
            "lap": np.full(n, number, dtype=np.int32),
            "distance": dist["distance"],
            "elapsed": dist["elapsed"],
            "sim_time": dist["sim_time"],
        }
        for i, c in enumerate(catalog.payload_channels):
            dist_cols[c.name] = dist["values"][:, i]
        objects[keys.silver_distance(number)] = parquet.to_bytes(
            _table(silver_distance_schema(catalog), dist_cols),
            {**lap_meta, "layer": "silver", "axis": "distance", "step_m": PROFILE_STEP_M},
        )

    # gold: lap summaries, session quality, predictions
    objects[keys.gold("laps")] = gold_laps(data.laps, common, meta, catalog)
    q = dict(data.quality or {})
    quality_row = {
        **{k: info.get(k) for k in ("car_id", "source", "description", "catalog_hash", "started_at")},
        **{k: info.get(k) for k in ("last_frame_at", "first_sim_time", "last_sim_time", "frames", "laps")},
        **{k: q.get(k) for k in ("frames_received", "frames_lost", "frames_duplicated", "frames_late")},
        **{k: q.get(k) for k in ("frames_out_of_order", "first_seq", "last_seq")},
        "frames_archived": len(f.seq),
        "frames_late_archived": int(late.sum()),
        "frames_late_unresolved": unresolved,
        "gaps": int((gap > 0).sum()),
        "frames_missing": int(gap.sum()),
    }
    objects[keys.gold("session_quality")] = parquet.to_bytes(
        _rows_table(quality_schema(), [quality_row], common), {**meta, "layer": "gold", "table": "session_quality"}
    )
    predictions = sorted(data.predictions, key=lambda r: (int(r["lap"]), r["ts"]))
    objects[keys.gold("predictions")] = parquet.to_bytes(
        _rows_table(predictions_schema(), predictions, common), {**meta, "layer": "gold", "table": "predictions"}
    )

    # the record, last: what the session's archive holds
    record = {
        "car_id": info.get("car_id"),
        "started_at": info.get("started_at"),
        "last_frame_at": info.get("last_frame_at"),
        "frames": len(f.seq),
        "laps": sorted(laps_seen),
        "archive_format": FORMAT_VERSION,
        "catalog": meta["catalog"],
        "source_catalogs": source_names,
        "frames_sha256": digest,
        "objects": sorted(objects),
    }
    objects[keys.record] = parquet.to_bytes(
        _rows_table(record_schema(), [record], common), {**meta, "layer": "gold", "table": "sessions"}
    )
    return Built(
        keys=keys,
        objects=objects,
        frames=len(f.seq),
        laps=sorted(laps_seen),
        late=int(late.sum()),
        frames_sha256=digest,
        catalogs=source_names,
    )
