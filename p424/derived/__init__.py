"""What the stream job derives beyond windows and laps: maths channels, lap events and alarms.

Each is defined in one reviewable TOML file named by a setting (``MATHS_CHANNELS_FILE``,
``EVENTS_FILE``, ``ALARMS_FILE``; the defaults are in ``config/``) and checked when loaded:
an unknown channel, bad syntax, a unit mismatch or a cycle stops the load with an error naming
the file, the entry and the problem. The three are loaded together (events and alarms may use
maths channels) into one ``Definitions``, which the session processor evaluates per block of frames:

- ``maths``: expressions over catalog channels (``p424.derived.maths``, language in ``expressions``);
- ``events``: per lap, runs of frames beyond a threshold or carrying a marker bit (``events``);
- ``alarms``: limits with hysteresis on every smallest window (``alarms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from p424.catalog import CATALOG, Catalog
from p424.config import Config, load_config
from p424.derived.alarms import AlarmSet, parse_alarms
from p424.derived.events import EventSet, parse_events
from p424.derived.files import DefinitionError, Source
from p424.derived.maths import MathsSet, compile_maths, parse_maths

__all__ = ["DefinitionError", "Definitions", "Source", "default", "load", "none"]


@dataclass(frozen=True)
class Definitions:
    maths: MathsSet
    events: EventSet
    alarms: AlarmSet

    @property
    def empty(self) -> bool:
        return not (len(self.maths) or self.events.tracks or self.alarms.limits)


@lru_cache(maxsize=8)
def from_sources(maths: Source, events: Source, alarms: Source, catalog: Catalog = CATALOG) -> Definitions:
    """The three files checked together (cached: the same texts give the same object)."""
    m = parse_maths(maths, catalog)
    return Definitions(maths=m, events=parse_events(events, m), alarms=parse_alarms(alarms, m))


def sources(cfg: Config) -> tuple[Source, Source, Source]:
    return Source.read(cfg.maths_channels_file), Source.read(cfg.events_file), Source.read(cfg.alarms_file)


def load(cfg: Config) -> Definitions:
    """The definitions the configuration names (DefinitionError if a file is wrong)."""
    return from_sources(*sources(cfg))


def default() -> Definitions:
    """The definitions of this process's configuration (what processors use unless given others)."""
    return load(load_config())


@lru_cache(maxsize=1)
def none(catalog: Catalog = CATALOG) -> Definitions:
    """No maths channels, events or alarms: processing as it was before they existed."""
    m = compile_maths((), "(none)", catalog)
    return Definitions(maths=m, events=EventSet((), "(none)"), alarms=AlarmSet((), "(none)"))
