"""Where a session lives in the archive: object keys of the bronze, silver and gold layers.

Keys are relative to the archive root (``<bucket>/<ARCHIVE_PREFIX>``) and hive-partitioned, so
DuckDB and pyarrow datasets read the partition values as columns::

    bronze/track=<slug>/date=<YYYY-MM-DD>/session=<id>/frames.parquet
    silver/track=<slug>/session=<id>/lap=<n>/time.parquet
    silver/track=<slug>/session=<id>/lap=<n>/distance.parquet
    gold/laps/track=<slug>/session=<id>/laps.parquet
    gold/session_quality/track=<slug>/session=<id>/session_quality.parquet
    gold/predictions/track=<slug>/session=<id>/predictions.parquet
    gold/sessions/session=<id>/session.parquet      (the session's archive record, written last)

``gold/mini_sectors/track=<slug>/session=<id>/mini_sectors.parquet`` is reserved for mini-sector
times (``p424.analysis.minisectors``); nothing writes it yet.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

FORMAT_VERSION = 1  # bump when a layer's keys or columns change: the DAG then archives every session again
GOLD_TABLES = ("laps", "session_quality", "predictions")
RECORD_TABLE = "sessions"
UNKNOWN_TRACK = "unknown"
UNDATED = "undated"

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def track_slug(track: str | None) -> str:
    """A track name as a key segment: lower case, runs of anything else than a-z0-9 as one '-'."""
    slug = _NOT_SLUG.sub("-", (track or "").lower()).strip("-")
    return slug or UNKNOWN_TRACK


def session_date(started_at: datetime | None) -> str:
    """The UTC date a session started (the driver returns naive UTC datetimes)."""
    return started_at.strftime("%Y-%m-%d") if started_at is not None else UNDATED


@dataclass(frozen=True, kw_only=True)
class SessionKeys:
    """Every key of one archived session."""

    session_id: int
    track: str  # slug
    date: str  # YYYY-MM-DD

    def __post_init__(self) -> None:
        if self.session_id <= 0:
            raise ValueError(f"session id {self.session_id} must be positive")
        if track_slug(self.track) != self.track:
            raise ValueError(f"track {self.track!r} is not a slug (track_slug gives {track_slug(self.track)!r})")

    @property
    def bronze(self) -> str:
        return f"bronze/track={self.track}/date={self.date}/session={self.session_id}/frames.parquet"

    def silver_lap(self, lap: int) -> str:
        return f"silver/track={self.track}/session={self.session_id}/lap={lap}/"

    def silver_time(self, lap: int) -> str:
        return self.silver_lap(lap) + "time.parquet"

    def silver_distance(self, lap: int) -> str:
        return self.silver_lap(lap) + "distance.parquet"

    @property
    def silver_prefix(self) -> str:
        return f"silver/track={self.track}/session={self.session_id}/"

    def gold(self, table: str) -> str:
        if table not in GOLD_TABLES:
            raise ValueError(f"{table!r} is not a gold table ({', '.join(GOLD_TABLES)})")
        return f"gold/{table}/track={self.track}/session={self.session_id}/{table}.parquet"

    @property
    def record(self) -> str:
        return record_key(self.session_id)


def record_key(session_id: int) -> str:
    """The session's archive record: findable by session id alone."""
    return f"{RECORD_PREFIX}session={session_id}/session.parquet"


RECORD_PREFIX = f"gold/{RECORD_TABLE}/"


def gold_glob(table: str) -> str:
    """Every session's file of a gold table, as a glob (DuckDB ``read_parquet``)."""
    if table == RECORD_TABLE:
        return f"{RECORD_PREFIX}*/session.parquet"
    if table not in GOLD_TABLES:
        raise ValueError(f"{table!r} is not a gold table ({', '.join(GOLD_TABLES)})")
    return f"gold/{table}/*/*/{table}.parquet"


def session_of_record_dir(name: str) -> int | None:
    """``session=<id>`` -> id (None for anything else)."""
    prefix = "session="
    if not name.startswith(prefix) or not name[len(prefix) :].isdigit():
        return None
    return int(name[len(prefix) :])
