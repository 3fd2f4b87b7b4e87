"""Frozen dataclasses that travel as JSON between the training steps (Airflow XComs, MLflow artifacts).

``JsonRecord.to_dict`` gives plain JSON values (tuples as lists, nested records as dicts);
``from_dict`` rebuilds the record from such a dict, checking every field against its annotation and
naming the record and field that do not fit, so a step never reads a result back by string key.
Supported annotations: the JSON scalars (``int``, ``float``, ``str``, ``bool``), ``X | None``,
``tuple[X, ...]``, ``dict[str, X]``, nested ``JsonRecord``s and ``Any``.

Standard library only: Airflow's environment imports the step records.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Self, TypeVar, Union, get_args, get_origin, get_type_hints

R = TypeVar("R", bound="JsonRecord")


class JsonRecord:
    """Mixin for frozen dataclasses exchanged as JSON."""

    def to_dict(self) -> dict[str, Any]:
        out = _encode(self)
        assert isinstance(out, dict)
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Self:
        return _decode_record(cls, doc, cls.__name__)


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode_record(cls: type[R], doc: object, where: str) -> R:
    if not isinstance(doc, Mapping):
        raise ValueError(f"{where}: expected an object for {cls.__name__}, got {type(doc).__name__}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(doc) - set(fields)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)} for {cls.__name__}; known: {sorted(fields)}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name in doc:
            values[name] = _decode(hints[name], doc[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}: missing field {name!r} of {cls.__name__}")
    return cls(**values)


def _decode(hint: Any, value: object, where: str) -> Any:
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(option, value, where)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError("; ".join(errors))
    if isinstance(hint, type) and issubclass(hint, JsonRecord):
        return _decode_record(hint, value, where)
    if origin is tuple:
        args = get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (dict, Mapping, typing.Mapping):
        _, value_type = get_args(hint)
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
        return {str(k): _decode(value_type, v, f"{where}[{k!r}]") for k, v in value.items()}
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint in (str, bool):
        if isinstance(value, hint):
            return value
    else:
        raise TypeError(f"{where}: annotation {hint!r} is not supported by JsonRecord")
    raise ValueError(f"{where}: expected {hint.__name__}, got {value!r}")
