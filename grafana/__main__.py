"""`python -m grafana generate [--check]`: render the dashboards and provisioning files."""

from __future__ import annotations

import argparse
import sys

from grafana.generate import ROOT, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write grafana/dashboards/*.json and the provisioning files")
    gen.add_argument("--check", action="store_true", help="fail if a committed file is stale; write nothing")
    args = parser.parse_args(argv)
    stale = generate(check=args.check)
    names = ", ".join(str(p.relative_to(ROOT.parent)) for p in stale)
    if args.check:
        if stale:
            print(f"stale: {names}; run `python -m grafana generate`", file=sys.stderr)
            return 1
        print("grafana files are current")
        return 0
    print(f"wrote {names}" if stale else "grafana files were already current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
