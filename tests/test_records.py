"""Records built from records by field name (p424.records)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from p424.records import fields_from


@dataclass(frozen=True, kw_only=True)
class Source:
    a: int
    b: str
    c: float
    extra: bool


@dataclass(frozen=True, kw_only=True)
class Target:
    c: float
    a: int
    given: list[int]
    b: str


def test_fields_are_copied_by_name_in_the_targets_order() -> None:
    copy = fields_from(Source, Target, "given")
    kwargs = copy(Source(a=1, b="x", c=2.5, extra=True), [7])
    assert list(kwargs) == ["c", "a", "given", "b"]
    assert Target(**kwargs) == Target(c=2.5, a=1, given=[7], b="x")


def test_a_field_neither_shared_nor_given_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="given"):
        fields_from(Source, Target)
    with pytest.raises(ValueError, match="nope"):
        fields_from(Source, Target, "given", "nope")
