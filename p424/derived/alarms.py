"""Alarms: limits per channel or maths channel, evaluated with hysteresis on every smallest window.

Declared in one TOML file (``ALARMS_FILE``, by default ``config/alarms.toml``), which also feeds the
Grafana alert rules (``grafana/alerting.py``)::

    [[limit]]
    name = "battery_temperature_high"
    channel = "battery_temperature"
    above = 60            # or below = ...; in ``unit`` (default: the channel's stored unit)
    unit = "degC"
    for_s = 2             # beyond the limit this long before it raises
    clear_margin = 2      # back inside by this much (same unit) ...
    clear_for_s = 5       # ... for this long before it clears
    stat = "mean"         # which window statistic is compared: min, max, mean or last
    severity = "critical"
    summary = "Battery temperature above 60 degC for 2 s"

A ``[defaults]`` table gives any of ``stat``, ``for_s``, ``clear_margin``, ``clear_for_s`` and
``severity`` to every limit that leaves them out; ``[grafana]`` says how Grafana evaluates its
mirror of the alarms (``interval``, ``lookback``).

Evaluation, exactly (per limit, on the window statistic ``v`` of every closed smallest window
[start, end) in session time):

- inactive: a window with ``v`` beyond the limit (``v > above``, ``v < below``) starts a run at its
  start, or continues one; the limit raises at the end of the window where ``end - run start >=
  for_s``. Any other window ends the run.
- active: a window with ``v`` back inside by the margin (``v <= above - clear_margin``, ``v >=
  below + clear_margin``) starts or continues a clear run; the alarm clears at the end of the
  window where that run has lasted ``clear_for_s``. A window between the limit and the margin
  ends the clear run but not the alarm: values hovering around the limit never flap.
- a window without the channel, or a gap in session time between windows, ends any run.

State (active or not, and the current run's start) is per session and limit name, checkpointed
with the session, so a changed file keeps the state of the limits it still names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from p424.derived.dimensions import UnitError, parse_unit
from p424.derived.files import DefinitionError, Source, check_keys, entries, typed
from p424.derived.maths import MathsSet
from p424.storage.schema import WINDOW_STATS

SEVERITIES = ("info", "warning", "critical")
RAISE, CLEAR = "raise", "clear"
EPS_S = 1e-6
_LIMIT_KEYS = ("stat", "for_s", "clear_margin", "clear_for_s", "severity")


@dataclass(frozen=True, kw_only=True)
class Limit:
    name: str
    channel: str
    column: int  # the channel's column in the extended block
    direction: Literal["above", "below"]
    threshold: float  # in the channel's stored unit
    clear_margin: float  # in the channel's stored unit
    for_s: float
    clear_for_s: float
    stat: str
    severity: str
    summary: str
    unit: str  # the unit the file wrote the thresholds in (what people read)
    factor: float  # a value in the channel's unit times this is in ``unit``

    def beyond(self, v: float) -> bool:
        return v > self.threshold if self.direction == "above" else v < self.threshold

    def back_inside(self, v: float) -> bool:
        if self.direction == "above":
            return v <= self.threshold - self.clear_margin
        return v >= self.threshold + self.clear_margin

    def shown(self, v: float) -> str:
        """A stored value as the file writes it: ``61.2 degC``."""
        return f"{v * self.factor:.4g} {self.unit}".rstrip()


@dataclass(frozen=True, kw_only=True)
class GrafanaSettings:
    interval: str = "10s"  # how often Grafana evaluates the mirrored rules
    lookback: str = "6h"  # how far back a rule looks for a session's latest transition


@dataclass(frozen=True)
class AlarmSet:
    limits: tuple[Limit, ...]
    source: str
    grafana: GrafanaSettings = GrafanaSettings()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(limit.name for limit in self.limits)

    @cached_property
    def _signs(self) -> npt.NDArray[np.float32]:
        return np.array([1.0 if x.direction == "above" else -1.0 for x in self.limits], dtype=np.float32)

    @cached_property
    def _signed_thresholds(self) -> npt.NDArray[np.float32]:
        return np.array([x.threshold for x in self.limits], dtype=np.float32) * self._signs

    def gather(self, stats: Sequence[npt.NDArray[np.floating[Any]]]) -> tuple[npt.NDArray[np.float32], bool]:
        """Every limit's window value (``stats``: the window's vectors in WINDOW_STATS order, each
        as wide as the extended block), and whether any is beyond its limit: one gather and one
        comparison for all limits, so a quiet window costs a few numpy calls."""
        width = len(stats[0])
        flat = self._flat.get(width)
        if flat is None:
            flat = self._flat[width] = np.array(
                [_STAT_INDEX[x.stat] * width + x.column for x in self.limits], dtype=np.intp
            )
        values = np.concatenate(stats)[flat].astype(np.float32, copy=False)
        beyond = bool((values * self._signs > self._signed_thresholds).any())  # NaN (absent) compares false
        return values, beyond

    @cached_property
    def _flat(self) -> dict[int, npt.NDArray[np.intp]]:
        return {}


@dataclass(kw_only=True)
class LimitState:
    """One limit's state in one session (checkpointed)."""

    active: bool = False
    run_start: float | None = None  # start of the current run (towards raising, or towards clearing)
    last_end: float | None = None  # end of the last window seen


