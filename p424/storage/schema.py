"""Table layouts that derive from the channel catalog.

Window rows hold every payload channel as four columns (min, max, mean, last); lap rows hold the
min and max of the catalog's key channels. Adding a channel to the catalog adds its columns on
the next `up` (see ``p424.storage.migrate``), and so does adding a maths channel to the maths file.
"""

from __future__ import annotations

from collections.abc import Iterable

from p424.catalog import CATALOG, Catalog

WINDOW_STATS = ("min", "max", "mean", "last")
LAP_STATS = ("min", "max")
FRAME_BUCKET_S = 60.0
# Raw frames per frame_blocks row: 1 s at the simulator's 50 Hz, so a block is ~26 KiB of 528-byte
# frames and a minute bucket holds ~60 rows.
FRAMES_PER_BLOCK = 50
WINDOWS_PER_PART = 6000
PROFILE_STEP_M = 10


def window_stat_columns(catalog: Catalog = CATALOG) -> list[str]:
    return [f"{c.name}_{s}" for c in catalog.payload_channels for s in WINDOW_STATS]


def maths_stat_columns(names: Iterable[str]) -> list[str]:
    """The ``<name>_<stat>`` window columns of maths channels (p424.derived.maths), channel-major."""
    return [f"{n}_{s}" for n in names for s in WINDOW_STATS]


def lap_stat_columns(catalog: Catalog = CATALOG) -> list[str]:
    return [f"{c.name}_{s}" for c in catalog.key_channels() for s in LAP_STATS]


def catalog_columns(catalog: Catalog = CATALOG, maths: Iterable[str] = ()) -> dict[str, list[str]]:
    """Table -> catalog-derived float columns it must have (and those of the maths channels named)."""
    return {
        "channel_windows": window_stat_columns(catalog) + maths_stat_columns(maths),
        "laps": lap_stat_columns(catalog),
    }


def frame_bucket(sim_time: float) -> int:
    return int(sim_time // FRAME_BUCKET_S)


def window_part(window_index_in_lap: int) -> int:
    return window_index_in_lap // WINDOWS_PER_PART


def frame_block(seq: int) -> int:
    """The frame_blocks row of a frame: its unwrapped sequence number // FRAMES_PER_BLOCK."""
    return seq // FRAMES_PER_BLOCK
