"""What every native service provides: install, prepare, processes, health, status."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from launcher import console
from launcher.console import PlatformError
from launcher.installers import Installer
from launcher.paths import StatePaths
from launcher.probes import tcp_open, wait_until
from launcher.procs import ProcessSpec, Supervisor, rss_bytes
from p424.config import Config, parse_env_file
from p424.security.identities import IDENTITY_VARIABLES, identity_env


@dataclass(frozen=True)
class Context:
    cfg: Config
    paths: StatePaths
    supervisor: Supervisor
    installer: Installer


@dataclass
class ServiceStatus:
    name: str
    state: str  # running | stopped | unhealthy | external | not configured
    healthy: bool
    url: str
    port: int | None
    pids: list[int] = field(default_factory=list)
    rss_bytes: int = 0
    detail: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "state": self.state,
            "healthy": self.healthy,
            "url": self.url,
            "port": self.port,
            "pids": self.pids,
            "rss_mb": round(self.rss_bytes / 2**20),
            "detail": self.detail,
        }


class NativeService(ABC):
    name: str = ""
    # The identity its processes log in with when auth is on (p424.security.identities); "" for none.
    component: str = ""
    start_timeout_s: float | None = None  # None: the configured SERVICE_START_TIMEOUT

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.paths = ctx.paths

    # ---- to implement ----
    @abstractmethod
    def install(self) -> None:
        """Download or build what the service needs (idempotent, stamped)."""

    @abstractmethod
    def processes(self) -> list[ProcessSpec]:
        """The processes that make up the service, in start order."""

    @abstractmethod
    def healthy(self) -> bool:
        """A cheap live probe of the service's own health endpoint or protocol."""

    @property
    @abstractmethod
    def url(self) -> str: ...

    @property
    @abstractmethod
    def port(self) -> int: ...

    def settings_env(self) -> dict[str, str]:
        """Environment for a process of ours: the launcher's resolved settings, flags included, and
        the logins of this service's own component in place of the launcher's."""
        return {**self.cfg.environment(), "PLATFORM_STATE_DIR": str(self.paths.root), **self.identity_env()}

    def identity_env(self) -> dict[str, str]:
        """This service's component's credentials when auth is on; every identity variable blank otherwise."""
        if not (self.cfg.auth_enabled and self.component):
            return dict.fromkeys(IDENTITY_VARIABLES, "")
        return identity_env(self.component, parse_env_file(self.paths.credentials))

    def prepare(self) -> None:  # noqa: B027 - optional hook; most services need no preparation
        """Write configuration files and initialise storage before the first start."""

    def data_dirs(self) -> list[Path]:
        return [self.paths.data / self.name]

    # ---- shared behaviour ----
    def running(self) -> bool:
        return all(self.ctx.supervisor.running(p.name) for p in self.processes())

    def ports(self) -> list[int]:
        """TCP ports the service listens on at PLATFORM_BIND_ADDRESS."""
        return [self.port]

    def endpoints(self) -> list[tuple[str, int]]:
        """(address, port) of every TCP socket the service listens on (checked for conflicts before it starts)."""
        return [(self.cfg.platform_bind_address, p) for p in self.ports()]

    def start(self) -> None:
        busy = [f"{host}:{port}" for host, port in self.endpoints() if tcp_open(host, port, timeout=0.3)]
        if busy:
            raise PlatformError(
                f"cannot start {self.name}: {', '.join(busy)} is already in use by another process. Stop that "
                "process, or move this service with --set/toolchain-config.env (its *_PORT settings, "
                "PLATFORM_BIND_ADDRESS or CLUSTER_NODES)."
            )
        self.prepare()
        for spec in self.processes():
            self.ctx.supervisor.start(spec)

    def wait_healthy(self) -> None:
        sup = self.ctx.supervisor
        names = [p.name for p in self.processes()]
        timeout = self.start_timeout_s or float(self.cfg.service_start_timeout)
        ok = wait_until(self.healthy, timeout, self.name, failed=lambda: any(sup.exited_early(n) for n in names))
        if not ok:
            dead = [n for n in names if sup.exited_early(n)]
            why = f"process {', '.join(dead)} exited" if dead else f"not healthy after {timeout:.0f} s"
            logs = "\n".join(f"--- last lines of {sup.log_path(n)} ---\n{sup.tail(n, 25)}" for n in (dead or names))
            raise PlatformError(
                f"{self.name} failed to start: {why}.\n{logs}\n"
                f"See `./launchcommand.sh logs {self.name}`; other services keep running, `./launchcommand.sh "
                "down` stops them."
            )

    def stop(self) -> bool:
        stopped = False
        for spec in reversed(self.processes()):
            stopped |= self.ctx.supervisor.stop(spec.name, spec.stop_timeout)
        return stopped

    def status(self) -> ServiceStatus:
        pids = [p for p in (self.ctx.supervisor.pid(s.name) for s in self.processes()) if p is not None]
        up = len(pids) == len(self.processes())
        healthy = up and self.healthy()
        state = "running" if healthy else ("unhealthy" if pids else "stopped")
        return ServiceStatus(self.name, state, healthy, self.url, self.port, pids, sum(rss_bytes(p) for p in pids))

    def status_rows(self) -> list[ServiceStatus]:
        """What `status` shows: one row, or one per node for a service whose processes are nodes."""
        return [self.status()]

    def log_names(self) -> list[str]:
        return [p.name for p in self.processes()]


def java_opts_heap(heap: str) -> list[str]:
    return [f"-Xms{heap}", f"-Xmx{heap}"]


def require_secret(cfg: Config, key: str) -> str:
    value = str(getattr(cfg, key))
    if not value:
        raise PlatformError(f"{key.upper()} is not set; run `./launchcommand.sh up`, which generates credentials")
    return value


def note(msg: str) -> None:
    console.info(msg)
