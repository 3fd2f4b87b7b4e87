"""Telemetry as a Parquet table that carries its own units and catalog version: pure, over pyarrow.

Each column's field metadata says what it holds (``unit``, and for catalog channels ``display_unit``,
``multiplier``, ``kind`` and ``description``); the schema metadata says where the data comes from
(``p424.catalog_version`` and ``p424.catalog_hash``: the catalog the values are laid out in, and
``p424.*`` keys given by the exporter: session, track, source, ...). Any Parquet reader shows them
(``pyarrow.parquet.read_schema(path).metadata``, ``field.metadata``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from p424.catalog import CATALOG, Catalog
from p424.storage.schema import WINDOW_STATS

PREFIX = "p424."
# Columns that are not catalog channels, and their units.
AXES: Mapping[str, str] = {
    "LapNumber": "",
    "Date": "",
    "SessionTime": "s",
    "LapTime": "s",
    "Distance": "m",
    "Sequence": "",
    "Lap": "",
    "Markers": "",
    "FrameCount": "",
}


def field_metadata(column: str, catalog: Catalog = CATALOG) -> dict[str, str]:
    """A column's metadata: a catalog channel (``speed``) or one of its window statistics (``speed_mean``)."""
    if column in AXES:
        return {"unit": AXES[column]}
    name, stat = column, ""
    if name not in catalog.by_name:
        base, _, suffix = column.rpartition("_")
        if suffix in WINDOW_STATS and base in catalog.by_name:
            name, stat = base, suffix
    channel = catalog.by_name.get(name)
    if channel is None:
        raise ValueError(f"column {column!r} is neither a catalog channel, a channel statistic nor one of {list(AXES)}")
    meta = {
        "unit": channel.unit,
        "display_unit": channel.shown_unit,
        "multiplier": repr(channel.multiplier),
        "kind": channel.kind.value,
        "description": channel.description,
    }
    if stat:
        meta["window_stat"] = stat
    return meta


def table(frame: pd.DataFrame, metadata: Mapping[str, str], catalog: Catalog = CATALOG) -> pa.Table:
    """``frame`` as an Arrow table with field metadata per column and the schema metadata."""
    arrays = [_array(frame[c]) for c in frame.columns]
    fields = [
        pa.field(str(c), a.type, metadata=field_metadata(str(c), catalog))
        for c, a in zip(frame.columns, arrays, strict=True)
    ]
    schema_meta = {
        f"{PREFIX}catalog_version": catalog.version,
        f"{PREFIX}catalog_hash": catalog.hash_hex,
        **{f"{PREFIX}{k}": v for k, v in metadata.items()},
    }
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=schema_meta))


def _array(column: pd.Series) -> pa.Array:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        # pyarrow's own pandas conversion reads Series.values, which pandas 3.1 deprecates for these.
        utc = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return pa.array(utc, type=pa.timestamp("ms", tz="UTC"))
    return pa.array(column.to_numpy())


def write(t: pa.Table, path: Path) -> None:
    pq.write_table(t, path, compression="zstd")
