"""Native mode: the platform's real servers as local processes under <state>/.

`up` installs what is missing, starts every service, waits for each to be healthy, provisions
topics, buckets and schema, submits the Flink jobs and prints the service table. It is
idempotent: running services are left alone.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from launcher import console, provision
from launcher.console import PlatformError
from launcher.credentials import ensure_credentials, require_auth_beyond_loopback
from launcher.flink_submit import FlinkJobs, platform_jobs
from launcher.installers import Installer, run_parallel
from launcher.paths import StatePaths
from launcher.probes import http_ok
from launcher.procs import Supervisor
from launcher.services.airflow import Airflow
from launcher.services.apps import Bridge
from launcher.services.base import Context, NativeService, ServiceStatus
from launcher.services.cassandra import Cassandra
from launcher.services.flink import Flink
from launcher.services.grafana_live import GrafanaLive
from launcher.services.kafka import Kafka
from launcher.services.minio import MinIO
from launcher.services.mlflow import MLflow
from launcher.services.predictor import Predictor
from p424.config import load_config


class NativePlatform:
    mode = "native"

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.paths = StatePaths.of(load_config(overrides=overrides))
        self.paths.ensure()
        if ensure_credentials(self.paths.credentials):
            console.info(f"generated credentials in {self.paths.credentials} (mode 0600)")
        # Load after generating, so the credentials take their place in the precedence order.
        self.cfg = load_config(overrides=overrides)
        self.ctx = Context(
            self.cfg, self.paths, Supervisor(self.paths.run, self.paths.logs), Installer(self.cfg, self.paths)
        )
        self.minio = MinIO(self.ctx)
        self.kafka = Kafka(self.ctx)
        self.cassandra = Cassandra(self.ctx)
        self.flink = Flink(self.ctx)
        self.mlflow = MLflow(self.ctx)
        self.airflow = Airflow(self.ctx)
        self.bridge = Bridge(self.ctx)
        self.predictor = Predictor(self.ctx)
        self.grafana_live = GrafanaLive(self.ctx)

    @property
    def services(self) -> list[NativeService]:
        """In start order; `down` stops in reverse."""
        services: list[NativeService] = [
            self.minio,
            self.kafka,
            self.cassandra,
            self.flink,
            self.mlflow,
            self.airflow,
            self.bridge,
            self.predictor,
        ]
        if self.grafana_live.enabled:  # pushes to an existing Grafana (GRAFANA_URL)
            services.append(self.grafana_live)
        return services

    def service(self, name: str) -> NativeService:
        for s in self.services:
            if s.name == name or name in s.log_names():
                return s
        raise PlatformError(f"no service named {name!r}; services: {', '.join(s.name for s in self.services)}")

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.paths.run / "launcher.lock").open("w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                console.info("another launcher command is changing the platform; waiting for it")
                fcntl.flock(f, fcntl.LOCK_EX)
            yield

    # ---------- install ----------
    def install(self) -> None:
        with console.step("check installs (first run downloads and builds everything; later runs reuse it)"):
            run_parallel([s.install for s in self.services], workers=3)

    def flink_jobs(self) -> FlinkJobs:
        return FlinkJobs(
            self.cfg,
            self.paths,
            self.flink.env(),
            self.flink.home,
            self.flink.venv / "bin" / "python",
            self.flink.connector_jars,
        )

    # ---------- up ----------
    @property
    def apps(self) -> list[NativeService]:
        """The platform's own processes: started once topics and schema exist."""
        return [s for s in self.services if s in (self.bridge, self.predictor, self.grafana_live)]

    def up(self) -> float:
        require_auth_beyond_loopback(self.cfg)
        start = time.monotonic()
        with self._lock():
            self.install()
            pending = [s for s in self.services if not s.running()]
            for s in self.services:
                if s not in pending:
                    console.info(f"{s.name}: already running")
            infra = [s for s in pending if s not in self.apps]
            # Start every server at once: the slow ones (Cassandra) overlap the rest.
            for s in infra:
                s.start()
            for s in infra:
                with console.step(f"wait for {s.name} to be healthy"):
                    s.wait_healthy()
            self.provision()
            for s in [a for a in self.apps if a in pending]:
                s.start()
                with console.step(f"wait for {s.name} to be healthy"):
                    s.wait_healthy()
            self.ensure_jobs()
        return time.monotonic() - start

    def provision(self) -> None:
        for service in (self.minio, self.kafka, self.cassandra):
            self._provision_after(service)

    def _provision_after(self, service: NativeService) -> None:
        if service is self.kafka:
            created = provision.provision_topics(self.cfg)
            if created:
                console.info(f"created Kafka topics: {', '.join(created)}")
        elif service is self.minio:
            created = provision.ensure_buckets(self.cfg)
            if created:
                console.info(f"created buckets: {', '.join(created)}")
        elif service is self.cassandra:
            for change in provision.ensure_schema(self.cfg):
                console.info(f"Cassandra schema: {change}")

    def ensure_jobs(self) -> None:
        jobs = self.flink_jobs()
        for spec in platform_jobs(self.cfg):
            if not spec.script.exists():
                continue
            with console.step(f"Flink job {spec.name}"):
                info, how = jobs.ensure(spec)
                console.info(f"  {spec.name}: {info.state} ({how}, job id {info.job_id})")

    # ---------- down ----------
    def down(self, wipe: bool = False) -> float:
        start = time.monotonic()
        with self._lock():
            if self.flink.running():
                jobs = self.flink_jobs()
                for spec in platform_jobs(self.cfg):
                    with console.step(f"stop Flink job {spec.name} with a savepoint"):
                        location = jobs.stop_with_savepoint(spec.name)
                        if location:
                            console.info(f"  savepoint: {location}")
            for s in reversed(self.services):
                if s.stop():
                    console.info(f"stopped {s.name}")
            if wipe:
                for s in self.services:
                    for d in s.data_dirs():
                        shutil.rmtree(d, ignore_errors=True)
                (self.paths.run / "flink-jobs.json").unlink(missing_ok=True)
                console.info(f"wiped service data under {self.paths.data}")
        return time.monotonic() - start

    # ---------- status ----------
    def status(self) -> list[ServiceStatus]:
        rows = [s.status() for s in self.services]
        flink = next(r for r in rows if r.name == "flink")
        if flink.healthy:
            jobs = self.flink_jobs()
            details = []
            for spec in platform_jobs(self.cfg):
                job = jobs.active(spec.name)
                if job is None:
                    details.append(f"job {spec.name}: not running")
                    continue
                age = jobs.checkpoint_age_s(job.job_id)
                details.append(
                    f"job {spec.name}: {job.state}" + (f", checkpoint {age:.0f} s ago" if age is not None else "")
                )
            flink.detail = "; ".join(details)
        minio = next(r for r in rows if r.name == "minio")
        minio.detail = f"console {self.minio.console_url}"
        rows.append(self.grafana_status())
        return rows

    def grafana_status(self) -> ServiceStatus:
        url = self.cfg.grafana_url
        if not url:
            return ServiceStatus(
                "grafana",
                "not configured",
                False,
                "",
                None,
                detail="Grafana runs in compose mode; natively set GRAFANA_URL to provision an existing Grafana",
            )
        ok = http_ok(f"{url.rstrip('/')}/api/health")
        return ServiceStatus(
            "grafana", "external" if ok else "unreachable", ok, url, None, detail="external Grafana (GRAFANA_URL)"
        )

    def logs(self, name: str, lines: int, follow: bool) -> int:
        service = self.service(name)
        names = [name] if name in service.log_names() else service.log_names()
        if follow:
            paths = [str(self.ctx.supervisor.log_path(n)) for n in names]
            return subprocess.call(["tail", "-n", str(lines), "-F", *paths])
        for n in names:
            if len(names) > 1:
                print(f"===== {n} ({self.ctx.supervisor.log_path(n)})")
            print(self.ctx.supervisor.tail(n, lines), end="")
        return 0

    def all_healthy(self) -> bool:
        return all(s.running() and s.healthy() for s in self.services)
