"""Native mode: the platform's real servers as local processes under <state>/.

`up` installs what is missing, starts every service, waits for each to be healthy, provisions
topics, buckets and schema, submits the Flink jobs and prints the service table. It is
idempotent: running services are left alone.

Both topologies (launcher.topology) run here: `single` (one node of each server) and `cluster`
(three Kafka and three Cassandra nodes, two Flink TaskManagers). Each Kafka and Cassandra node is
a service of its own, so it starts, stops and shows in `status` on its own.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from launcher import console, provision, topology
from launcher.console import PlatformError
from launcher.credentials import ensure_credentials, require_auth_beyond_loopback, require_auth_for_kafka_tls
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
from launcher.services.kafka import CLUSTER_ID_FILE as KAFKA_CLUSTER_ID
from launcher.services.kafka import Kafka
from launcher.services.minio import MinIO
from launcher.services.mlflow import MLflow
from launcher.services.predictor import Predictor
from launcher.tls import ensure_node_certificates
from launcher.topology import nodes
from p424.config import Config, config_file, load_config, parse_env_file
from p424.security.identities import as_component, credential_keys

NodeService = TypeVar("NodeService", Kafka, Cassandra)


class NativePlatform:
    mode = "native"

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.paths = StatePaths.of(load_config(overrides=overrides))
        self.paths.ensure()
        if ensure_credentials(self.paths.credentials, credential_keys(load_config(overrides=overrides))):
            console.info(f"generated credentials in {self.paths.credentials} (mode 0600)")
        # Load after generating, so the credentials take their place in the precedence order; the
        # launcher itself (provisioning, health probes, commands) logs in as the admin when auth is on.
        cfg = as_component(load_config(overrides=overrides), "admin", parse_env_file(self.paths.credentials))
        # The services are those of the topology the data belongs to, whatever was asked for: `down`
        # and `status` act on what runs; `up` refuses another topology (self.refused).
        self.recorded_topology = topology.recorded(self.paths)
        self.refused: str | None = None
        if self.recorded_topology is not None and self.recorded_topology != cfg.platform_topology:
            self.refused = topology.refusal(self.paths, self.recorded_topology, cfg.platform_topology)
            cfg = cfg.replace(platform_topology=self.recorded_topology)
        self.cfg: Config = cfg
        self.ctx = Context(
            self.cfg, self.paths, Supervisor(self.paths.run, self.paths.logs), Installer(self.cfg, self.paths)
        )
        self.minio = MinIO(self.ctx)
        self.kafka_nodes = [Kafka(self.ctx, n) for n in nodes(self.cfg, "kafka")]
        if self.cfg.kafka_tls_enabled:  # before any node starts: they verify each other's certificates
            for line in ensure_node_certificates(self.cfg, {k.name: k.certificate_names() for k in self.kafka_nodes}):
                console.info(f"issued Kafka TLS certificate for {line}")
        self.cassandra_nodes = [Cassandra(self.ctx, n) for n in nodes(self.cfg, "cassandra")]
        self.flink = Flink(self.ctx)
        self.mlflow = MLflow(self.ctx)
        self.airflow = Airflow(self.ctx)
        self.bridge = Bridge(self.ctx)
        self.predictor = Predictor(self.ctx)
        self.grafana_live = GrafanaLive(self.ctx)

    @property
    def topology(self) -> str:
        return self.cfg.platform_topology

    @property
    def kafka(self) -> Kafka:
        """The Kafka node of a single topology (a cluster's are ``kafka_nodes``)."""
        return _only(self.kafka_nodes)

    @property
    def cassandra(self) -> Cassandra:
        """The Cassandra node of a single topology (a cluster's are ``cassandra_nodes``)."""
        return _only(self.cassandra_nodes)

    @property
    def services(self) -> list[NativeService]:
        """In start order; `down` stops in reverse."""
        services: list[NativeService] = [
            self.minio,
            *self.kafka_nodes,
            *self.cassandra_nodes,
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

    def services_named(self, name: str) -> list[NativeService]:
        """A service, or a cluster's nodes by their service name (`kafka` -> kafka-1, kafka-2, ...)."""
        group = [s for s in self.services if s.name.startswith(f"{name}-")]
        return group or [self.service(name)]

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
        # The nodes of a cluster share their component's install: install it once, not once per node
        # (parallel installers into one directory race each other).
        once = {type(s).install: s.install for s in reversed(self.services)}
        with console.step("check installs (first run downloads and builds everything; later runs reuse it)"):
            run_parallel(list(reversed(once.values())), workers=3)

    def flink_jobs(self) -> FlinkJobs:
        return FlinkJobs(
            self.cfg,
            self.paths,
            self.flink.submit_env(),
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
        require_auth_for_kafka_tls(self.cfg, self.cfg.auth_enabled)
        start = time.monotonic()
        if self.refused:
            raise PlatformError(self.refused)
        with self._lock():
            self._note_file_topology()
            self.install()
            if self.recorded_topology is None:
                topology.record(self.paths, self.topology)
                self.recorded_topology = self.topology
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

    def _note_file_topology(self) -> None:
        """Say so when the settings file asks for another topology than the data's, which wins."""
        if self.recorded_topology is None or topology.KEY in self.overrides or topology.KEY in os.environ:
            return
        wanted = parse_env_file(config_file()).get(topology.KEY)
        if wanted and wanted != self.topology:
            console.info(
                f"{self.paths.root} holds a {self.topology} platform (recorded at its first `up`), which its data "
                f"decides; {config_file().name}'s {topology.KEY}={wanted} applies to a new state dir or after "
                "`./launchcommand.sh down --wipe`"
            )

    def provision(self) -> None:
        for what, step in provision.steps(self.cfg, parse_env_file(self.paths.credentials)):
            for change in step():
                console.info(f"{what}: {change}")

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
                (self.paths.data / KAFKA_CLUSTER_ID).unlink(missing_ok=True)
                topology.forget(self.paths)
                self.recorded_topology = None
                console.info(f"wiped service data under {self.paths.data} (and the recorded {self.topology} topology)")
        return time.monotonic() - start

    # ---------- status ----------
    def status(self) -> list[ServiceStatus]:
        rows = [row for s in self.services for row in s.status_rows()]
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
            flink.detail = "; ".join([*([flink.detail] if flink.detail else []), *details])
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
        services = self.services_named(name)
        names = [name] if name in services[0].log_names() else [n for s in services for n in s.log_names()]
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


def _only(group: list[NodeService]) -> NodeService:
    if len(group) != 1:
        names = ", ".join(s.name for s in group)
        raise PlatformError(f"a cluster has several nodes of this service ({names}): pick one")
    return group[0]
