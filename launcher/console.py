"""Terminal output: step lines with timings, tables, and plain error messages that say what to do."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

_TTY = sys.stderr.isatty()


def _style(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if _TTY else text


def info(msg: str) -> None:
    print(f"{_style('1', '[p424]')} {msg}", file=sys.stderr, flush=True)


def warn(msg: str) -> None:
    print(f"{_style('33', '[p424] warning:')} {msg}", file=sys.stderr, flush=True)


def error(msg: str) -> None:
    print(f"{_style('31', '[p424] error:')} {msg}", file=sys.stderr, flush=True)


class PlatformError(RuntimeError):
    """A failure the user can act on; the message says what happened and what to do."""


@contextmanager
def step(what: str) -> Iterator[None]:
    start = time.monotonic()
    info(f"{what} ...")
    try:
        yield
    except BaseException:
        error(f"{what}: failed after {time.monotonic() - start:.1f} s")
        raise
    info(f"{what}: done in {time.monotonic() - start:.1f} s")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[("" if c is None else str(c)) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
