"""Bring-up commands of `./launchcommand.sh`: up, install, down, status, logs, provision, test."""

from __future__ import annotations

import argparse
import os
import subprocess

from launcher import console
from launcher.credentials import config_as, credentials_of
from launcher.platforms import open_platform, print_status
from p424.config import REPO_ROOT


def cmd_up(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    platform = open_platform(args.mode, overrides)
    elapsed = platform.up()
    print()
    print_status(platform)
    console.info(f"platform is up in {elapsed:.1f} s. Stream a session: ./launchcommand.sh simulate --laps 2")
    return 0


def cmd_install(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    open_platform(args.mode, overrides).install()
    return 0


def down_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wipe", action="store_true", help="also delete all service data (and the recorded topology)")


def cmd_down(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    elapsed = open_platform(args.mode, overrides).down(wipe=args.wipe)
    console.info(f"platform stopped in {elapsed:.1f} s" + (" and its data wiped" if args.wipe else "; data kept"))
    return 0


def json_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_status(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return 0 if print_status(open_platform(args.mode, overrides), args.json) else 1


def logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("service", help="service, node or process name (e.g. kafka, kafka-2, airflow-scheduler, bridge)")
    p.add_argument("-n", "--lines", type=int, default=100)
    p.add_argument("-f", "--follow", action="store_true")


def cmd_logs(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return int(open_platform(args.mode, overrides).logs(args.service, args.lines, args.follow))


def cmd_provision(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from launcher import provision

    cfg = config_as("admin", overrides)
    for what, step in provision.steps(cfg, credentials_of(cfg)):
        with console.step(f"provision {what}"):
            for change in step():
                console.info(f"  {change}")
    return 0


def test_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra arguments for pytest (e.g. -k codec)")
    p.add_argument("--no-lint", action="store_true", help="skip ruff and mypy")


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
