"""The ways to run the platform behind one interface: the `Platform` protocol, choosing one, the status table.

NativePlatform (local processes, single or cluster topology) and ComposePlatform (docker compose)
both implement `Platform`; the commands only use what it declares, and mypy checks both classes
against it (the assignments at the bottom).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from launcher import console
from launcher.console import PlatformError
from launcher.paths import StatePaths
from launcher.services.base import ServiceStatus
from p424.config import Config, load_config

MODES = ("native", "compose", "auto")


class Platform(Protocol):
    """What `up`, `down`, `status`, `logs`, `install`, `demo` and `test` need from a way of running the platform."""

    mode: str  # "native" | "compose"
    cfg: Config  # the resolved settings the platform runs with
    paths: StatePaths

    def install(self) -> None:
        """Install or update every component without starting anything."""

    def up(self) -> float:
        """Start everything and wait until healthy; returns the seconds it took. Idempotent."""

    def down(self, wipe: bool = False) -> float:
        """Stop everything (``wipe``: and delete the data); returns the seconds it took."""

    def status(self) -> list[ServiceStatus]:
        """One row per service (per node of a replicated service)."""

    def logs(self, name: str, lines: int, follow: bool) -> int:
        """Print a service's log; returns an exit code."""

    def all_healthy(self) -> bool: ...


def resolve_mode(requested: str | None, overrides: Mapping[str, str]) -> str:
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


def open_platform(requested_mode: str | None, overrides: Mapping[str, str]) -> Platform:
    """The platform for ``--mode`` (or PLATFORM_MODE): imported on demand, each pulls in its own services."""
    if resolve_mode(requested_mode, overrides) == "compose":
        from launcher.compose import ComposePlatform

        return ComposePlatform(overrides)
    from launcher.native import NativePlatform

    return NativePlatform(overrides)


def print_status(platform: Platform, as_json: bool = False) -> bool:
    """The status table (or JSON); True when every configured service is healthy."""
    rows = platform.status()
    topology = platform.cfg.platform_topology
    if as_json:
        print(
            json.dumps(
                {"mode": platform.mode, "topology": topology, "services": [r.as_json() for r in rows]}, indent=2
            )
        )
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
        memory = f"total resident memory: {total / 2**30:.2f} GiB   " if total else ""
        print(f"\n{memory}(mode: {platform.mode}, topology: {topology}, state: {platform.paths.root})")
    return all(r.healthy for r in rows if r.state not in ("not configured",))


if TYPE_CHECKING:  # mypy holds both platforms to the protocol; nothing runs here
    from launcher.compose import ComposePlatform
    from launcher.native import NativePlatform

    _native: type[Platform] = NativePlatform
    _compose: type[Platform] = ComposePlatform
