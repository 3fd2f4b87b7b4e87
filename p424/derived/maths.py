"""Maths channels: engineers' expressions over catalog channels, computed for every frame in the stream job.

They are defined in one reviewable TOML file (``MATHS_CHANNELS_FILE``, by default
``config/maths_channels.toml``), one ``[[channel]]`` entry each::

    [[channel]]
    name = "power_mechanical_front"
    unit = "kW"
    expression = 'convert(torque_mechanical_front * motor_rpm_front, "kW")'
    description = "Front MGU shaft power: torque times speed"

An expression may use catalog channels, the header's ``sim_time`` and ``lap_distance``, and other
maths channels of the file, in any order as long as they form no cycle (the language is in
``p424.derived.expressions``). Loading checks everything and stops at the first problem with a
``DefinitionError`` naming the file, the channel and what is wrong: bad syntax, an unknown
channel, a unit that does not match the declared one, a cycle, or a name that clashes with a
catalog channel or a stored column.

In the stream job each block of frames (the frames of the smallest window, a frames x channels
array) gets one column per maths channel, appended after the catalog's payload channels; window
statistics and alarms then treat them like any other channel. A value that comes out infinite or
undefined (a division by zero) is stored as absent.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog
from p424.derived.dimensions import Unit, UnitError, parse_unit
from p424.derived.expressions import FUNCTIONS, ExprError, NameTable, Node, Program, check, names_in, parse, program
from p424.derived.files import DefinitionError, Source, check_keys, entries, typed
from p424.storage.schema import WINDOW_STATS, window_stat_columns

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

HEADER_INPUTS = ("sim_time", "lap_distance")  # header channels an expression may read
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Columns of channel_windows that are not per-channel statistics: a maths column must not collide.
_WINDOW_COLUMNS = frozenset(
    {"session_id", "window_ms", "lap", "part", "ts", "window_start", "lap_time", "lap_distance", "frame_count"}
)


@dataclass(frozen=True, kw_only=True)
class MathsChannel:
    name: str
    unit: str
    expression: str
    description: str = ""


@dataclass(frozen=True)
class MathsSet:
    """Maths channels checked against a catalog: names and units in file order, ready to evaluate.

    ``extend`` appends their values to a block of frames; the column of a channel (catalog or
    maths) in that extended block is ``column(name)``.
    """

    channels: tuple[MathsChannel, ...]
    source: str
    catalog: Catalog = field(default=CATALOG, compare=False)
    nodes: tuple[Node, ...] = field(default=(), compare=False)  # per channel, file order
    order: tuple[int, ...] = field(default=(), compare=False)  # evaluation order (dependencies first)
    payload_inputs: tuple[int, ...] = field(default=(), compare=False)  # catalog payload columns read
    header_inputs: tuple[str, ...] = field(default=(), compare=False)  # header channels read

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @cached_property
    def units(self) -> tuple[str, ...]:
        return tuple(c.unit for c in self.channels)

    @cached_property
    def _payload_index(self) -> npt.NDArray[np.intp]:
        return np.array(self.payload_inputs, dtype=np.intp)

    @cached_property
    def _programs(self) -> tuple[tuple[int, Program], ...]:
        """(channel, its program) in evaluation order; built on first use, after unpickling too."""
        return tuple((j, program(self.nodes[j])) for j in self.order)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_programs", None)  # closures do not pickle; rebuilt where the set is used
        return state

    @cached_property
    def _columns(self) -> dict[str, int]:
        n = len(self.catalog.payload_channels)
        return {**self.catalog.payload_index, **{name: n + j for j, name in enumerate(self.names)}}

    def __len__(self) -> int:
        return len(self.channels)

    def column(self, name: str) -> int | None:
        """A channel's column in an extended block: catalog payload channels first, then maths channels."""
        return self._columns.get(name)

    def resolve(self, name: str) -> int:
        """``column(name)``, or a ValueError naming the unknown channel and the closest known ones."""
        column = self.column(name)
        if column is None:
            close = difflib.get_close_matches(name, list(self._columns), n=3, cutoff=0.75)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise ValueError(f"unknown channel {name!r}: not a catalog payload channel nor a maths channel{hint}")
        return column

    def unit_of(self, name: str) -> Unit:
        if name in self.catalog.payload_index:
            return parse_unit(self.catalog[name].unit)
        return parse_unit(self.channels[self.names.index(name)].unit)

    def extend(self, values: F32, sim_time: F64, lap_distance: F64) -> F32:
        """The block (frames x payload channels) with one more column per maths channel."""
        m = len(self.channels)
        if not m:
            return values
        n = values.shape[0]
        inputs = values[:, self._payload_index].T.astype(np.float64)  # (input, frame): rows to compute with
        slots: list[Any] = [*inputs]
        for h in self.header_inputs:
            slots.append(sim_time if h == "sim_time" else lap_distance)
        base = len(slots)
        slots += [None] * m  # each maths channel's slot is filled before anything reads it
        with np.errstate(all="ignore"):  # absent inputs and divisions by zero are expected
            for j, run in self._programs:
                value = run(slots)
                slots[base + j] = value if isinstance(value, np.ndarray) else np.full(n, value)
        maths = np.array(slots[base:], dtype=np.float32)  # (channel, frame), file order
        bad = ~np.isfinite(maths)
        if bad.any():
            maths[bad] = np.nan  # x / 0 and the like: absent, like a channel without a value
        return np.concatenate((values, maths.T), axis=1)


