"""Reading records by field name, with functions compiled once per record type.

``fields_from`` builds one record's keyword arguments from another record's fields of the same
names, never by position; ``p424.storage.writes`` compiles each table's parameter tuple the same
way (``compile_reader``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any


def compile_reader(source: str, scope: Mapping[str, object] | None = None) -> Callable[..., Any]:
    """The ``lambda`` in ``source``, which reads record fields into a tuple or dict display.

    Compiled once per record type, as dataclasses compile ``__init__``: a display of attribute
    reads costs what a hand-written one does, while ``operator.attrgetter`` plus zipping or
    concatenating its tuple measured up to twice as slow on the sink's per-frame and per-window
    paths. Callers build ``source`` from dataclass field names and their own argument names only.
    """
    fn: Callable[..., Any] = eval(source, dict(scope or {}))
    return fn


def fields_from(source: type[Any], target: type[Any], *given: str) -> Callable[..., dict[str, Any]]:
    """``copy(record, *given values)``: keyword arguments for ``target``, in its field order.

    Each field of ``target`` is read from the ``source`` record by name, except those named in
    ``given``, which the caller passes in that order (fields ``source`` lacks, or computes
    differently). A ``target`` field that is neither is a ValueError here, not a wrong message later.
    """
    have = {f.name for f in dataclasses.fields(source)}
    unknown = set(given) - {f.name for f in dataclasses.fields(target)}
    if unknown:
        raise ValueError(f"{target.__name__} has no field {sorted(unknown)}")
    items = []
    for f in dataclasses.fields(target):
        if f.name in given:
            items.append(f"{f.name!r}: {f.name}")
        elif f.name in have:
            items.append(f"{f.name!r}: r.{f.name}")
        else:
            raise ValueError(f"{source.__name__} has no field {f.name!r} for {target.__name__}: pass it")
    return compile_reader(f"lambda {', '.join(['r', *given])}: {{{', '.join(items)}}}")
