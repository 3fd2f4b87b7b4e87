"""`./launchcommand.sh` command line: one entry point for bring-up, data tools, ML and tests.

The commands are the table in launcher.command_table; this module only turns it into a parser
and runs the chosen handler.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from launcher import console
from launcher.command_table import COMMANDS
from launcher.console import PlatformError
from launcher.platforms import MODES

DEFAULT_COMMAND = "up"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="./launchcommand.sh",
        description="PERRINN 424 telemetry platform. Settings: defaults < toolchain-config.env < environment < --set.",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="native processes or docker compose (default: compose when a Docker engine answers)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting (repeatable)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        p.add_argument("--mode", choices=MODES, default=argparse.SUPPRESS)
        p.add_argument("--set", action="append", default=argparse.SUPPRESS, metavar="KEY=VALUE")
        command.arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command_name = args.command or DEFAULT_COMMAND
    if args.command is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), DEFAULT_COMMAND])
    overrides: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip().upper()] = value
    try:
        return COMMANDS[command_name].run(args, overrides)
    except PlatformError as err:
        console.error(str(err))
        return 1
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