@dataclass(frozen=True, kw_only=True)
class Transition:
    limit: Limit
    kind: str  # RAISE or CLEAR
    sim_time: float  # end of the window that decided it
    since: float  # start of the run that led to it
    value: float  # the window statistic that decided it, in the channel's stored unit

    @property
    def summary(self) -> str:
        """One line for people: the limit's summary and the value that decided it."""
        shown = f"{self.limit.channel} {self.limit.stat} {self.limit.shown(self.value)}"
        if self.kind == RAISE:
            return f"{self.limit.summary} ({shown})"
        return f"cleared: {self.limit.summary} ({shown})"


class AlarmTracker:
    """Every limit's state in one session (the checkpointed part; definitions are passed in)."""

    def __init__(self) -> None:
        self.states: dict[str, LimitState] = {}

    def retain(self, alarms: AlarmSet) -> None:
        """Another definition file: limits it still names keep their state, new ones start inactive."""
        self.states = {name: st for name, st in self.states.items() if name in alarms.names}

    def on_window(
        self, alarms: AlarmSet, start: float, end: float, stats: Sequence[npt.NDArray[np.floating[Any]]]
    ) -> list[Transition]:
        """The transitions one closed window causes. ``stats``: per statistic (WINDOW_STATS order),
        the window's value per column of the extended block."""
        out: list[Transition] = []
        if not alarms.limits:
            return out
        states = self.states
        values, beyond = alarms.gather(stats)
        if not beyond and not any(st.active or st.run_start is not None for st in states.values()):
            return out  # nothing active, no run, nothing beyond: the usual window
        for limit, v in zip(alarms.limits, values.tolist(), strict=True):
            st = states.get(limit.name)
            if st is None:
                st = states[limit.name] = LimitState()
            if st.run_start is not None and st.last_end is not None and start > st.last_end + EPS_S:
                st.run_start = None  # a gap in session time: no run survives it
            st.last_end = end
            if math.isnan(v):
                st.run_start = None
                continue
            moving = limit.back_inside(v) if st.active else limit.beyond(v)
            if not moving:
                st.run_start = None
                continue
            if st.run_start is None:
                st.run_start = start
            needed = limit.clear_for_s if st.active else limit.for_s
            if end - st.run_start + EPS_S >= needed:
                kind = CLEAR if st.active else RAISE
                out.append(Transition(limit=limit, kind=kind, sim_time=end, since=st.run_start, value=v))
                st.active = not st.active
                st.run_start = None
        return out


_STAT_INDEX = {s: i for i, s in enumerate(WINDOW_STATS)}


