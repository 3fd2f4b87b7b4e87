"""Hot-store retention: which tables expire their rows, after how long (pure; the migrator applies it).

Cassandra keeps the recent past; the archive (``p424.archive``) keeps everything. Raw frames (both
their tables, ``frame_blocks`` and ``frames``) and channel windows get a table ``default_time_to_live``
from the settings (these tables use TimeWindowCompactionStrategy, so whole expired SSTables are
dropped instead of compacted; each map entry of a frame block expires on its own). Every
other table (sessions, laps, profiles, quality, predictions) keeps its rows. A table TTL applies
to rows written after it is set; rows already stored keep the TTL they were written with.
"""

from __future__ import annotations

from dataclasses import dataclass

from p424.config import Config

DAY_S = 86_400


@dataclass(frozen=True, kw_only=True)
class Retention:
    """Seconds each expiring table keeps a row (0: forever)."""

    frames_ttl_s: int = 0
    windows_ttl_s: int = 0

    def __post_init__(self) -> None:
        for name, value in (("frames_ttl_s", self.frames_ttl_s), ("windows_ttl_s", self.windows_ttl_s)):
            if value < 0:
                raise ValueError(f"{name} must be 0 (keep forever) or a positive number of seconds, got {value}")

    @classmethod
    def from_config(cls, cfg: Config) -> Retention:
        for key, days in (
            ("CASSANDRA_RAW_TTL_DAYS", cfg.cassandra_raw_ttl_days),
            ("CASSANDRA_WINDOWS_TTL_DAYS", cfg.cassandra_windows_ttl_days),
        ):
            if days < 0:
                raise ValueError(f"{key} must be 0 (keep forever) or a number of days, got {days}")
        return cls(
            frames_ttl_s=cfg.cassandra_raw_ttl_days * DAY_S,
            windows_ttl_s=cfg.cassandra_windows_ttl_days * DAY_S,
        )

    def table_ttls(self) -> dict[str, int]:
        """Table -> its ``default_time_to_live`` in seconds."""
        return {"frames": self.frames_ttl_s, "frame_blocks": self.frames_ttl_s, "channel_windows": self.windows_ttl_s}
