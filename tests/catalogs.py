"""Catalogs for tests: the current catalog grown by a channel, as the next one-line change makes it."""

from __future__ import annotations

from typing import Any

from p424.catalog import CATALOG, Catalog, Channel


def channel(name: str, **fields: Any) -> Channel:
    """A payload channel with plausible defaults for whatever the test does not care about."""
    args: dict[str, Any] = {"unit": "", "group": "test", "lo": 0.0, "hi": 1.0, "description": name}
    args.update(fields)
    return Channel(name=name, **args)


def grown(*extra: Channel, version: str = "99.0.0") -> Catalog:
    """The current catalog with ``extra`` appended, knowing every registered version (the current one too)."""
    return Catalog((*CATALOG.channels, *extra), version, history=CATALOG.history.values())