# ------------------------------------------------------------------ the definition file
def parse_alarms(source: Source, maths: MathsSet) -> AlarmSet:
    """Check an alarms file; DefinitionError naming the file, the limit and the problem."""
    doc = source.document()
    unknown = sorted(set(doc) - {"limit", "defaults", "grafana"})
    if unknown:
        raise DefinitionError(f"{source.path}: unknown section {unknown} (limits are [[limit]] entries)")
    defaults = doc.get("defaults", {})
    check_keys(source, "[defaults]", defaults, (), _LIMIT_KEYS)
    grafana_doc = doc.get("grafana", {})
    check_keys(source, "[grafana]", grafana_doc, (), ("interval", "lookback"))
    grafana = GrafanaSettings(**{k: typed(source, "[grafana]", grafana_doc, k, str) for k in grafana_doc})
    limits: list[Limit] = []
    for i, raw in enumerate(entries(source, doc, "limit"), 1):
        entry = {**defaults, **raw}
        what = f"limit #{i} ({raw.get('name', '?')!r})"
        check_keys(
            source,
            what,
            entry,
            ("name", "channel", "for_s", "summary"),
            ("above", "below", "unit", "clear_margin", "clear_for_s", "stat", "severity"),
        )
        limits.append(_limit(source, what, entry, maths))
    names = [limit.name for limit in limits]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DefinitionError(f"{source.path}: limit {twice[0]!r} is defined twice")
    return AlarmSet(tuple(limits), source.path, grafana)


def _limit(source: Source, what: str, entry: dict[str, object], maths: MathsSet) -> Limit:
    name = typed(source, what, entry, "name", str)
    if not name.replace("_", "").isalnum() or not name.islower():
        raise DefinitionError(f"{source.path}: {what}: the name must be snake_case")
    channel = typed(source, what, entry, "channel", str)
    try:
        column = maths.resolve(channel)
    except ValueError as err:
        raise DefinitionError(f"{source.path}: {what}: {err}") from None
    if ("above" in entry) == ("below" in entry):
        raise DefinitionError(f"{source.path}: {what}: give exactly one of 'above' or 'below'")
    stored = maths.unit_of(channel)
    unit_text = typed(source, what, entry, "unit", str) if "unit" in entry else str(stored)
    try:
        to_stored = parse_unit(unit_text).factor_to(stored)
    except UnitError as err:
        raise DefinitionError(f"{source.path}: {what}: channel {channel!r}: {err}") from None
    direction: Literal["above", "below"] = "above" if "above" in entry else "below"
    threshold = typed(source, what, entry, direction, float) * to_stored
    margin = typed(source, what, entry, "clear_margin", float) * to_stored if "clear_margin" in entry else 0.0
    stat = typed(source, what, entry, "stat", str) if "stat" in entry else "mean"
    severity = typed(source, what, entry, "severity", str) if "severity" in entry else "warning"
    durations = {k: typed(source, what, entry, k, float) for k in ("for_s", "clear_for_s") if k in entry}
    if stat not in WINDOW_STATS:
        raise DefinitionError(f"{source.path}: {what}: stat is one of {', '.join(WINDOW_STATS)}, not {stat!r}")
    if severity not in SEVERITIES:
        raise DefinitionError(f"{source.path}: {what}: severity is one of {', '.join(SEVERITIES)}, not {severity!r}")
    if margin < 0 or any(v < 0 for v in durations.values()):
        raise DefinitionError(f"{source.path}: {what}: durations and the clear margin cannot be negative")
    return Limit(
        name=name,
        channel=channel,
        column=column,
        direction=direction,
        threshold=threshold,
        clear_margin=margin,
        for_s=durations["for_s"],
        clear_for_s=durations.get("clear_for_s", durations["for_s"]),
        stat=stat,
        severity=severity,
        summary=typed(source, what, entry, "summary", str),
        unit=unit_text,
        factor=1.0 / to_stored,
    )
