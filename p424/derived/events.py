"""Lap events: lock-ups, wheelspin, off-track excursions, contacts and impacts, found per lap in the stream job.

Defined in one TOML file (``EVENTS_FILE``, by default ``config/events.toml``) with two kinds of entry:

``[[threshold]]``: a channel (or one channel per wheel, ``corners = { fl = "slip_ratio_fl", ... }``)
beyond ``above`` or ``below`` for at least ``min_duration_s``. Thresholds are in the channel's
stored unit unless ``unit`` says otherwise (``below = -20``, ``unit = "%"``). The peak is the
most extreme value of the channel during the event.

``[[marker]]``: frames carrying a bit of the header's markers (``marker = "off_track"``, a name of
``p424.markers.MARKER_BITS``), for at least ``min_duration_s`` (default 0: any). ``peak`` optionally
names a channel (catalog or maths) whose maximum (``peak_stat = "max"``) or minimum during the
event is its peak, e.g. the combined acceleration of an impact.

What an event is, exactly: a run of consecutive frames of one lap that meet the condition. It
starts at the first such frame (``start_sim_time``, ``start_distance``) and lasts until the first
frame after the run (``duration``), or until the lap's end when the lap closes first; so a
single-frame impact at 50 Hz lasts 0.02 s. ``end_distance`` is the lap distance of the run's last
frame. A frame whose channel is absent ends a threshold run. An event never spans two laps: the
lap boundary ends it, and a condition that persists starts a new event in the next lap.

Detection works on blocks of frames (vectorised: one comparison per definition and block, and a
frame-by-frame walk only through blocks where something happens), with the open runs kept in
checkpointed state keyed by (kind, corner), so a definition file that changes between a checkpoint
and its restore keeps the runs of the events it still defines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from p424.derived.dimensions import UnitError, parse_unit
from p424.derived.files import DefinitionError, Source, check_keys, entries, typed
from p424.derived.maths import MathsSet
from p424.markers import MARKER_BITS

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
EPS_S = 1e-6  # durations are differences of float session times


@dataclass(frozen=True, kw_only=True)
class Track:
    """One thing to watch: a definition for one corner (or the whole car)."""

    kind: str
    corner: str  # "fl", "fr", "rl", "rr", or "" for the car
    column: int  # condition channel's column in the extended block; -1 for marker events
    above: float | None
    below: float | None
    marker: int  # bit mask; 0 for threshold events
    min_duration_s: float
    peak_channel: str  # "" when the event has no peak
    peak_column: int  # -1 when the event has no peak
    peak_max: bool  # the peak is the maximum (True) or the minimum

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.corner


class EventSet:
    """The event definitions of a file, resolved against a maths set's columns."""

    def __init__(self, tracks: Sequence[Track], source: str, descriptions: Sequence[tuple[str, str]] = ()) -> None:
        self.tracks = tuple(tracks)
        self.source = source
        self.descriptions = dict(descriptions)  # kind -> description, for listings
        self.threshold_tracks = tuple(t for t in self.tracks if t.marker == 0)
        self.threshold_columns = np.array([t.column for t in self.threshold_tracks], dtype=np.intp)
        inf = np.float32(np.inf)
        self.above = np.array([inf if t.above is None else t.above for t in self.threshold_tracks], dtype=np.float32)
        self.below = np.array([-inf if t.below is None else t.below for t in self.threshold_tracks], dtype=np.float32)
        self.marker_tracks = tuple(t for t in self.tracks if t.marker)
        self.marker_mask = 0
        for t in self.marker_tracks:
            self.marker_mask |= t.marker

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        return tuple(t.key for t in self.tracks)


@dataclass(kw_only=True)
class Run:
    """An event in progress (checkpointed)."""

    start_sim_time: float
    start_distance: float
    last_distance: float
    last_sim_time: float
    peak: float  # NaN until a peak value is seen


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: str
    corner: str
    start_sim_time: float
    end_sim_time: float
    start_distance: float
    end_distance: float
    peak: float | None
    peak_channel: str
    complete: bool  # False: still open when reported (a preview while the session is silent)

    @property
    def duration(self) -> float:
        return self.end_sim_time - self.start_sim_time

    @property
    def summary(self) -> str:
        """One line for people: ``lockup FL: 0.42 s from 1234 m to 1250 m, peak slip_ratio_fl -0.31``."""
        who = f"{self.kind} {self.corner.upper()}".rstrip()
        text = f"{who}: {self.duration:.2f} s from {self.start_distance:.0f} m to {self.end_distance:.0f} m"
        if self.peak is not None:
            text += f", peak {self.peak_channel} {self.peak:.3g}"
        return text if self.complete else f"{text} (still open)"


