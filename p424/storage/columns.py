"""How a record's fields become its table's columns: metadata on the record dataclass's fields.

A field is stored in the column of its own name unless its metadata says otherwise::

    start_ts_ms: int = field(metadata=column("start_ts"))   # stored under another name
    car_id: int = field(metadata=NOT_STORED)                 # travels on Kafka, not a column here
    mins: F32 = field(metadata=channel_stat("min"))          # per-channel vector, catalog order

``p424.storage.writes`` reads this once per table to derive its INSERT and parameters. Standard
library only, so records can declare their columns without importing storage code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

COLUMN = "p424.column"  # the field's column name; None: the field is not stored
CHANNEL_STAT = "p424.channel_stat"  # the statistic a per-channel vector holds

NOT_STORED: Mapping[str, object] = MappingProxyType({COLUMN: None})


def column(name: str) -> Mapping[str, object]:
    return MappingProxyType({COLUMN: name})


def channel_stat(stat: str) -> Mapping[str, object]:
    """A vector of one statistic per channel: the table packs or expands it (``p424.storage.schema``)."""
    return MappingProxyType({CHANNEL_STAT: stat})


def stored_fields(record: type[Any]) -> list[tuple[str, str]]:
    """(field, column) of every field stored as a column of its own, in field order."""
    out = []
    for f in dataclasses.fields(record):
        name = f.metadata.get(COLUMN, f.name)
        if name is not None and CHANNEL_STAT not in f.metadata:
            out.append((f.name, name))
    return out


def channel_stat_fields(record: type[Any], stats: Sequence[str]) -> tuple[str, ...]:
    """The record's per-channel vectors of ``stats``, in that order (ValueError unless exactly those)."""
    by_stat = {f.metadata[CHANNEL_STAT]: f.name for f in dataclasses.fields(record) if CHANNEL_STAT in f.metadata}
    if sorted(by_stat) != sorted(stats):
        raise ValueError(f"{record.__name__} holds channel stats {sorted(by_stat)}, not {sorted(stats)}")
    return tuple(by_stat[s] for s in stats)
