"""`./launchcommand.sh` command line: one entry point for bring-up, data tools, ML and tests."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from launcher import console
from launcher.console import PlatformError
from p424.config import REPO_ROOT, load_config

Handler = Callable[[argparse.Namespace, dict[str, str]], int]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], object], Handler]] = {}


def command(
    name: str, help_text: str, configure: Callable[[argparse.ArgumentParser], object] = lambda p: None
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = (help_text, configure, fn)
        return fn

    return register


def resolve_mode(requested: str | None, overrides: dict[str, str]) -> str:
    mode = requested or load_config(overrides=overrides).platform_mode
    if mode in ("native", "compose"):
        return mode
    if mode != "auto":
        raise PlatformError(f"--mode must be native, compose or auto, not {mode!r}")
    if shutil.which("docker"):
        answered = subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
        if answered:
            return "compose"
    return "native"


def _platform(args: argparse.Namespace, overrides: dict[str, str]) -> Any:
    mode = resolve_mode(args.mode, overrides)
    if mode == "compose":
        from launcher.compose import ComposePlatform

        return ComposePlatform(overrides)
    from launcher.native import NativePlatform

    return NativePlatform(overrides)


def print_status(platform: Any, as_json: bool = False) -> bool:
    rows = platform.status()
    if as_json:
        print(json.dumps({"mode": platform.mode, "services": [r.as_json() for r in rows]}, indent=2))
    else:
        table_rows = [
            [
                r.name,
                r.state,
                ",".join(map(str, r.pids)) or "-",
                r.port or "-",
                "yes" if r.healthy else "no",
                f"{r.rss_bytes / 2**20:.0f} MB" if r.rss_bytes else "-",
                r.url,
                r.detail,
            ]
            for r in rows
        ]
        print(console.table(["service", "state", "pid", "port", "healthy", "memory", "url", "detail"], table_rows))
        total = sum(r.rss_bytes for r in rows)
        if total:
            print(
                f"\ntotal resident memory: {total / 2**30:.2f} GiB   (mode: {platform.mode}, state: "
                f"{platform.paths.root})"
            )
    return all(r.healthy for r in rows if r.state not in ("not configured",))


# ---------------------------------------------------------------- bring-up
@command("up", "install what is missing, start every service, provision, submit jobs (default)")
def cmd_up(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    platform = _platform(args, overrides)
    elapsed = platform.up()
    print()
    print_status(platform)
    console.info(f"platform is up in {elapsed:.1f} s. Stream a session: ./launchcommand.sh simulate --laps 2")
    return 0


@command("install", "install or update every component without starting anything")
def cmd_install(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    _platform(args, overrides).install()
    return 0


@command(
    "down",
    "stop everything this platform started (data kept; --wipe deletes it)",
    lambda p: p.add_argument("--wipe", action="store_true", help="also delete all service data"),
)
def cmd_down(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    elapsed = _platform(args, overrides).down(wipe=args.wipe)
    console.info(f"platform stopped in {elapsed:.1f} s" + (" and its data wiped" if args.wipe else "; data kept"))
    return 0


@command(
    "status",
    "one row per service: state, PID, port, health, URL",
    lambda p: p.add_argument("--json", action="store_true", help="machine-readable output"),
)
def cmd_status(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return 0 if print_status(_platform(args, overrides), args.json) else 1


def _logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("service", help="service or process name (e.g. kafka, airflow-scheduler, bridge)")
    p.add_argument("-n", "--lines", type=int, default=100)
    p.add_argument("-f", "--follow", action="store_true")


@command("logs", "show a service's log", _logs_args)
def cmd_logs(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return int(_platform(args, overrides).logs(args.service, args.lines, args.follow))


@command("provision", "create topics, buckets and the Cassandra schema in already-running services (idempotent)")
def cmd_provision(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from launcher import provision

    cfg = load_config(overrides=overrides)
    for what, fn in (
        ("buckets", provision.ensure_buckets),
        ("topics", provision.provision_topics),
        ("schema", provision.ensure_schema),
    ):
        with console.step(f"provision {what}"):
            for change in fn(cfg):
                console.info(f"  {change}")
    return 0


# ---------------------------------------------------------------- tests
def _test_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra arguments for pytest (e.g. -k codec)")
    p.add_argument("--no-lint", action="store_true", help="skip ruff and mypy")


@command(
    "test", "install what is missing, bring the native stack up if needed, run checks and the test suite", _test_args
)
def cmd_test(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from launcher.native import NativePlatform
    from launcher.toolchain import ensure_test_tools

    platform = NativePlatform(overrides)
    ensure_test_tools()
    if not platform.all_healthy():
        platform.up()
    env = {**os.environ, **overrides}
    python = str(platform.paths.venv_python("platform"))
    results: list[tuple[str, int]] = []
    if not args.no_lint:
        results.append(
            ("ruff", subprocess.run([python, "-m", "ruff", "check", "."], cwd=REPO_ROOT, env=env).returncode)
        )
        results.append(("mypy", subprocess.run([python, "-m", "mypy"], cwd=REPO_ROOT, env=env).returncode))
    extra = [a for a in args.pytest_args if a != "--"]
    results.append(("pytest", subprocess.run([python, "-m", "pytest", *extra], cwd=REPO_ROOT, env=env).returncode))
    for name, code in results:
        (console.info if code == 0 else console.error)(f"{name}: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return max(code for _, code in results)


# ---------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="./launchcommand.sh",
        description="PERRINN 424 telemetry platform. Settings: defaults < toolchain-config.env < environment < --set.",
    )
    parser.add_argument(
        "--mode",
        choices=["native", "compose", "auto"],
        default=None,
        help="native processes or docker compose (default: compose when a Docker engine answers)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting (repeatable)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, configure, _) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--mode", choices=["native", "compose", "auto"], default=argparse.SUPPRESS)
        p.add_argument("--set", action="append", default=argparse.SUPPRESS, metavar="KEY=VALUE")
        configure(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `./launchcommand.sh laps | head` ends quietly
    parser = build_parser()
    args = parser.parse_args(argv)
    command_name = args.command or "up"
    if args.command is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "up"])
    overrides: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip().upper()] = value
    try:
        return COMMANDS[command_name][2](args, overrides)
    except PlatformError as err:
        console.error(str(err))
        return 1
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130


# Data, ML and Grafana commands register themselves on import.
from launcher import commands as _commands  # noqa: E402,F401
from launcher import commands_grafana as _commands_grafana  # noqa: E402,F401
from launcher import commands_ml as _commands_ml  # noqa: E402,F401
