"""Processing outputs as CQL upserts: statement texts and parameter tuples, derived from the catalog.

Every write is an INSERT of absolute values keyed by the row's primary key, so writing the same
output twice (a replay after a failure) leaves the same row: idempotent by construction. No
counters. ``None`` parameters mean "leave unset" (the sink passes the driver's UNSET_VALUE, so
absent channels create no tombstones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.processing.outputs import FrameRow, LapRow, ProfilePoint, QualityRow, SessionRow, WindowRow
from p424.storage import window_stats
from p424.storage.schema import WINDOW_STATS, frame_bucket, lap_stat_columns, window_stat_columns

Params = tuple[object, ...]


def _insert(keyspace: str, table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {keyspace}.{table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


def _floats(*vectors: npt.NDArray[np.float32]) -> list[float | None]:
    """Interleave per-channel stats (channel-major: a_min, a_max, ..., b_min, ...); NaN -> unset."""
    stacked = np.stack(vectors, axis=1).ravel()
    return [None if np.isnan(v) else float(v) for v in stacked]


@dataclass(frozen=True)
class Statements:
    """CQL of every write, for one keyspace and catalog."""

    keyspace: str
    catalog: Catalog = CATALOG

    @property
    def frame(self) -> str:
        return _insert(
            self.keyspace,
            "frames",
            ["session_id", "bucket", "seq", "sim_time", "lap", "lap_distance", "markers", "frame"],
        )

    @property
    def window_columns(self) -> list[str]:
        """A window row with its stats packed in the blob only."""
        return [
            "session_id",
            "window_ms",
            "lap",
            "part",
            "ts",
            "window_start",
            "lap_time",
            "lap_distance",
            "frame_count",
            window_stats.BLOB_COLUMN,
        ]

    @property
    def window(self) -> str:
        return _insert(self.keyspace, "channel_windows", self.window_columns)

    @property
    def window_with_columns(self) -> str:
        """A window row with the blob and every ``<channel>_<stat>`` column (WINDOW_COLUMNS_MS sizes)."""
        return _insert(self.keyspace, "channel_windows", [*self.window_columns, *window_stat_columns(self.catalog)])

    @property
    def lap(self) -> str:
        cols = [
            "session_id",
            "lap",
            "car_id",
            "start_sim_time",
            "end_sim_time",
            "start_ts",
            "lap_time",
            "distance",
            "frames",
            "complete",
            "invalidated",
            "max_speed",
            "mean_speed",
            "energy_drawn_kwh",
            "energy_regen_kwh",
            "energy_net_kwh",
            "sector_times",
            *lap_stat_columns(self.catalog),
        ]
        return _insert(self.keyspace, "laps", cols)

    @property
    def profile(self) -> str:
        return _insert(
            self.keyspace,
            "lap_distance_profile",
            [
                "session_id",
                "lap",
                "distance",
                "elapsed",
                "speed",
                "throttle",
                "brake_pressure",
                "power_electrical_total",
            ],
        )

    @property
    def quality(self) -> str:
        return _insert(
            self.keyspace,
            "session_quality",
            [
                "session_id",
                "frames_received",
                "frames_lost",
                "frames_duplicated",
                "frames_late",
                "frames_out_of_order",
                "first_seq",
                "last_seq",
                "updated_at",
            ],
        )

    @property
    def session(self) -> str:
        return _insert(
            self.keyspace,
            "sessions",
            [
                "session_id",
                "car_id",
                "catalog_hash",
                "started_at",
                "last_frame_at",
                "first_sim_time",
                "last_sim_time",
                "frames",
                "laps",
                "updated_at",
            ],
        )


# ---- parameters (timestamps as epoch milliseconds: the driver accepts ints for `timestamp`) ----
def frame_params(r: FrameRow) -> Params:
    return (r.session_id, frame_bucket(r.sim_time), r.seq, r.sim_time, r.lap, r.lap_distance, r.markers, r.frame)


def window_params(r: WindowRow, with_columns: bool = False) -> Params:
    """Parameters of ``Statements.window`` or, ``with_columns``, of ``Statements.window_with_columns``."""
    assert WINDOW_STATS == ("min", "max", "mean", "last")
    head = (
        r.session_id,
        r.window_ms,
        r.lap,
        r.part,
        r.ts_ms,
        r.window_start,
        r.lap_time,
        r.lap_distance,
        r.frame_count,
        window_stats.pack(r.mins, r.maxs, r.means, r.lasts),
    )
    return (*head, *_floats(r.mins, r.maxs, r.means, r.lasts)) if with_columns else head


def lap_params(r: LapRow) -> Params:
    return (
        r.session_id,
        r.lap,
        r.car_id,
        r.start_sim_time,
        r.end_sim_time,
        r.start_ts_ms,
        r.lap_time,
        r.distance,
        r.frames,
        r.complete,
        r.invalidated,
        r.max_speed,
        r.mean_speed,
        r.energy_drawn_kwh,
        r.energy_regen_kwh,
        r.energy_net_kwh,
        r.sector_times,
        *_floats(r.mins, r.maxs),
    )


def profile_params(r: ProfilePoint) -> Params:
    return (r.session_id, r.lap, r.distance, r.elapsed, r.speed, r.throttle, r.brake_pressure, r.power_electrical_total)


def quality_params(r: QualityRow, now_ms: int) -> Params:
    return (
        r.session_id,
        r.frames_received,
        r.frames_lost,
        r.frames_duplicated,
        r.frames_late,
        r.frames_out_of_order,
        r.first_seq,
        r.last_seq,
        now_ms,
    )


def session_params(r: SessionRow, now_ms: int) -> Params:
    return (
        r.session_id,
        r.car_id,
        r.catalog_hash,
        r.started_at_ms,
        r.last_frame_at_ms,
        r.first_sim_time,
        r.last_sim_time,
        r.frames,
        r.laps,
        now_ms,
    )
