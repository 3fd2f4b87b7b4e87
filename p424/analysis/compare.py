"""Any number of laps against a reference lap, by distance: time delta, channels, mini-sectors.

    cmp = compare([lap_a, lap_b, lap_c], reference=fastest, channels=["speed", "throttle"])
    cmp.delta              # DataFrame: Distance x lap, seconds behind the reference (negative: ahead)
    cmp.channel("speed")   # DataFrame: Distance x lap, the channel aligned by distance
    cmp.mini_sectors       # per lap and mini-sector: time, the reference's, their delta and the running delta

Laps are named ``SESSION:LAP`` (``LapRef``) and may come from any sessions on the same track
(``Session.track``); laps of different tracks are refused unless ``force``.

Time: each lap's elapsed time by distance comes from its stored distance profile (one point every
``PROFILE_STEP_M``, ``minisectors.elapsed_at``); the delta is the lap's minus the reference's at
the same distance. Channels: each lap's samples (100 ms windows, or every raw frame) are placed on
a common distance grid by their lap distance, continuous channels interpolated linearly between
samples and discrete ones holding their last value (``Channel.kind``); outside a lap's samples, and
next to a sample where a channel is absent, a value is NaN. Only samples on the longest run of
increasing distance are used (``forward_only``): a real lap's first sample can still read the
previous lap's end distance.

Channels come from ``ChannelSource``s: ``CatalogChannels`` gives every catalog channel; another
source (maths channels, for instance) plugs in by offering more names.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from p424.analysis import minisectors
from p424.analysis.core import Lap, by_source, profiles
from p424.analysis.minisectors import MiniSectorSettings
from p424.catalog import CATALOG, Kind
from p424.storage.schema import PROFILE_STEP_M

F64 = npt.NDArray[np.float64]
_REF = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


class TrackMismatchError(ValueError):
    """Laps of different tracks: their distances do not mean the same places."""


@dataclass(frozen=True, order=True)
class LapRef:
    """A lap of any session: ``SESSION:LAP``."""

    session_id: int
    lap: int

    @classmethod
    def parse(cls, text: str) -> LapRef:
        m = _REF.match(text)
        if m is None:
            raise ValueError(f"a lap is SESSION:LAP (e.g. 253283429522628666:2), not {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, lap: Lap) -> LapRef:
        return cls(int(lap.session.session_id), int(lap["LapNumber"]))

    def __str__(self) -> str:
        return f"{self.session_id}:{self.lap}"


# ---------------------------------------------------------------- pure: alignment
def forward_only(distance: F64) -> npt.NDArray[np.bool_]:
    """The samples on the longest run whose distance keeps increasing (finite ones only).

    What falls off it is a distance out of step with the lap: the previous lap's end still read at
    the start of a real lap, a jump backwards, a reset at the end."""
    finite = np.flatnonzero(np.isfinite(distance))
    d = distance[finite]
    keep = np.zeros(len(distance), dtype=bool)
    if d.size and np.all(np.diff(d) > 0):
        keep[finite] = True
        return keep
    # Longest strictly increasing subsequence (patience sorting), O(n log n).
    tails: list[float] = []
    tail_index: list[int] = []
    parent = np.full(d.size, -1, dtype=np.int64)
    for i, x in enumerate(d.tolist()):
        k = bisect.bisect_left(tails, x)
        if k == len(tails):
            tails.append(x)
            tail_index.append(i)
        else:
            tails[k] = x
            tail_index[k] = i
        parent[i] = tail_index[k - 1] if k > 0 else -1
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        keep[finite[i]] = True
        i = int(parent[i])
    return keep


def align(distance: F64, values: F64, kinds: Sequence[Kind], grid: F64) -> F64:
    """Samples ``values`` (samples x channels) taken at ``distance`` on the ``grid`` (see module docstring)."""
    keep = forward_only(distance)
    d, v = distance[keep], values[keep]
    out = np.full((len(grid), v.shape[1]), np.nan)
    if d.size == 0:
        return out
    inside = (grid >= d[0]) & (grid <= d[-1])
    g = grid[inside]
    held = np.searchsorted(d, g, side="right") - 1  # the last sample at or before each grid point
    for j, kind in enumerate(kinds):
        if kind is Kind.DISCRETE:
            out[inside, j] = v[held, j]
        else:
            out[inside, j] = np.interp(g, d, v[:, j])
    return out


def distance_grid(length_m: float, step_m: float = PROFILE_STEP_M) -> F64:
    """0, step, 2 step, ... and the length itself, the finish."""
    if not np.isfinite(length_m) or length_m <= 0:
        raise ValueError(f"the reference lap has no distance ({length_m}): nothing to compare along")
    grid = np.arange(0.0, length_m, step_m)
    return np.append(grid, length_m)


# ---------------------------------------------------------------- channel sources
class ChannelSource(Protocol):
    """Where compared channels come from. ``samples`` returns, per lap, a DataFrame with ``Distance``
    (m) and one column per name asked for, in sample order."""

    def offers(self) -> Sequence[str]: ...

    def kind(self, name: str) -> Kind: ...

    def unit(self, name: str) -> str: ...

    def samples(self, laps: Sequence[Lap], names: Sequence[str]) -> dict[LapRef, pd.DataFrame]: ...


@dataclass(frozen=True, kw_only=True)
class CatalogChannels:
    """Every payload channel of the catalog, from the stored windows or the raw frames.

    From windows, a channel's value is its ``stat`` over the window, placed at the lap distance of
    the window's last frame; ``last`` (the default) is the value there.
    """

    source: str = "windows"
    window_ms: int = 100
    stat: str = "last"

    def __post_init__(self) -> None:
        if self.source not in ("windows", "raw"):
            raise ValueError(f"source must be 'windows' or 'raw', not {self.source!r}")

    def offers(self) -> Sequence[str]:
        return CATALOG.payload_names

    def kind(self, name: str) -> Kind:
        return CATALOG[name].kind

    def unit(self, name: str) -> str:
        return CATALOG[name].unit

    def samples(self, laps: Sequence[Lap], names: Sequence[str]) -> dict[LapRef, pd.DataFrame]:
        if not laps:
            return {}
        if self.source == "raw":
            return {LapRef.of(lap): lap.get_telemetry(names, source="raw") for lap in laps}
        blocks = {
            key: block
            for data, keys in by_source(laps)
            for key, block in data.window_blocks(keys, self.window_ms, [self.stat], names).items()
        }
        out = {}
        for key, block in blocks.items():
            df = pd.DataFrame(block.values[self.stat], columns=list(names))
            df.insert(0, "Distance", block.lap_distance)
            out[LapRef(*key)] = df
        return out


# ---------------------------------------------------------------- the comparison
@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Laps aligned on a distance grid; columns are lap names (``str(LapRef)``), reference included."""

    reference: LapRef
    laps: tuple[LapRef, ...]  # the compared laps, reference first
    lap_times: Mapping[LapRef, float]
    time: pd.DataFrame  # elapsed time (s), index Distance (m)
    channels: tuple[str, ...] = ()
    values: pd.DataFrame = field(default_factory=pd.DataFrame)  # columns (channel, lap), index Distance
    units: Mapping[str, str] = field(default_factory=dict)
    mini_sectors: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def delta(self) -> pd.DataFrame:
        """Each lap's elapsed time minus the reference's at the same distance (s; negative: ahead)."""
        return self.time.sub(self.time[str(self.reference)], axis=0)

    def channel(self, name: str) -> pd.DataFrame:
        """One channel of every lap (columns: lap names), index Distance."""
        if name not in self.channels:
            raise KeyError(f"{name!r} was not compared; compared channels: {', '.join(self.channels) or 'none'}")
        out: pd.DataFrame = self.values[name]
        return out


