"""One record built from another by field name: the fields two dataclasses share, never their positions."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Collection, Iterator
from typing import Any


class SharedFields:
    """The fields of ``target`` that ``source`` also has (less ``leave``), in ``target``'s order.

    Read once per pair of types; reading them from a record is then one ``attrgetter`` call, cheap
    enough for the sink's per-window messages.
    """

    def __init__(self, source: type[Any], target: type[Any], *, leave: Collection[str] = ()) -> None:
        have = {f.name for f in dataclasses.fields(source)}
        self.names = tuple(f.name for f in dataclasses.fields(target) if f.name in have and f.name not in leave)
        if len(self.names) < 2:  # attrgetter of one name returns the value, not a tuple
            raise ValueError(f"{source.__name__} and {target.__name__} share {self.names}: copy it by hand")
        self._values: Callable[[object], tuple[Any, ...]] = operator.attrgetter(*self.names)

    def items(self, record: object) -> Iterator[tuple[str, Any]]:
        """(name, value) of each shared field of ``record``."""
        return zip(self.names, self._values(record), strict=False)  # the same length by construction

    def of(self, record: object) -> dict[str, Any]:
        """The shared fields of ``record`` as keyword arguments for ``target``."""
        return dict(self.items(record))
