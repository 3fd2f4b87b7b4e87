"""Compose mode: the platform from official images with docker compose (compose/docker-compose.yml).

Implements launcher.platforms.Platform, as NativePlatform does. Every command runs
``docker compose --project-directory <repo> -f compose/docker-compose.yml --env-file <config>
--env-file <state>/credentials.env --env-file <state>/compose-overrides.env ...``: the settings
file native mode reads, the generated secrets, and the settings that differ from the file (from
the environment or ``--set``), which the containers also receive. ``up`` waits until every service
is healthy and every one-shot step (provisioning, Airflow migrations, Flink job submission, Grafana
provisioning) is done.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from launcher import compose_auth, console
from launcher.console import PlatformError
from launcher.credentials import ensure_credentials, require_auth_beyond_loopback, require_auth_for_kafka_tls
from launcher.paths import StatePaths
from launcher.services.base import ServiceStatus
from p424.config import DEFAULT_ENV_FILE, REPO_ROOT, SECRET_KEYS, Config, config_file, load_config, parse_env_file
from p424.security.identities import credential_keys

COMPOSE_FILE = Path("compose") / "docker-compose.yml"
OVERRIDES_FILE = "compose-overrides.env"
# Containers that do one job and exit 0; everything else is long-running and has a healthcheck.
ONE_SHOT = frozenset({"platform-init", "airflow-init", "flink-job-submit", "grafana-init"})
# `env_file` entries with `required: false` need Compose 2.24.
MIN_COMPOSE = (2, 24)
# `down` stops the Flink jobs with a savepoint first, as native mode does, with the submitter's own
# code in its own container (its state volume keeps where the savepoint went, for the next `up`).
SAVEPOINT_ON_DOWN = ("run", "--rm", "--no-deps", "flink-job-submit",
                     "/opt/pyflink/bin/python", "/opt/p424/compose/images/flink/submit_jobs.py", "--stop")


# ---------------------------------------------------------------- pure helpers (unit-tested)
def compose_argv(project_dir: Path, env_files: Sequence[Path], *args: str) -> list[str]:
    """The docker compose command line for this project."""
    argv = ["docker", "compose", "--project-directory", str(project_dir), "-f", str(project_dir / COMPOSE_FILE)]
    for env_file in env_files:
        argv += ["--env-file", str(env_file)]
    return [*argv, *args]


def override_settings(effective: Config, from_file: Config) -> dict[str, str]:
    """Settings whose effective value differs from the settings file alone (environment, --set), no secrets."""
    base = from_file.public_dict()
    return {
        key: str(value) for key, value in effective.public_dict().items()
        if key.lower() not in SECRET_KEYS and str(value) != str(base[key])
    }


def render_env_file(values: Mapping[str, str]) -> str:
    lines = ["# Written by ./launchcommand.sh on every compose command: settings that differ from the",
             "# settings file (environment variables, --set). Edit toolchain-config.env instead."]
    return "\n".join([*lines, *(f"{k}={v}" for k, v in sorted(values.items())), ""])


def parse_ps(output: str) -> list[dict[str, Any]]:
    """`docker compose ps --format json`: one JSON object per line (Compose >= 2.21) or one array."""
    text = output.strip()
    if not text:
        return []
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def service_status(row: Mapping[str, Any], urls: Mapping[str, str]) -> ServiceStatus:
    """One status row from a `docker compose ps` entry."""
    service = str(row.get("Service", ""))
    state = str(row.get("State", "")).lower()
    health = str(row.get("Health", "")).lower()
    if service in ONE_SHOT and state == "exited":
        code = int(row.get("ExitCode", 0) or 0)
        shown, healthy = ("completed", True) if code == 0 else (f"failed (exit {code})", False)
    elif state == "running":
        shown = {"": "running", "healthy": "running", "starting": "starting"}.get(health, "unhealthy")
        healthy = health in ("", "healthy") and service not in ONE_SHOT
    else:
        shown, healthy = state or "unknown", False
    published = sorted({int(p["PublishedPort"]) for p in row.get("Publishers") or [] if p.get("PublishedPort")})
    detail = f"container {row.get('Name', '?')}" + (f" ({row['Status']})" if row.get("Status") else "")
    port = published[0] if published else None
    return ServiceStatus(service, shown, healthy, urls.get(service, ""), port, detail=detail)


def service_urls(cfg: Config) -> dict[str, str]:
    """Where a process on the host reaches each published service (the host's view of the settings)."""
    return {
        "kafka": f"kafka://{cfg.kafka_bootstrap}",
        "cassandra": f"cql://{cfg.cassandra_contact}:{cfg.cassandra_port}",
        "minio": f"{cfg.minio_url} (console http://{cfg.host_of('minio')}:{cfg.minio_console_port})",
        "flink-jobmanager": cfg.flink_url,
        "mlflow": cfg.mlflow_url,
        "airflow-api-server": cfg.airflow_url,
        "grafana": f"http://{cfg.host_of('grafana')}:{cfg.grafana_port}",
        "grafana-live": f"http://{cfg.host}:{cfg.grafana_live_http_port}/health (metrics /metrics)",
        "predictor": f"http://{cfg.host}:{cfg.predictor_http_port}/health (metrics /metrics)",
        "bridge": f"udp://{cfg.host_of('bridge')}:{cfg.bridge_udp_port} (metrics {cfg.bridge_http_url}/metrics)",
    }


def log_services(name: str, services: Sequence[str]) -> list[str]:
    """A service, or a group by prefix (`airflow` -> airflow-*, `flink` -> flink-*), as natively."""
    if name in services:
        return [name]
    group = [s for s in services if s.startswith(f"{name}-")]
    if group:
        return group
    raise PlatformError(f"no service named {name!r}; services: {', '.join(services)}")


def docker_problem(docker: str | None, compose_version: subprocess.CompletedProcess[str] | None,
                   engine_info: subprocess.CompletedProcess[str] | None) -> str | None:
    """What is missing for compose mode, as an actionable message, or None."""
    native = "or run the platform without Docker: ./launchcommand.sh up --mode native"
    if docker is None:
        return ("compose mode needs Docker, and the `docker` command is not on PATH. "
                f"Install Docker Engine with the compose plugin, {native}.")
    if compose_version is None or compose_version.returncode != 0:
        return ("compose mode needs the Docker Compose v2 plugin (`docker compose`), which this Docker CLI "
                f"does not have. Install it (Debian/Ubuntu: the docker-compose-plugin package), {native}.")
    found = compose_version.stdout.strip().lstrip("v")
    try:
        numbers = tuple(int(part) for part in found.split("-")[0].split(".")[:2])
    except ValueError:
        numbers = MIN_COMPOSE  # an unusual version string: let Compose itself judge the file
    if numbers < MIN_COMPOSE:
        needed = ".".join(map(str, MIN_COMPOSE))
        return f"Docker Compose {found} is too old: compose/docker-compose.yml needs {needed} or newer."
    if engine_info is None or engine_info.returncode != 0:
        why = (engine_info.stderr.strip().splitlines() or ["no answer"])[-1] if engine_info else "no answer"
        return (f"the Docker engine is not reachable ({why}). "
                f"Start the Docker daemon or check your access to it, {native}.")
    return None


def _probe(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)


def require_compose(path: str | None = None) -> None:
    """Raise PlatformError unless docker, the compose plugin and a Docker engine are available."""
    docker = shutil.which("docker", path=path)
    compose = info = None
    if docker:
        compose = _probe([docker, "compose", "version", "--short"])
        if compose.returncode == 0:
            info = _probe([docker, "info", "--format", "{{.ServerVersion}}"])
    problem = docker_problem(docker, compose, info)
    if problem:
        raise PlatformError(problem)


# ---------------------------------------------------------------- the platform
class ComposePlatform:
    mode = "compose"

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.config_file = config_file()
        self.paths = StatePaths.of(load_config(overrides=self.overrides))
        self.paths.ensure()
        keys = credential_keys(load_config(overrides=self.overrides))
        if ensure_credentials(self.paths.credentials, keys):
            console.info(f"generated credentials in {self.paths.credentials} (mode 0600)")
        self.cfg = load_config(overrides=self.overrides)
        # Each container's logins and the servers' auth settings (compose_auth), for its env_file.
        compose_auth.write_env_files(self.paths.root, self.cfg, parse_env_file(self.paths.credentials))
        if self.cfg.clustered:
            raise PlatformError(
                "PLATFORM_TOPOLOGY=cluster runs natively only (--mode native): compose/docker-compose.yml runs one "
                "node of each server"
            )
        # The containers read the repository's settings file; what differs from it goes in here.
        from_file = load_config(env_file=DEFAULT_ENV_FILE, environ={}, state_layers=False)
        self.overrides_file.write_text(render_env_file(override_settings(self.cfg, from_file)))
        self._checked = False

    @property
    def overrides_file(self) -> Path:
        return self.paths.root / OVERRIDES_FILE

    @property
    def env_files(self) -> list[Path]:
        return [self.config_file, self.paths.credentials, self.overrides_file]

    def argv(self, *args: str) -> list[str]:
        return compose_argv(REPO_ROOT, self.env_files, *args)

    def _env(self) -> dict[str, str]:
        # The process environment outranks env files in Compose; --set must outrank it, as natively.
        return {**os.environ, **self.overrides, "PLATFORM_STATE_DIR": str(self.paths.root)}

    def _run(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        if not self._checked:
            require_compose()
            self._checked = True
        return subprocess.run(self.argv(*args), check=False, cwd=REPO_ROOT, env=self._env(), text=True,
                              capture_output=capture)

    def _must(self, what: str, *args: str) -> None:
        result = self._run(*args)
        if result.returncode != 0:
            raise PlatformError(
                f"`docker compose {' '.join(args)}` failed (exit {result.returncode}) while trying to {what}. "
                "See the messages above, `./launchcommand.sh status --mode compose` and "
                "`./launchcommand.sh logs SERVICE --mode compose`."
            )

    # ---------- install / up / down ----------
    def install(self) -> None:
        with console.step("pull the official images and build the platform, Flink, Airflow and MLflow images"):
            self._must("pull images", "pull", "--ignore-buildable")
            self._must("build images", "build")

    def up(self) -> float:
        require_auth_beyond_loopback(self.cfg)
        require_auth_for_kafka_tls(self.cfg, compose_auth.auth_enabled(self.cfg))
        start = time.monotonic()
        timeout = 3 * self.cfg.service_start_timeout  # a chain: Cassandra, provisioning, then the Flink job
        with console.step("docker compose up (build from this checkout, start, wait until healthy)"):
            self._must("start the platform", "up", "--detach", "--build", "--remove-orphans",
                       "--wait", "--wait-timeout", str(timeout))
        return time.monotonic() - start

    def down(self, wipe: bool = False) -> float:
        start = time.monotonic()
        running = self._run("ps", "--status", "running", "--services", capture=True).stdout.split()
        if "flink-jobmanager" in running:
            with console.step("stop the Flink jobs with a savepoint"):
                if self._run(*SAVEPOINT_ON_DOWN).returncode != 0:
                    console.warn("no savepoint was taken; the next `up` starts the job from its committed offsets")
        with console.step("docker compose down" + (" and remove the named volumes" if wipe else "")):
            self._must("stop the platform", "down", "--remove-orphans", *(["--volumes"] if wipe else []))
        return time.monotonic() - start

    # ---------- status / logs ----------
    def services(self) -> list[str]:
        result = self._run("config", "--services", capture=True)
        if result.returncode != 0:
            raise PlatformError(f"docker compose cannot read {COMPOSE_FILE}:\n{result.stderr.strip()}")
        return result.stdout.split()

    def status(self) -> list[ServiceStatus]:
        result = self._run("ps", "--all", "--format", "json", capture=True)
        if result.returncode != 0:
            raise PlatformError(f"`docker compose ps` failed:\n{result.stderr.strip()}")
        urls = service_urls(self.cfg)
        rows = {r.name: r for r in (service_status(row, urls) for row in parse_ps(result.stdout))}
        return [rows.get(s) or ServiceStatus(s, "stopped", False, urls.get(s, ""), None) for s in self.services()]

    def logs(self, name: str, lines: int, follow: bool) -> int:
        names = log_services(name, self.services())
        return self._run("logs", "--tail", str(lines), *(["--follow"] if follow else []), *names).returncode

    def all_healthy(self) -> bool:
        rows = self.status()
        return bool(rows) and all(r.healthy for r in rows)