def parse_maths(source: Source, catalog: Catalog = CATALOG) -> MathsSet:
    """Check a maths-channel file against ``catalog``; DefinitionError at the first problem."""
    doc = source.document()
    unknown_tables = sorted(set(doc) - {"channel"})
    if unknown_tables:
        raise DefinitionError(f"{source.path}: unknown section {unknown_tables} (maths channels are [[channel]])")
    channels: list[MathsChannel] = []
    for i, entry in enumerate(entries(source, doc, "channel"), 1):
        what = f"maths channel #{i} ({entry.get('name', '?')!r})"
        check_keys(source, what, entry, ("name", "unit", "expression"), ("description",))
        channels.append(
            MathsChannel(
                name=typed(source, what, entry, "name", str),
                unit=typed(source, what, entry, "unit", str),
                expression=typed(source, what, entry, "expression", str),
                description=str(entry.get("description", "")),
            )
        )
    return compile_maths(channels, source.path, catalog)


def compile_maths(channels: Sequence[MathsChannel], path: str, catalog: Catalog = CATALOG) -> MathsSet:
    names = [c.name for c in channels]
    _check_names(channels, path, catalog)
    maths_index = {n: j for j, n in enumerate(names)}

    def fail(c: MathsChannel, problem: str) -> DefinitionError:
        return DefinitionError(f"{path}: maths channel {c.name!r} ({c.expression!r}): {problem}")

    # First pass: syntax, and what each expression reads (to order them and to find cycles).
    reads: list[list[str]] = []
    for c in channels:
        try:
            reads.append(names_in(parse(c.expression)))
        except ExprError as err:
            raise fail(c, str(err)) from None
    inputs = list(dict.fromkeys(n for r in reads for n in r if n not in maths_index))
    payload = [n for n in inputs if n in catalog.payload_index]
    header = [n for n in HEADER_INPUTS if n in inputs]
    table: dict[str, tuple[int, Unit]] = {}
    for slot, n in enumerate([*payload, *header]):
        table[n] = (slot, parse_unit(catalog[n].unit))
    base = len(table)
    declared: list[Unit] = []
    for c in channels:
        try:
            declared.append(parse_unit(c.unit))
        except UnitError as err:
            raise fail(c, f"declared {err}") from None
    for j, n in enumerate(names):
        table[n] = (base + j, declared[j])
    resolver = _Resolver(table, catalog)
    order = _dependency_order(channels, reads, maths_index, fail)
    nodes: list[Node] = []
    for j, c in enumerate(channels):
        try:
            checked = check(c.expression, resolver)
        except ExprError as err:
            raise fail(c, str(err)) from None
        if checked.unit is not None and not checked.unit.same(declared[j]):
            hint = (
                f'; convert(..., "{c.unit}") gives it in the declared unit'
                if checked.unit.same_dimension(declared[j])
                else ""
            )
            raise fail(
                c,
                f"unit mismatch: the expression gives {checked.unit} ({checked.unit.describe()}) but the channel "
                f"declares {c.unit or '(no unit)'} ({declared[j].describe()}){hint}",
            )
        nodes.append(checked.node)
    return MathsSet(
        channels=tuple(channels),
        source=path,
        catalog=catalog,
        nodes=tuple(nodes),
        order=order,
        payload_inputs=tuple(catalog.payload_index[n] for n in payload),
        header_inputs=tuple(header),
    )


class _Resolver(NameTable):
    def __init__(self, table: dict[str, tuple[int, Unit]], catalog: Catalog) -> None:
        super().__init__(table)
        self.catalog = catalog

    def resolve(self, name: str) -> tuple[int, Unit]:
        if name not in self.table and name in self.catalog.by_name:
            readable = ", ".join(HEADER_INPUTS)
            raise ExprError(f"{name!r} is a header channel expressions cannot read (they read {readable})")
        return super().resolve(name)

    def known(self) -> Sequence[str]:
        return [*self.catalog.payload_names, *HEADER_INPUTS, *self.table]


def _check_names(channels: Sequence[MathsChannel], path: str, catalog: Catalog) -> None:
    taken = set(window_stat_columns(catalog)) | _WINDOW_COLUMNS
    seen: set[str] = set()
    for c in channels:
        where = f"{path}: maths channel {c.name!r}"
        if not _NAME.match(c.name):
            raise DefinitionError(f"{where}: the name must be snake_case (lower-case letters, digits, underscores)")
        if c.name in catalog.by_name:
            raise DefinitionError(f"{where}: the name clashes with the catalog channel of that name")
        if c.name in FUNCTIONS or c.name == "None":
            raise DefinitionError(f"{where}: the name clashes with the function {c.name}()")
        if c.name in seen:
            raise DefinitionError(f"{where}: defined twice")
        clash = sorted(col for col in (f"{c.name}_{s}" for s in WINDOW_STATS) if col in taken)
        if clash:
            raise DefinitionError(f"{where}: its window column {clash[0]!r} clashes with a stored column")
        seen.add(c.name)


def _dependency_order(
    channels: Sequence[MathsChannel],
    reads: Sequence[Sequence[str]],
    index: dict[str, int],
    fail: Callable[[MathsChannel, str], DefinitionError],
) -> tuple[int, ...]:
    """Channels in an order that evaluates each after the maths channels it reads (file order otherwise)."""
    order: list[int] = []
    state = [0] * len(channels)  # 0 new, 1 on the current path, 2 done

    def visit(j: int, path: list[int]) -> None:
        if state[j] == 2:
            return
        if state[j] == 1:
            cycle = [channels[k].name for k in path[path.index(j) :]] + [channels[j].name]
            what = "refers to itself" if len(cycle) == 2 else "is part of a cycle"
            raise fail(channels[j], f"{what}: {' -> '.join(cycle)}")
        state[j] = 1
        for name in reads[j]:
            if name in index:
                visit(index[name], [*path, j])
        state[j] = 2
        order.append(j)

    for j in range(len(channels)):
        visit(j, [])
    return tuple(order)