def resolve(names: Sequence[str], sources: Sequence[ChannelSource]) -> dict[str, ChannelSource]:
    """Which source gives each channel (the first that offers it); ValueError naming the unknown ones."""
    out: dict[str, ChannelSource] = {}
    unknown = []
    for name in names:
        source = next((s for s in sources if name in s.offers()), None)
        if source is None:
            unknown.append(name)
        else:
            out[name] = source
    if unknown:
        raise ValueError(
            f"unknown channel(s): {', '.join(unknown)}. Channels are catalog names such as "
            f"{', '.join(CATALOG.key_names[:4])} (python -m p424.catalog lists them)"
        )
    return out


def check_same_track(laps: Sequence[Lap], force: bool = False) -> None:
    """TrackMismatchError unless every lap's session was driven on the same track (or ``force``)."""
    tracks = {LapRef.of(lap): lap.session.track or "unknown" for lap in laps}
    if len(set(tracks.values())) > 1 and not force:
        listed = "; ".join(f"{ref} on {track!r}" for ref, track in tracks.items())
        raise TrackMismatchError(f"these laps are on different tracks ({listed}); compare them anyway with force")


def compare(
    laps: Sequence[Lap],
    reference: Lap | None = None,
    channels: Sequence[str] | None = None,
    *,
    source: str = "windows",
    step_m: float = PROFILE_STEP_M,
    settings: MiniSectorSettings | None = None,
    sources: Sequence[ChannelSource] = (),
    force: bool = False,
) -> Comparison:
    """``laps`` against ``reference`` (default: the fastest complete lap of the first lap's session).

    ``channels`` default to the catalog's key channels; ``sources`` are searched before the catalog.
    """
    if not laps:
        raise ValueError("no lap to compare")
    ref = reference if reference is not None else laps[0].session.laps.pick_fastest()
    everything = _unique([ref, *laps])
    check_same_track(everything, force)
    refs = [LapRef.of(lap) for lap in everything]
    ref_key = refs[0]
    grid = distance_grid(float(ref["Distance"]), step_m)
    stored = profiles(everything)
    lap_times = {r: float(lap["LapTimeSeconds"]) for r, lap in zip(refs, everything, strict=True)}
    time = pd.DataFrame(
        {str(r): _elapsed(lap, stored[(r.session_id, r.lap)], grid) for r, lap in zip(refs, everything, strict=True)},
        index=pd.Index(grid, name="Distance"),
    )
    names = list(dict.fromkeys(CATALOG.key_names if channels is None else channels))
    by_source = resolve(names, [*sources, CatalogChannels(source=source)])
    labels = [str(r) for r in refs]
    aligned = np.full(
        (len(grid), len(names), len(refs)), np.nan
    )  # built as one array: one DataFrame, not one per channel
    for src in _unique_sources(by_source.values()):
        mine = [n for n, s in by_source.items() if s is src]
        samples = src.samples(everything, mine)
        kinds = [src.kind(n) for n in mine]
        columns = [names.index(n) for n in mine]
        for k, r in enumerate(refs):
            lap_samples = samples[r]
            aligned[:, columns, k] = align(
                lap_samples["Distance"].to_numpy(np.float64), lap_samples[mine].to_numpy(np.float64), kinds, grid
            )
    values = pd.DataFrame(
        aligned.reshape(len(grid), len(names) * len(refs)),
        index=pd.Index(grid, name="Distance"),
        columns=pd.MultiIndex.from_product([names, labels], names=["channel", "lap"]),
    )
    cuts = minisectors.layout(
        float(ref["Distance"]), settings or MiniSectorSettings.from_config(ref.session.store.cfg), step_m
    )
    return Comparison(
        reference=ref_key,
        laps=tuple(refs),
        lap_times=lap_times,
        time=time,
        channels=tuple(names),
        values=values,
        units={n: by_source[n].unit(n) for n in names},
        mini_sectors=mini_sector_deltas(everything, stored, ref_key, cuts),
    )


