"""``python -m p424.catalog register`` writes the current catalog's version file (once);
``python -m p424.catalog check`` exits 1 when it is missing; ``show`` prints the versions."""

from __future__ import annotations

import argparse
import sys

from p424.catalog import CATALOG
from p424.catalog.history import register, unregistered


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m p424.catalog")
    p.add_argument("action", choices=["register", "check", "show"])
    action = p.parse_args().action
    if action == "register":
        path = register(CATALOG)
        print(f"registered {path}" if path else f"catalog {CATALOG.version} ({CATALOG.hash_hex}) is registered")
        return 0
    if action == "check":
        problem = unregistered(CATALOG)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    for c in sorted(CATALOG.history.values(), key=lambda c: c.version):
        current = " (current)" if c is CATALOG else ""
        print(f"{c.version}  {c.hash_hex}  {len(c.payload_channels)} payload channels{current}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
