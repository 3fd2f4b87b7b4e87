"""Reading the definition files (TOML): tables of entries, each checked for unknown and missing keys.

Errors are ``DefinitionError`` and name the file, the entry and what is wrong, so an engineer who
mistyped a key or a channel sees which line of which file to fix before anything runs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p424.config import REPO_ROOT


class DefinitionError(ValueError):
    """A definition file that cannot be used, with the file and the entry named."""


@dataclass(frozen=True)
class Source:
    """A definition file's text and where it came from (for messages and for the job's digest)."""

    path: str
    text: str

    @classmethod
    def read(cls, path: str | Path) -> Source:
        p = Path(path)
        if not p.is_absolute():
            p = REPO_ROOT / p
        try:
            return cls(str(p.relative_to(REPO_ROOT)) if p.is_relative_to(REPO_ROOT) else str(p), p.read_text())
        except OSError as err:
            raise DefinitionError(f"{p}: cannot read the definitions: {err.strerror}") from None

    def document(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as err:
            raise DefinitionError(f"{self.path}: not valid TOML: {err}") from None


def entries(source: Source, doc: Mapping[str, Any], table: str) -> list[dict[str, Any]]:
    """The ``[[table]]`` entries of a document (none when absent)."""
    items = doc.get(table, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise DefinitionError(f"{source.path}: '{table}' must be a list of tables ([[{table}]] entries)")
    return items


def check_keys(
    source: Source, what: str, entry: Mapping[str, Any], required: Sequence[str], optional: Sequence[str]
) -> None:
    missing = [k for k in required if k not in entry]
    if missing:
        raise DefinitionError(f"{source.path}: {what}: missing {', '.join(repr(k) for k in missing)}")
    unknown = sorted(set(entry) - set(required) - set(optional))
    if unknown:
        allowed = ", ".join(repr(k) for k in (*required, *optional))
        raise DefinitionError(f"{source.path}: {what}: unknown key {', '.join(map(repr, unknown))} (keys: {allowed})")


def typed(source: Source, what: str, entry: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``entry[key]`` if it is of ``kind`` (ints count as floats; bools never count as numbers)."""
    value = entry[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        names = " or ".join(k.__name__ for k in kinds)
        raise DefinitionError(f"{source.path}: {what}: {key!r} must be a {names}, not {value!r}")
    return value