class EventTracker:
    """Open runs of one session's current lap (the checkpointed part; definitions are passed in)."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], Run] = {}

    def retain(self, events: EventSet) -> None:
        """Another definition file: keep the runs of the events it still defines."""
        keep = set(events.keys)
        self.runs = {k: r for k, r in self.runs.items() if k in keep}

    def add_block(self, ev: EventSet, sim_time: F64, lap_distance: F64, markers: I64, block: F32) -> list[Event]:
        """Frames of one lap in time order (``block``: the extended frames x channels array); the
        events that ended in them."""
        out: list[Event] = []
        thresholds = ev.threshold_tracks
        if thresholds:
            values = block[:, ev.threshold_columns]
            with np.errstate(invalid="ignore"):
                beyond = (values > ev.above) | (values < ev.below)
            if self.runs or beyond.any():  # mostly neither: one comparison per definition and block
                for j, track in enumerate(thresholds):
                    hits = beyond[:, j]
                    if track.key in self.runs or hits.any():
                        self._walk(track, hits, sim_time, lap_distance, block, out)
        marker_tracks = ev.marker_tracks
        if marker_tracks:
            flagged = markers & ev.marker_mask
            if self.runs or flagged.any():
                for track in marker_tracks:
                    hits = (flagged & track.marker) != 0
                    if track.key in self.runs or hits.any():
                        self._walk(track, hits, sim_time, lap_distance, block, out)
        return out

    def _walk(
        self, track: Track, hits: npt.NDArray[np.bool_], t: F64, d: F64, block: F32, out: list[Event]
    ) -> None:
        run = self.runs.get(track.key)
        peaks = block[:, track.peak_column] if track.peak_column >= 0 else None
        for i in range(len(t)):
            if hits[i]:
                peak = float(peaks[i]) if peaks is not None else math.nan
                if run is None:
                    run = Run(
                        start_sim_time=float(t[i]),
                        start_distance=float(d[i]),
                        last_distance=float(d[i]),
                        last_sim_time=float(t[i]),
                        peak=peak,
                    )
                else:
                    run.last_distance = float(d[i])
                    run.last_sim_time = float(t[i])
                    if not math.isnan(peak):
                        better = peak > run.peak if track.peak_max else peak < run.peak
                        run.peak = peak if math.isnan(run.peak) or better else run.peak
            elif run is not None:
                self._finish(track, run, float(t[i]), True, out)
                run = None
        if run is None:
            self.runs.pop(track.key, None)
        else:
            self.runs[track.key] = run

    def _finish(self, track: Track, run: Run, end: float, complete: bool, out: list[Event]) -> None:
        if end - run.start_sim_time + EPS_S < track.min_duration_s:
            return
        out.append(
            Event(
                kind=track.kind,
                corner=track.corner,
                start_sim_time=run.start_sim_time,
                end_sim_time=end,
                start_distance=run.start_distance,
                end_distance=run.last_distance,
                peak=None if math.isnan(run.peak) else run.peak,
                peak_channel=track.peak_channel,
                complete=complete,
            )
        )

    def close_lap(self, ev: EventSet, end_sim_time: float) -> list[Event]:
        """The lap ends at ``end_sim_time`` (the next lap's first frame): every open event ends there."""
        out: list[Event] = []
        by_key = {t.key: t for t in ev.tracks}
        for key, run in self.runs.items():
            self._finish(by_key[key], run, end_sim_time, True, out)
        self.runs = {}
        return out

    def preview(self, ev: EventSet) -> list[Event]:
        """Open events as they stand (the session is silent): provisional, ending at their last frame so far."""
        out: list[Event] = []
        by_key = {t.key: t for t in ev.tracks}
        for key, run in self.runs.items():
            self._finish(by_key[key], run, run.last_sim_time, False, out)
        return out


# ------------------------------------------------------------------ the definition file
def parse_events(source: Source, maths: MathsSet) -> EventSet:
    """Check an events file; DefinitionError naming the file, the entry and the problem."""
    doc = source.document()
    unknown = sorted(set(doc) - {"threshold", "marker"})
    if unknown:
        raise DefinitionError(f"{source.path}: unknown section {unknown} (events are [[threshold]] or [[marker]])")
    tracks: list[Track] = []
    descriptions: dict[str, str] = {}
    for i, entry in enumerate(entries(source, doc, "threshold"), 1):
        what = f"threshold event #{i} ({entry.get('kind', '?')!r})"
        check_keys(
            source,
            what,
            entry,
            ("kind", "min_duration_s"),
            ("channel", "corners", "above", "below", "unit", "description"),
        )
        kind = _kind(source, what, entry)
        corners = _corners(source, what, entry)
        if ("above" in entry) == ("below" in entry):
            raise DefinitionError(f"{source.path}: {what}: give exactly one of 'above' or 'below'")
        limit_key = "above" if "above" in entry else "below"
        for corner, channel in corners:
            column = _column(source, what, maths, channel)
            factor = _factor(source, what, entry, maths, channel)
            threshold = typed(source, what, entry, limit_key, float) * factor
            tracks.append(
                Track(
                    kind=kind,
                    corner=corner,
                    column=column,
                    above=threshold if limit_key == "above" else None,
                    below=threshold if limit_key == "below" else None,
                    marker=0,
                    min_duration_s=_duration(source, what, entry, "min_duration_s"),
                    peak_channel=channel,
                    peak_column=column,
                    peak_max=limit_key == "above",
                )
            )
        descriptions[kind] = str(entry.get("description", ""))
    for i, entry in enumerate(entries(source, doc, "marker"), 1):
        what = f"marker event #{i} ({entry.get('kind', '?')!r})"
        check_keys(source, what, entry, ("kind", "marker"), ("min_duration_s", "peak", "peak_stat", "description"))
        kind = _kind(source, what, entry)
        bit_name = typed(source, what, entry, "marker", str)
        if bit_name not in MARKER_BITS:
            known = ", ".join(MARKER_BITS)
            raise DefinitionError(f"{source.path}: {what}: unknown marker {bit_name!r} (markers: {known})")
        peak = typed(source, what, entry, "peak", str) if "peak" in entry else ""
        stat = typed(source, what, entry, "peak_stat", str) if "peak_stat" in entry else "max"
        if stat not in ("max", "min"):
            raise DefinitionError(f"{source.path}: {what}: peak_stat is 'max' or 'min', not {stat!r}")
        tracks.append(
            Track(
                kind=kind,
                corner="",
                column=-1,
                above=None,
                below=None,
                marker=MARKER_BITS[bit_name],
                min_duration_s=_duration(source, what, entry, "min_duration_s") if "min_duration_s" in entry else 0.0,
                peak_channel=peak,
                peak_column=_column(source, what, maths, peak) if peak else -1,
                peak_max=stat == "max",
            )
        )
        descriptions[kind] = str(entry.get("description", ""))
    seen: set[tuple[str, str]] = set()
    for t in tracks:
        if t.key in seen:
            corner = t.corner or "(car)"
            raise DefinitionError(f"{source.path}: event {t.kind!r} is defined twice for corner {corner!r}")
        seen.add(t.key)
    return EventSet(tuple(tracks), source.path, tuple(descriptions.items()))


CORNERS = ("fl", "fr", "rl", "rr")


def _kind(source: Source, what: str, entry: dict[str, object]) -> str:
    kind = typed(source, what, entry, "kind", str)
    if not kind.replace("_", "").isalnum() or not kind.islower():
        raise DefinitionError(f"{source.path}: {what}: kind must be snake_case, not {kind!r}")
    return str(kind)


def _corners(source: Source, what: str, entry: dict[str, object]) -> Sequence[tuple[str, str]]:
    if ("channel" in entry) == ("corners" in entry):
        raise DefinitionError(f"{source.path}: {what}: give exactly one of 'channel' or 'corners'")
    if "channel" in entry:
        return [("", typed(source, what, entry, "channel", str))]
    corners = typed(source, what, entry, "corners", dict)
    bad = sorted(set(corners) - set(CORNERS))
    if bad or not corners:
        raise DefinitionError(f"{source.path}: {what}: corners are {', '.join(CORNERS)}, not {bad or 'none'}")
    return [(c, typed(source, f"{what} corner {c}", corners, c, str)) for c in CORNERS if c in corners]


def _column(source: Source, what: str, maths: MathsSet, channel: str) -> int:
    try:
        return maths.resolve(channel)
    except ValueError as err:
        raise DefinitionError(f"{source.path}: {what}: {err}") from None


def _factor(source: Source, what: str, entry: dict[str, object], maths: MathsSet, channel: str) -> float:
    """What a threshold written in the entry's ``unit`` is multiplied by to be in the channel's unit."""
    if "unit" not in entry:
        return 1.0
    try:
        return parse_unit(typed(source, what, entry, "unit", str)).factor_to(maths.unit_of(channel))
    except UnitError as err:
        raise DefinitionError(f"{source.path}: {what}: channel {channel!r}: {err}") from None


def _duration(source: Source, what: str, entry: dict[str, object], key: str) -> float:
    value = float(typed(source, what, entry, key, float))
    if value < 0:
        raise DefinitionError(f"{source.path}: {what}: {key} cannot be negative")
    return value