def _elapsed(lap: Lap, profile: pd.DataFrame, grid: F64) -> F64:
    if profile.empty:
        return np.full(len(grid), np.nan)
    t = minisectors.elapsed_at(
        profile["distance"], profile["elapsed"], float(lap["Distance"]), float(lap["LapTimeSeconds"]), grid
    )
    if not bool(lap["Complete"]):
        t[grid > float(np.nanmax(profile["distance"]))] = np.nan  # an open lap has no time beyond where it is
    return t


def mini_sector_deltas(
    laps: Sequence[Lap], stored: Mapping[tuple[int, int], pd.DataFrame], reference: LapRef, cuts: minisectors.Layout
) -> pd.DataFrame:
    """Per lap and mini-sector: Lap, MiniSector, StartDistance, EndDistance, Time, ReferenceTime,
    Delta (this mini-sector) and CumulativeDelta (at its end), seconds; an open lap has them for the
    mini-sectors it has driven through."""
    times = {}
    for lap in laps:
        r = LapRef.of(lap)
        prof = stored[(r.session_id, r.lap)]
        if bool(lap["Complete"]):
            times[r] = minisectors.lap_mini_sector_times(
                prof, float(lap["LapTimeSeconds"]), float(lap["Distance"]), cuts
            )
        else:
            times[r] = minisectors.open_lap_mini_sector_times(prof, cuts)
    ref_times = times[reference]
    frames = [
        pd.DataFrame(
            {
                "Lap": str(r),
                "MiniSector": np.arange(1, cuts.count + 1),
                "StartDistance": cuts.starts,
                "EndDistance": cuts.ends,
                "Time": t,
                "ReferenceTime": ref_times,
                "Delta": t - ref_times,
                "CumulativeDelta": np.cumsum(t - ref_times),
            }
        )
        for r, t in times.items()
    ]
    return pd.concat(frames, ignore_index=True)


def _unique(laps: Sequence[Lap]) -> list[Lap]:
    seen: set[LapRef] = set()
    out = []
    for lap in laps:
        r = LapRef.of(lap)
        if r not in seen:
            seen.add(r)
            out.append(lap)
    return out


def _unique_sources(sources: Iterable[ChannelSource]) -> list[ChannelSource]:
    out: list[ChannelSource] = []
    for s in sources:
        if not any(s is o for o in out):
            out.append(s)
    return out
