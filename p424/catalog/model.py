"""What a channel is, and a catalog: a validated channel list with its wire layout and hash.

A catalog also knows its history: every catalog version the platform has used (``history``,
keyed by hash). Data of any of them is read by mapping its channels, by name, onto this
catalog; a channel a version lacks comes back absent (NaN). That is what keeps stored frames and
windows readable, and older senders accepted, after a channel is added.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

IndexArray = npt.NDArray[np.intp]
ABSENT = -1  # in a payload map: the source catalog has no such channel


class Transport(StrEnum):
    HEADER = "header"  # carried in the fixed frame header (float64 or integer)
    PAYLOAD = "payload"  # carried as float32 in catalog order


class Kind(StrEnum):
    CONTINUOUS = "continuous"  # interpolate linearly when resampling
    DISCRETE = "discrete"  # hold the previous value when resampling (gear, lap, flags)


@dataclass(frozen=True, kw_only=True)
class Channel:
    name: str  # snake_case identifier: Cassandra column stem, feature name, panel id
    unit: str  # unit of the stored value (SI, or kW/kWh/rpm as engineers read them)
    group: str
    lo: float  # display range, in stored units
    hi: float
    description: str
    sim_name: str = ""  # the current simulator's channel name (its CSV export header, any case)
    sim_aliases: tuple[str, ...] = ()  # names older simulator versions and lap files used
    # -1 where the simulator's axis points the other way: Unity's x is to the right and its yaw is
    # clockwise seen from above, where ISO 8855 (the stored convention) has y to the left.
    sim_sign: int = 1
    sim_offset: float = 0.0  # stored = simulator value * sign + offset (its Sector counts from 0, ours from 1)
    rate_hz: int = 50  # nominal poll rate in the simulator
    multiplier: float = 1.0  # display value = stored value * multiplier
    display_unit: str = ""  # unit after multiplying; empty means ``unit``
    kind: Kind = Kind.CONTINUOUS
    transport: Transport = Transport.PAYLOAD
    key: bool = False  # summarised per lap (min/max columns in the laps table)

    @property
    def csv_column(self) -> str:
        """The column a lap file of the current simulator gives this channel (matched without case)."""
        return self.sim_name or self.name

    @property
    def csv_columns(self) -> tuple[str, ...]:
        """Every lap-file column name that means this channel, current simulator first."""
        return (self.csv_column, *self.sim_aliases)

    @property
    def shown_unit(self) -> str:
        return self.display_unit or self.unit

    def to_dict(self) -> dict[str, Any]:
        """Every field that differs from its default (so a field added later leaves files as they are)."""
        d = asdict(self)
        d["sim_aliases"] = list(self.sim_aliases)
        defaults = {f.name: f.default for f in fields(self) if f.default is not MISSING}
        return {k: v for k, v in d.items() if k not in defaults or v != _plain(defaults[k])}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Channel:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"channel {d.get('name')!r}: unknown fields {sorted(unknown)}")
        args = dict(d)
        args["kind"] = Kind(args.get("kind", Kind.CONTINUOUS))
        args["transport"] = Transport(args.get("transport", Transport.PAYLOAD))
        args["sim_aliases"] = tuple(args.get("sim_aliases", ()))
        return cls(**args)

    def __post_init__(self) -> None:
        if self.sim_sign not in (1, -1):
            raise ValueError(f"channel {self.name!r}: sim_sign is 1 or -1, not {self.sim_sign}")


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


HEADER_CHANNELS = ("sim_time", "lap", "lap_distance", "markers")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Catalog:
    """An immutable, validated channel list with derived layouts, a stable hash and its history."""

    def __init__(self, channels: Iterable[Channel], version: str, history: Iterable[Catalog] = ()) -> None:
        self.channels: tuple[Channel, ...] = tuple(channels)
        self.version = version
        self._validate()
        self.by_name: dict[str, Channel] = {c.name: c for c in self.channels}
        self.header_channels = tuple(c for c in self.channels if c.transport is Transport.HEADER)
        self.payload_channels = tuple(c for c in self.channels if c.transport is Transport.PAYLOAD)
        self.payload_names: tuple[str, ...] = tuple(c.name for c in self.payload_channels)
        self.payload_index: dict[str, int] = {n: i for i, n in enumerate(self.payload_names)}
        self.key_names: tuple[str, ...] = tuple(c.name for c in self.payload_channels if c.key)
        self.history: dict[int, Catalog] = {}
        for old in history:
            self._check_compatible(old)
            self.history[old.hash] = old
        self.history[self.hash] = self
        self._payload_maps: dict[int, IndexArray] = {}
        self._key_maps: dict[int, IndexArray] = {}

    def _validate(self) -> None:
        seen: set[str] = set()
        for c in self.channels:
            if not _NAME.match(c.name):
                raise ValueError(f"channel name {c.name!r} is not snake_case")
            if c.name in seen:
                raise ValueError(f"channel {c.name!r} is defined twice")
            if not c.lo < c.hi:
                raise ValueError(f"channel {c.name!r}: display range lo must be below hi")
            seen.add(c.name)
        header = tuple(c.name for c in self.channels if c.transport is Transport.HEADER)
        if header != HEADER_CHANNELS:
            raise ValueError(f"the frame header carries exactly {', '.join(HEADER_CHANNELS)}, in order; got {header}")

    def _check_compatible(self, old: Catalog) -> None:
        """Data is mapped between versions by channel name, so a name must keep its unit and transport."""
        for c in old.channels:
            now = self.by_name.get(c.name)
            if now is not None and (now.unit, now.transport) != (c.unit, c.transport):
                raise ValueError(
                    f"channel {c.name!r} is {c.unit!r}/{c.transport} in catalog {old.version} ({old.hash_hex}) but "
                    f"{now.unit!r}/{now.transport} now: a stored value would be misread. Give the changed channel a "
                    "new name instead."
                )

    @cached_property
    def hash(self) -> int:
        """32-bit hash of what decides how a frame is read: every channel's name, unit and
        transport, in order.

        Display ranges, descriptions, simulator names and groups do not change it, so they can be
        edited without invalidating senders.
        """
        wire = [[c.name, c.unit, c.transport.value] for c in self.channels]
        digest = hashlib.sha256(json.dumps(wire, separators=(",", ":")).encode()).digest()
        return int.from_bytes(digest[:4], "little")

    @property
    def hash_hex(self) -> str:
        return f"{self.hash:08x}"

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.channels)

    def __len__(self) -> int:
        return len(self.channels)

    def __getitem__(self, name: str) -> Channel:
        return self.by_name[name]

    def __repr__(self) -> str:
        return f"Catalog({self.version}, {self.hash_hex}, {len(self.payload_channels)} payload channels)"

    # ---------- versions ----------
    def known(self, catalog_hash: int) -> Catalog | None:
        """The catalog version with this hash, if this platform has ever used it."""
        return self.history.get(catalog_hash)

    def payload_map(self, source: Catalog) -> IndexArray:
        """For each payload channel of this catalog, its index in ``source``'s payload, or ABSENT."""
        m = self._payload_maps.get(source.hash)
        if m is None:
            m = np.array([source.payload_index.get(n, ABSENT) for n in self.payload_names], dtype=np.intp)
            self._payload_maps[source.hash] = m
        return m

    def key_map(self, source: Catalog) -> IndexArray:
        """For each key channel of this catalog, its index among ``source``'s key channels, or ABSENT."""
        m = self._key_maps.get(source.hash)
        if m is None:
            index = {n: i for i, n in enumerate(source.key_names)}
            m = np.array([index.get(n, ABSENT) for n in self.key_names], dtype=np.intp)
            self._key_maps[source.hash] = m
        return m

    def from_payload(self, values: npt.NDArray[Any], source: Catalog, fill: float = np.nan) -> npt.NDArray[Any]:
        """``source``-ordered values (last axis) in this catalog's payload order; ``fill`` where absent."""
        return _remap(values, self.payload_map(source), source is self, fill)

    def from_key(self, values: npt.NDArray[Any], source: Catalog) -> npt.NDArray[Any]:
        """Key-channel values of ``source`` in this catalog's key-channel order; NaN where absent."""
        return _remap(values, self.key_map(source), source is self, np.nan)

    # ---------- lookups ----------
    def by_csv_column(self) -> dict[str, Channel]:
        """Lap-file column (upper case, any simulator version) -> channel."""
        out: dict[str, Channel] = {}
        for c in self.channels:
            for col in c.csv_columns:
                out.setdefault(col.upper(), c)
        return out

    def key_channels(self) -> tuple[Channel, ...]:
        return tuple(c for c in self.payload_channels if c.key)

    def groups(self) -> dict[str, tuple[Channel, ...]]:
        out: dict[str, list[Channel]] = {}
        for c in self.channels:
            out.setdefault(c.group, []).append(c)
        return {g: tuple(cs) for g, cs in out.items()}

    # ---------- files ----------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "hash": self.hash_hex,
            "channels": [c.to_dict() for c in self.channels],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Catalog:
        catalog = cls((Channel.from_dict(c) for c in doc["channels"]), str(doc["version"]))
        if catalog.hash_hex != doc["hash"]:
            raise ValueError(
                f"catalog {doc['version']}: its channels hash to {catalog.hash_hex}, the file says {doc['hash']}"
            )
        return catalog


def _remap(values: npt.NDArray[Any], index: IndexArray, identity: bool, fill: float) -> npt.NDArray[Any]:
    if identity:
        return values
    absent = index == ABSENT
    shape = (*values.shape[:-1], len(index))
    dtype = values.dtype if np.can_cast(np.min_scalar_type(fill), values.dtype) else np.float64
    out = np.full(shape, fill, dtype=dtype)
    out[..., ~absent] = values[..., index[~absent]]
    return out
