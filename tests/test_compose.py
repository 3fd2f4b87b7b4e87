"""Compose mode, validated without a Docker engine.

compose/docker-compose.yml is loaded by compose/validate, a small Go program around compose-go, the
library `docker compose` itself uses: the same env-file interpolation, schema validation,
consistency checks and path resolution. The normalized project it prints is then checked against
toolchain-config.env, the pinned lock files and the native launcher's own service configuration
(launcher/services/*), so both modes run the same settings. The last tests cover launcher/compose.py
through its pure functions (argv building, `docker compose ps` parsing).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from deploy import generate as deploy_generate
from grafana.live.service import http_port as live_http_port
from launcher import compose as lc
from launcher import compose_auth
from launcher.command_table import COMMANDS
from launcher.commands_grafana import cmd_grafana_sync
from launcher.console import PlatformError
from launcher.credentials import GENERATED, set_credential
from launcher.installers import Installer
from launcher.paths import StatePaths
from launcher.procs import Supervisor
from launcher.services.airflow import Airflow, airflow_connections
from launcher.services.apps import Bridge
from launcher.services.base import Context
from launcher.services.cassandra import Cassandra
from launcher.services.flink import Flink
from launcher.services.grafana_live import GrafanaLive
from launcher.services.kafka import Kafka
from launcher.services.minio import MinIO
from launcher.services.mlflow import MLflow
from launcher.services.predictor import Predictor
from p424.config import DEFAULT_ENV_FILE, REPO_ROOT, Config, load_config, parse_env_file
from p424.security.identities import IDENTITY_VARIABLES, credential_keys, identity_env
from tests.helpers import clear_settings_from_environ

COMPOSE_DIR = REPO_ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
PINS = parse_env_file(DEFAULT_ENV_FILE)
# Distinctive values, so a leak into a committed file or a wrong destination is unmistakable: the
# generated secrets and every component's password (p424.security.identities.credential_keys).
FAKE_SECRETS = {key: f"fake-{key.lower().replace('_', '-')}-7Qz" for key in (*GENERATED, *credential_keys(Config()))}

ONE_SHOT = {"platform-init", "airflow-init", "flink-job-submit", "grafana-init"}
# Images that toolchain-config.env does not pin (no setting): pinned here to an exact release.
PINNED_ELSEWHERE = {"prometheus": r"prom/prometheus:v\d+\.\d+\.\d+", "kafka-exporter": r"danielqsj/kafka-exporter:v\d+\.\d+\.\d+"}
PROMETHEUS_CONFIG = REPO_ROOT / "grafana" / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCES = REPO_ROOT / "grafana" / "provisioning" / "datasources" / "p424.yaml"
STATEFUL_VOLUMES = {
    "kafka": "/var/lib/kafka/data",
    "cassandra": "/var/lib/cassandra",
    "minio": "/data",
    "postgres": "/var/lib/postgresql/data",
    "grafana": "/var/lib/grafana",
    "airflow-api-server": "/opt/airflow/logs",
    "airflow-scheduler": "/opt/airflow/logs",
    "airflow-dag-processor": "/opt/airflow/logs",
    "airflow-triggerer": "/opt/airflow/logs",
    "bridge": "/var/lib/p424",  # the bridge's spool
    "prometheus": "/prometheus",  # the TSDB
    "grafana-init": "/var/lib/p424",  # writes the Live pusher's token here...
    "grafana-live": "/var/lib/p424",  # ...which reads it
    "flink-job-submit": "/var/lib/p424",  # the jobs it started and the savepoint `down` took
}


# ---------------------------------------------------------------- the compose-spec loader
@pytest.fixture(scope="session")
def validator() -> Path:
    """compose/validate built once per source version into the state dir's cache (never the repo)."""
    go = shutil.which("go")
    assert go, "Go (1.24+) is needed to build compose/validate, the compose-spec loader these tests use"
    src = COMPOSE_DIR / "validate"
    digest = hashlib.sha256(b"".join((src / f).read_bytes() for f in ("go.mod", "go.sum", "main.go"))).hexdigest()[:16]
    binary = load_config().state_dir / "cache" / "compose-validate" / digest / "validate"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        partial = binary.with_name(f"validate.{os.getpid()}")
        result = subprocess.run(
            [go, "build", "-o", str(partial), "."], check=False, cwd=src, capture_output=True, text=True, timeout=600,
            env={**os.environ, "GOFLAGS": "-mod=readonly", "GOWORK": "off", "CGO_ENABLED": "0"},
        )
        assert result.returncode == 0, f"go build of compose/validate failed:\n{result.stderr}"
        partial.replace(binary)
    return binary


def write_env(path: Path, values: Mapping[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


@pytest.fixture(scope="session")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throw-away platform state dir holding fake credentials and an empty overrides file."""
    root = tmp_path_factory.mktemp("state")
    write_env(root / "credentials.env", FAKE_SECRETS)
    write_env(root / lc.OVERRIDES_FILE, {})
    write_auth_files(root)
    return root


def write_auth_files(root: Path, **settings: str) -> None:
    """The per-service auth env files, written as the launcher writes them (by default PLATFORM_AUTH=auto:
    on in the containers, which bind 0.0.0.0)."""
    cfg = load_config(env_file=DEFAULT_ENV_FILE, environ={}, overrides=settings, state_layers=False)
    compose_auth.write_env_files(root, cfg, FAKE_SECRETS)


def run_validator(validator: Path, state: Path, env_files: list[Path], compose_file: Path = COMPOSE_FILE,
                  ) -> subprocess.CompletedProcess[str]:
    argv = [str(validator), "--project-directory", str(REPO_ROOT), "-f", str(compose_file)]
    for f in env_files:
        argv += ["--env-file", str(f)]
    # A clean environment: the process environment outranks env files, as in docker compose.
    env = {"PATH": os.environ.get("PATH", ""), "PLATFORM_STATE_DIR": str(state)}
    return subprocess.run(argv, check=False, capture_output=True, text=True, env=env, timeout=120)


def load_project(validator: Path, state: Path) -> dict[str, Any]:
    result = run_validator(validator, state, [DEFAULT_ENV_FILE, state / "credentials.env", state / lc.OVERRIDES_FILE])
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="session")
def project(validator: Path, state: Path) -> dict[str, Any]:
    return load_project(validator, state)


@pytest.fixture(scope="session")
def services(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(project["services"])


def env_of(services: dict[str, dict[str, Any]], name: str) -> dict[str, str]:
    return {k: str(v) for k, v in (services[name].get("environment") or {}).items()}


def container_cfg(services: dict[str, dict[str, Any]], name: str) -> Config:
    """The configuration p424.config builds inside that container (its environment over the baked file)."""
    return load_config(env_file=DEFAULT_ENV_FILE, environ=env_of(services, name))


@pytest.fixture(scope="session")
def native(tmp_path_factory: pytest.TempPathFactory) -> Context:
    """The native launcher's context with the same settings and fake secrets (nothing is started)."""
    root = tmp_path_factory.mktemp("native")
    cfg = load_config(env_file=DEFAULT_ENV_FILE, environ={**FAKE_SECRETS, "PLATFORM_STATE_DIR": str(root)})
    paths = StatePaths.of(cfg)
    paths.ensure()
    return Context(cfg, paths, Supervisor(paths.run, paths.logs), Installer(cfg, paths))


def size_bytes(value: str) -> int:
    m = re.fullmatch(r"(\d+)([kmg]?)b?", value.strip().lower())
    assert m, value
    return int(m.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m.group(2)]


def flink_properties(env: Mapping[str, str]) -> dict[str, str]:
    """FLINK_PROPERTIES as the Flink image's entrypoint reads it: `key: value` per line."""
    out = {}
    for line in env["FLINK_PROPERTIES"].splitlines():
        if line.strip():
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip()
    return out


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- loading and validation
def test_compose_file_loads_and_validates_like_docker_compose(project: dict[str, Any]) -> None:
    assert project["name"] == "p424"
    assert set(project["services"]) == {
        "kafka", "cassandra", "minio", "postgres", "platform-init", "flink-jobmanager", "flink-taskmanager",
        "flink-job-submit", "mlflow", "airflow-init", "airflow-api-server", "airflow-scheduler",
        "airflow-dag-processor", "airflow-triggerer", "grafana", "bridge", "grafana-init", "grafana-live",
        "prometheus", "kafka-exporter", "predictor",
    }
    # Interpolation happened everywhere: no ${...} is left in the normalized project.
    assert "${" not in json.dumps(project["services"]).replace("$${", "")


def test_the_loader_rejects_schema_violations(validator: Path, state: Path, tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    mem_limit: 1g\n", "    mem_limt: 1g\n", 1))
    result = run_validator(validator, state, [DEFAULT_ENV_FILE, state / "credentials.env"], broken)
    assert result.returncode != 0
    assert "mem_limt" in result.stderr


def test_secrets_are_required_from_the_credentials_file(validator: Path, state: Path) -> None:
    result = run_validator(validator, state, [DEFAULT_ENV_FILE])
    assert result.returncode != 0
    assert "generates the credentials" in result.stderr


def test_no_secret_value_is_in_the_committed_compose_files(services: dict[str, dict[str, Any]]) -> None:
    for path in COMPOSE_DIR.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for value in FAKE_SECRETS.values():
                assert value not in text, f"{path} contains a secret value"
    # ...while each secret reaches the services that need it, through the credentials env file.
    expected = {
        "MINIO_ROOT_PASSWORD": [("minio", "MINIO_ROOT_PASSWORD")],
        "POSTGRES_PASSWORD": [("postgres", "POSTGRES_PASSWORD")],
        "GRAFANA_ADMIN_PASSWORD": [("grafana", "GF_SECURITY_ADMIN_PASSWORD"), ("grafana-init", "GRAFANA_ADMIN_PASSWORD")],
        "AIRFLOW_ADMIN_PASSWORD": [("airflow-api-server", "AIRFLOW_ADMIN_PASSWORD")],
        "AIRFLOW_JWT_SECRET": [("airflow-scheduler", "AIRFLOW__API_AUTH__JWT_SECRET")],
        # the endpoints of our own services (p424.security.http); Prometheus gets the scraper's as a file
        "P424_HTTP_TOKEN": [(s, "P424_HTTP_TOKEN") for s in ("bridge", "predictor", "grafana-live")],
        "P424_METRICS_TOKEN": [(s, "P424_METRICS_TOKEN") for s in ("bridge", "predictor", "grafana-live")],
    }
    assert set(expected) == set(GENERATED)
    for secret, destinations in expected.items():
        for service, variable in destinations:
            assert env_of(services, service)[variable] == FAKE_SECRETS[secret], (service, variable)
    # Services that need no secret get none (the Live pusher gets its Grafana token from grafana-init);
    # the component passwords go where test_each_container_logs_in_as_its_own_component says.
    for service in ("cassandra", "prometheus"):
        assert not [v for v in FAKE_SECRETS.values() if v in json.dumps(services[service])], service
    for service in ("bridge", "grafana-live", "predictor"):
        own = identity_env(compose_auth.LOGINS[service], FAKE_SECRETS).values()
        others = {k: v for k, v in FAKE_SECRETS.items()
                  if k not in ("P424_HTTP_TOKEN", "P424_METRICS_TOKEN") and v not in own}
        assert not [k for k, v in others.items() if v in json.dumps(services[service])], service
        # They bind 0.0.0.0 in their containers, so authentication is on there, with the generated token.
        cfg = container_cfg(services, service)
        assert cfg.auth_enabled and cfg.p424_http_token == FAKE_SECRETS["P424_HTTP_TOKEN"], service


def test_image_build_contexts_leave_out_state_and_git(services: dict[str, dict[str, Any]]) -> None:
    built = {s["build"]["dockerfile"] for s in services.values() if "build" in s}
    assert len(built) == 5
    for dockerfile in built:
        ignore = REPO_ROOT / f"{dockerfile}.dockerignore"
        patterns = [p.strip() for p in ignore.read_text().splitlines() if p.strip() and not p.startswith("#")]
        assert patterns[0] == "*", f"{ignore}: build contexts are allow-lists"
        assert not [p for p in patterns if p.startswith(("!.platform", "!.git", "!*"))], ignore


# ---------------------------------------------------------------- images and versions
def test_every_image_is_pinned_to_the_toolchain_versions(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        image = svc["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), f"{name}: {image}"
    for name, pattern in PINNED_ELSEWHERE.items():
        assert re.fullmatch(pattern, services[name]["image"]), f"{name}: pin an exact release, not {services[name]['image']}"
    platform_image = services["bridge"]["image"]
    for name in ("platform-init", "grafana-init", "grafana-live", "predictor"):
        assert services[name]["image"] == platform_image and services[name]["build"] == services["bridge"]["build"], name
    assert services["kafka"]["image"] == f"apache/kafka:{PINS['KAFKA_VERSION']}"
    assert services["cassandra"]["image"] == f"cassandra:{PINS['CASSANDRA_VERSION']}"
    assert services["postgres"]["image"] == f"postgres:{PINS['POSTGRES_VERSION']}"
    assert services["grafana"]["image"] == f"grafana/grafana-oss:{PINS['GRAFANA_VERSION']}"
    built = {
        "flink-jobmanager": (
            "FLINK_VERSION", "FLINK_KAFKA_CONNECTOR_VERSION", "BYTE_BUDDY_VERSION", "PYTHON_VERSION", "UV_VERSION"
        ),
        "airflow-scheduler": ("AIRFLOW_VERSION", "PYTHON_VERSION", "UV_VERSION"),
        "mlflow": ("MLFLOW_VERSION",),
        "bridge": ("PYTHON_VERSION", "UV_VERSION"),
        "minio": ("MINIO_GO_VERSION", "PYTHON_VERSION"),
    }
    for name, keys in built.items():
        args = services[name]["build"]["args"]
        assert args == {k: PINS[k] for k in keys}, name
        assert PINS[keys[0]] in services[name]["image"], f"{name}: the image tag names its version"


def test_dockerfiles_build_from_pinned_official_images() -> None:
    bases = {
        "platform": ["python:${PYTHON_VERSION}-slim-bookworm"],
        "flink": [
            "python:${PYTHON_VERSION}-slim-bookworm", "maven:${MAVEN_IMAGE_VERSION}", "flink:${FLINK_VERSION}-java17"
        ],
        "airflow": ["python:${PYTHON_VERSION}-slim-bookworm", "apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}"],
        "mlflow": ["ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION}"],
        "minio": ["golang:${GO_VERSION}-bookworm", "python:${PYTHON_VERSION}-slim-bookworm"],
    }
    for name, expected in bases.items():
        text = (COMPOSE_DIR / "images" / name / "Dockerfile").read_text()
        froms = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
        assert froms == expected, name
        for line in text.splitlines():
            if "pip install" in line or "uv==" in line:
                assert "latest" not in line
    mlflow = (COMPOSE_DIR / "images" / "mlflow" / "Dockerfile").read_text()
    assert re.search(r"ARG PSYCOPG2_BINARY_VERSION=\d+\.\d+\.\d+", mlflow)
    minio = (COMPOSE_DIR / "images" / "minio" / "Dockerfile").read_text()
    assert re.search(r"^ARG GO_VERSION=\d+\.\d+\.\d+$", minio, re.M)


def test_dockerfile_build_args_are_declared_where_they_are_used(services: dict[str, dict[str, Any]]) -> None:
    """A global ARG is visible in FROM lines only; a stage that uses it must declare it again."""
    for svc in services.values():
        if "build" not in svc:
            continue
        text = (REPO_ROOT / svc["build"]["dockerfile"]).read_text()
        stages = re.split(r"^FROM .*$", text, flags=re.M)
        global_args = set(re.findall(r"^ARG (\w+)", stages[0], re.M))
        assert set(svc["build"]["args"]) <= global_args | set(re.findall(r"^ARG (\w+)", text, re.M))
        for stage in stages[1:]:
            declared = set(re.findall(r"^ARG (\w+)", stage, re.M))
            used = set(re.findall(r"\$\{(\w+)\}", stage)) & global_args
            assert used <= declared, f"{svc['build']['dockerfile']}: {used - declared} not declared in the stage"


def test_component_versions_equal_the_pins_and_locks() -> None:
    def locked(lock: str, package: str) -> str:
        m = re.search(rf"^{re.escape(package)}==(\S+)$", (REPO_ROOT / "requirements" / lock).read_text(), re.M)
        assert m, f"{package} in {lock}"
        return m.group(1)

    assert locked("flink.lock", "apache-flink") == PINS["FLINK_VERSION"]
    assert locked("airflow.lock", "apache-airflow") == PINS["AIRFLOW_VERSION"]
    assert locked("platform.lock", "mlflow") == PINS["MLFLOW_VERSION"]
    pom = (REPO_ROOT / "build" / "maven" / "flink-connectors" / "pom.xml").read_text()
    assert f"<flink.kafka.connector.version>{PINS['FLINK_KAFKA_CONNECTOR_VERSION']}<" in pom
    flink = (COMPOSE_DIR / "images" / "flink" / "Dockerfile").read_text()
    # The image refuses to build when the locked PyFlink differs from the Flink image version.
    assert 'm.version("apache-flink")' in flink and '= "${FLINK_VERSION}"' in flink
    assert "flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar" in flink


# ---------------------------------------------------------------- health, memory, volumes, ports
def test_long_running_services_have_healthchecks_and_memory_limits(services: dict[str, dict[str, Any]]) -> None:
    assert {n for n, s in services.items() if s.get("restart") == "no"} == ONE_SHOT == set(lc.ONE_SHOT)
    for name, svc in services.items():
        assert int(svc["mem_limit"]) > 0, f"{name} has no memory limit"
        if name in ONE_SHOT:
            assert "healthcheck" not in svc
            continue
        assert svc["restart"] == "unless-stopped", name
        check = svc.get("healthcheck") or {}
        assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL") and not check.get("disable"), name


def test_memory_limits_cover_the_configured_heaps(services: dict[str, dict[str, Any]]) -> None:
    def limit(name: str) -> int:
        return int(services[name]["mem_limit"])

    assert limit("kafka") >= 1.5 * size_bytes(PINS["KAFKA_HEAP"])
    assert limit("cassandra") >= 2 * size_bytes(PINS["CASSANDRA_HEAP"])
    assert limit("flink-jobmanager") > size_bytes(PINS["FLINK_JOBMANAGER_MEMORY"])
    assert limit("flink-taskmanager") > size_bytes(PINS["FLINK_TASKMANAGER_MEMORY"])
    assert env_of(services, "kafka")["KAFKA_HEAP_OPTS"] == f"-Xms{PINS['KAFKA_HEAP']} -Xmx{PINS['KAFKA_HEAP']}"
    assert env_of(services, "cassandra")["MAX_HEAP_SIZE"] == PINS["CASSANDRA_HEAP"]


def test_stateful_services_keep_their_data_in_named_volumes(project: dict[str, Any]) -> None:
    declared = set(project["volumes"])
    for name, target in STATEFUL_VOLUMES.items():
        mounts = [v for v in project["services"][name].get("volumes", []) if v["target"] == target]
        assert len(mounts) == 1 and mounts[0]["type"] == "volume" and mounts[0]["source"] in declared, name
    # The bridge's spool lives on that volume.
    bridge = container_cfg(project["services"], "bridge")
    assert str(bridge.state_dir) == STATEFUL_VOLUMES["bridge"]


def test_published_ports_bind_loopback_with_the_native_numbers(services: dict[str, dict[str, Any]],
                                                              native: Context) -> None:
    c = native.cfg
    expected = {
        "kafka": {(Kafka(native).port, "tcp")},
        "cassandra": {(Cassandra(native).port, "tcp")},
        "minio": {(MinIO(native).port, "tcp"), (c.minio_console_port, "tcp")},
        "flink-jobmanager": {(Flink(native).port, "tcp")},
        "mlflow": {(MLflow(native).port, "tcp")},
        "airflow-api-server": {(Airflow(native).port, "tcp")},
        "grafana": {(c.grafana_port, "tcp")},
        "grafana-live": {(GrafanaLive(native).port, "tcp")},
        "predictor": {(Predictor(native).port, "tcp")},
        "bridge": {(Bridge(native).port, "udp"), (c.bridge_dmg1_port, "udp"), (c.bridge_http_port, "tcp")},
    }
    published = {
        name: {(int(p["published"]), p["protocol"]) for p in svc.get("ports", [])}
        for name, svc in services.items() if svc.get("ports")
    }
    assert published == expected
    for svc in services.values():
        for port in svc.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", port


def test_dependencies_wait_on_health_or_completion(services: dict[str, dict[str, Any]]) -> None:
    awaited: set[str] = set()
    for name, svc in services.items():
        for target, dep in (svc.get("depends_on") or {}).items():
            if dep["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"
            else:
                assert dep["condition"] == "service_completed_successfully", f"{name} -> {target}: {dep}"
                assert target in ONE_SHOT
                if name not in ONE_SHOT:
                    awaited.add(target)
    # `docker compose up --wait` treats a one-shot's exit as a failure unless a long-running
    # service waits for its completion.
    assert awaited == ONE_SHOT
    for needs in ("platform-init", "bridge", "airflow-scheduler"):
        assert services[needs].get("depends_on"), needs
    assert services["bridge"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["platform-init"]["depends_on"].keys() == {"kafka", "cassandra", "minio"}

    def deps(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name].get("depends_on", {}).items()}

    # Grafana is provisioned once healthy; the pusher starts with its token and a healthy broker.
    assert deps("grafana-init") == {"grafana": "service_healthy"}
    assert deps("grafana-live") == {"kafka": "service_healthy", "grafana-init": "service_completed_successfully"}
    assert deps("kafka-exporter") == {"kafka": "service_healthy"}
    assert deps("predictor") == {
        "kafka": "service_healthy", "mlflow": "service_healthy", "platform-init": "service_completed_successfully"}
    assert deps("prometheus") == {}, "scrapes tolerate targets that are not up yet"


# ---------------------------------------------------------------- same settings as native
def test_kafka_listens_for_containers_and_for_host_processes(services: dict[str, dict[str, Any]],
                                                            native: Context) -> None:
    env = env_of(services, "kafka")
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    port = PINS["KAFKA_PORT"]
    # Containers: the service name, as p424.config resolves it inside them.
    assert advertised["DOCKER"] == container_cfg(services, "bridge").kafka_bootstrap == f"kafka:{port}"
    # Host processes (a bridge or replay tool on the host, KAFKA_HOST empty): the native address.
    assert advertised["HOST"] == native.cfg.kafka_bootstrap == f"127.0.0.1:{port}"
    [published] = services["kafka"]["ports"]
    assert listeners["HOST"] == f":{published['target']}" and published["published"] == port
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "DOCKER"
    # The broker settings native mode writes to server.properties, as the image's KAFKA_* variables.
    props = dict(line.split("=", 1) for line in Kafka(native).server_properties().splitlines() if line)
    compose_props = {k.removeprefix("KAFKA_").lower().replace("_", "."): v for k, v in env.items()}
    compose_props["log.retention.ms"] = str(int(env["KAFKA_LOG_RETENTION_HOURS"]) * 3600 * 1000)
    same = ("process.roles", "node.id", "num.partitions", "auto.create.topics.enable", "log.retention.ms",
            "offsets.topic.replication.factor", "transaction.state.log.replication.factor",
            "transaction.state.log.min.isr", "share.coordinator.state.topic.replication.factor",
            "share.coordinator.state.topic.min.isr", "group.initial.rebalance.delay.ms", "controller.listener.names",
            "num.network.threads", "num.io.threads", "num.recovery.threads.per.data.dir")
    assert {k: compose_props[k] for k in same} == {k: props[k] for k in same}
    # The image turns every KAFKA_* variable into a broker property and refuses KAFKA_PORT/KAFKA_HOST:
    # the only env file is the broker's auth settings, no platform settings file.
    assert [Path(f["path"]).name for f in services["kafka"]["env_file"]] == ["kafka.env"]
    assert not {"KAFKA_PORT", "KAFKA_HOST", *IDENTITY_VARIABLES} & env.keys()


def test_containers_reach_services_by_name_through_the_host_settings(services: dict[str, dict[str, Any]]) -> None:
    for name in ("bridge", "platform-init", "flink-taskmanager", "flink-job-submit", "airflow-scheduler", "grafana",
                 "grafana-init", "grafana-live", "predictor"):
        cfg = container_cfg(services, name)
        assert cfg.kafka_bootstrap == f"kafka:{PINS['KAFKA_PORT']}", name
        assert cfg.cassandra_contact == "cassandra", name
        assert cfg.minio_url == f"http://minio:{PINS['MINIO_PORT']}", name
        assert cfg.mlflow_url == f"http://mlflow:{PINS['MLFLOW_PORT']}", name
        assert cfg.flink_url == f"http://flink-jobmanager:{PINS['FLINK_REST_PORT']}", name
        assert cfg.airflow_url == f"http://airflow-api-server:{PINS['AIRFLOW_PORT']}", name
        assert cfg.platform_bind_address == "0.0.0.0", name
        for service_name in ("kafka", "cassandra", "minio", "mlflow", "flink-jobmanager", "airflow-api-server"):
            assert service_name in services


def test_provisioning_creates_the_same_topics_buckets_and_schema_as_native(services: dict[str, dict[str, Any]],
                                                                          native: Context) -> None:
    init = services["platform-init"]
    assert init["command"] == ["python", "-m", "launcher", "provision"]
    cfg = container_cfg(services, "platform-init")
    assert cfg.topics == native.cfg.topics
    assert cfg.buckets == native.cfg.buckets
    assert (cfg.kafka_partitions, cfg.kafka_retention_hours) == (native.cfg.kafka_partitions, native.cfg.kafka_retention_hours)
    assert (cfg.cassandra_keyspace, cfg.keyspace_replication) == (native.cfg.cassandra_keyspace, native.cfg.keyspace_replication)
    assert cfg.minio_root_user == native.cfg.minio_root_user
    assert cfg.minio_root_password == FAKE_SECRETS["MINIO_ROOT_PASSWORD"]
    assert (cfg.kafka_bootstrap, cfg.minio_endpoint, cfg.cassandra_contact) == (
        f"kafka:{PINS['KAFKA_PORT']}", f"minio:{PINS['MINIO_PORT']}", "cassandra")
    # Kafka auto-creation is off in both modes, so the topics exist only through provisioning.
    assert env_of(services, "kafka")["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_flink_runs_the_native_configuration_with_checkpoints_in_minio(services: dict[str, dict[str, Any]],
                                                                      native: Context) -> None:
    native_conf = flatten(yaml.safe_load(Flink(native).config_yaml()))
    for name in ("flink-jobmanager", "flink-taskmanager", "flink-job-submit"):
        props = flink_properties(env_of(services, name))
        same = ("jobmanager.rpc.port", "jobmanager.memory.process.size", "jobmanager.execution.failover-strategy",
                "rest.port", "taskmanager.numberOfTaskSlots", "taskmanager.memory.process.size", "parallelism.default",
                "state.backend.type", "execution.checkpointing.externalized-checkpoint-retention",
                "execution.checkpointing.num-retained", "restart-strategy.type")
        assert {k: props[k] for k in same} == {k: native_conf[k] for k in same}, name
        bucket = PINS["MINIO_BUCKET_FLINK"]
        assert props["execution.checkpointing.dir"] == f"s3://{bucket}/checkpoints"
        assert props["execution.checkpointing.savepoint-dir"] == f"s3://{bucket}/savepoints"
        assert props["s3.endpoint"] == f"http://minio:{PINS['MINIO_PORT']}"
        assert props["s3.path.style.access"] == "true"
        assert props["s3.secret-key"] == FAKE_SECRETS["MINIO_ROOT_PASSWORD"]
        assert props["python.executable"] == props["python.client.executable"] == "/opt/pyflink/bin/python"
        assert props["jobmanager.rpc.address"] == props["rest.address"] == "flink-jobmanager"
        volumes = [v for v in services[name].get("volumes", []) if not v.get("read_only")]
        # Flink keeps no local state in compose mode; the submitter only its registry of jobs and savepoints
        # (besides, read-only, the Kafka CA certificate: tested with the TLS settings).
        assert [v["target"] for v in volumes] == ([STATEFUL_VOLUMES[name]] if name in STATEFUL_VOLUMES else []), name
        # Prometheus metrics from the JobManager and the TaskManager, with the job's state as a gauge.
        assert props["metrics.reporter.prom.factory.class"] == "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
        assert props["metrics.reporter.prom.port"] == "9249"
        assert props["metrics.job.status.enable"] == "STATE"
    dockerfile = (COMPOSE_DIR / "images" / "flink" / "Dockerfile").read_text()
    assert "/opt/flink/plugins/s3-fs-presto" in dockerfile and "uv venv --python" in dockerfile
    assert "/opt/pyflink" in dockerfile and "/opt/flink/connectors" in dockerfile
    # The reporter is a plugin of the distribution; the image build checks it is where Flink loads plugins.
    assert "RUN test -f /opt/flink/plugins/metrics-prometheus/flink-metrics-prometheus-${FLINK_VERSION}.jar" in dockerfile


def test_the_taskmanager_runs_the_grpc_loopback_agent_built_as_natively(services: dict[str, dict[str, Any]],
                                                                       native: Context) -> None:
    # Beam's gRPC servers for the Python workers on loopback: natively, in the containers, in the pods.
    agent = deploy_generate.FLINK_GRPC_LOOPBACK_AGENT
    native_opts = flatten(yaml.safe_load(Flink(native).config_yaml()))["env.java.opts.taskmanager"]
    assert native_opts == f"-javaagent:{Flink(native).grpc_loopback_agent}"
    for name in ("flink-jobmanager", "flink-taskmanager", "flink-job-submit"):
        assert flink_properties(env_of(services, name))["env.java.opts.taskmanager"] == f"-javaagent:{agent}"
    dockerfile = (COMPOSE_DIR / "images" / "flink" / "Dockerfile").read_text()
    # The same pom and the same build script as launcher/installers.py, at the same Byte Buddy pin.
    assert "-f /src/build/maven/grpc-loopback-agent/pom.xml dependency:copy-dependencies" in dockerfile
    assert '"-Dbyte.buddy.version=${BYTE_BUDDY_VERSION}"' in dockerfile
    assert "sh /src/build/java/build-agent.sh grpc-loopback-agent /tmp/grpc-loopback-agent-libs /opt/grpc-loopback-agent" in dockerfile
    assert f"COPY --from=grpc-loopback-agent /opt/grpc-loopback-agent {Path(agent).parent}" in dockerfile
    assert re.search(r"^ARG MAVEN_IMAGE_VERSION=\d+\.\d+\.\d+-eclipse-temurin-17$", dockerfile, re.M)
    pom = (REPO_ROOT / "build" / "maven" / "grpc-loopback-agent" / "pom.xml").read_text()
    assert f"<byte.buddy.version>{PINS['BYTE_BUDDY_VERSION']}<" in pom
    ignore = (COMPOSE_DIR / "images" / "flink" / "Dockerfile.dockerignore").read_text().splitlines()
    assert {"!build/java/", "!build/maven/grpc-loopback-agent/"} <= set(ignore)


def test_the_job_submitter_uses_the_native_submission_code(services: dict[str, dict[str, Any]]) -> None:
    submit = services["flink-job-submit"]
    script = Path(submit["command"][1])
    local = REPO_ROOT / script.relative_to("/opt/p424")
    assert local.exists() and submit["command"][0] == "/opt/pyflink/bin/python"
    imported = {
        (node.module, alias.name) for node in ast.walk(ast.parse(local.read_text()))
        if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert {("launcher.flink_submit", "FlinkJobs"), ("launcher.flink_submit", "platform_jobs")} <= imported
    assert "jobs.ensure(spec)" in local.read_text()  # submits only when no job of that name is active
    deps = {k: v["condition"] for k, v in submit["depends_on"].items()}
    assert deps == {"flink-jobmanager": "service_healthy", "flink-taskmanager": "service_healthy",
                    "platform-init": "service_completed_successfully"}
    assert container_cfg(services, "flink-job-submit").flink_job_name == PINS["FLINK_JOB_NAME"]


def test_taskmanager_health_matches_its_own_registration() -> None:
    health = load_module(COMPOSE_DIR / "images" / "flink" / "health.py")
    tms = [{"id": "172.18.0.7:40123-5f1a2b", "path": "pekko.tcp://flink@172.18.0.7:6122/user/rpc/taskmanager_0"}]
    assert health.registered(tms, "172.18.0.7")
    assert not health.registered(tms, "172.18.0.70")
    assert not health.registered([], "172.18.0.7")


def test_airflow_runs_the_native_settings_and_ml_in_the_platform_venv(services: dict[str, dict[str, Any]],
                                                                     native: Context) -> None:
    native_env = Airflow(native).env()
    for name in ("airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        env = env_of(services, name)
        assert {k for k in native_env if k.startswith("AIRFLOW__")} <= env.keys(), name
        same = ("AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__PARALLELISM",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "AIRFLOW__API__PORT", "AIRFLOW__API__WORKERS",
                "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL")
        assert {k: env[k] for k in same} == {k: native_env[k] for k in same}, name
        # Connections and variables: airflow_connections() of the configuration inside the container.
        for key, value in airflow_connections(container_cfg(services, name)).items():
            if key.startswith("AIRFLOW_CONN_"):
                assert json.loads(env[key]) == json.loads(value), key
            else:
                assert env[key] == value, key
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
            f"postgresql+psycopg2://p424:{FAKE_SECRETS['POSTGRES_PASSWORD']}@postgres:{PINS['POSTGRES_PORT']}/airflow")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://airflow-api-server:{PINS['AIRFLOW_PORT']}/execution/"
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/p424/airflow/dags"
        assert env["P424_PLATFORM_PYTHON"] == "/opt/p424-venv/bin/python"
    dockerfile = (COMPOSE_DIR / "images" / "airflow" / "Dockerfile").read_text()
    assert "uv venv --python /usr/local/bin/python /opt/p424-venv" in dockerfile
    assert "VIRTUAL_ENV=/opt/p424-venv uv pip sync /tmp/platform.lock" in dockerfile
    assert "P424_PLATFORM_PYTHON=/opt/p424-venv/bin/python" in dockerfile
    script = services["airflow-api-server"]["command"][1]
    assert (REPO_ROOT / Path(script).relative_to("/opt/p424")).exists()


def test_mlflow_keeps_metadata_in_postgres_and_artifacts_in_minio(services: dict[str, dict[str, Any]],
                                                                 native: Context) -> None:
    env = env_of(services, "mlflow")
    argv = MLflow(native).processes()[0].argv
    destination = argv[argv.index("--artifacts-destination") + 1]
    assert env["MLFLOW_ARTIFACTS_DESTINATION"] == destination == f"s3://{PINS['MINIO_BUCKET_MLFLOW']}/artifacts"
    compose_ctx = Context(container_cfg(services, "platform-init"), native.paths, native.supervisor, native.installer)
    assert {k: env[k] for k in MLflow(compose_ctx).s3_env()} == MLflow(compose_ctx).s3_env()
    assert env["MLFLOW_BACKEND_STORE_URI"] == (
        f"postgresql+psycopg2://p424:{FAKE_SECRETS['POSTGRES_PASSWORD']}@postgres:{PINS['POSTGRES_PORT']}/mlflow")
    assert "mlflow" in env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    init_sql = (COMPOSE_DIR / "postgres" / "initdb" / "10-databases.sql").read_text()
    assert "CREATE DATABASE airflow;" in init_sql and "CREATE DATABASE mlflow;" in init_sql
    mounts = {v["target"]: v for v in services["postgres"]["volumes"]}
    assert mounts["/docker-entrypoint-initdb.d"]["source"] == str(COMPOSE_DIR / "postgres" / "initdb")


def test_grafana_is_provisioned_from_the_repository(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    binds = {v["target"]: v for v in grafana["volumes"] if v["type"] == "bind"}
    for target, source in (("/etc/grafana/provisioning", "grafana/provisioning"),
                           ("/var/lib/grafana/dashboards", "grafana/dashboards")):
        assert binds[target]["source"] == str(REPO_ROOT / source) and binds[target]["read_only"]
        assert (REPO_ROOT / source).is_dir(), f"{source} must exist in the repository"
    env = env_of(services, "grafana")
    assert env["GF_SECURITY_ADMIN_USER"] == PINS["GRAFANA_ADMIN_USER"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == FAKE_SECRETS["GRAFANA_ADMIN_PASSWORD"]
    assert env["GF_ANALYTICS_REPORTING_ENABLED"] == "false"
    assert env["GF_UNIFIED_ALERTING_ENABLED"] == "true"  # the alarms' rules (grafana/provisioning/alerting/)
    plugins = dict(p.partition("@")[::2] for p in env["GF_PLUGINS_PREINSTALL_SYNC"].split(","))
    assert re.fullmatch(r"\d+\.\d+\.\d+", plugins["hadesarchitect-cassandra-datasource"]), "pin the plugin's version"
    assert env["GF_SERVER_HTTP_PORT"] == PINS["GRAFANA_PORT"]
    # The Live car dashboard refreshes every second, below Grafana's default minimum of 5 s: every
    # dashboard's refresh must be allowed by the minimum, or Grafana silently slows it down.
    def seconds(duration: str) -> int:
        m = re.fullmatch(r"(\d+)([smh])", duration)
        assert m, duration
        return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]

    minimum = seconds(env["GF_DASHBOARDS_MIN_REFRESH_INTERVAL"])
    refreshes = {
        path.name: json.loads(path.read_text()).get("refresh")
        for path in (REPO_ROOT / "grafana" / "dashboards").glob("*.json")
    }
    assert refreshes["live-car.json"] == "1s"
    assert all(seconds(r) >= minimum for r in refreshes.values() if r), refreshes
    # Provisioning files may use $CASSANDRA_HOST, $CASSANDRA_PORT and $CASSANDRA_KEYSPACE.
    assert (env["CASSANDRA_HOST"], env["CASSANDRA_PORT"], env["CASSANDRA_KEYSPACE"]) == (
        "cassandra", PINS["CASSANDRA_PORT"], PINS["CASSANDRA_KEYSPACE"])


def flag(argv: list[str], name: str) -> str:
    """The value of `--name=value` in a command line."""
    [value] = [a.split("=", 1)[1] for a in argv if a.startswith(f"{name}=")]
    return value


def metrics_ports(services: dict[str, dict[str, Any]]) -> dict[str, int]:
    """The port each service serves Prometheus metrics on, from that service's own configuration."""
    listens = {
        "bridge": container_cfg(services, "bridge").bridge_http_port,
        "grafana-live": live_http_port(container_cfg(services, "grafana-live")),
        "predictor": container_cfg(services, "predictor").predictor_http_port,
        "kafka-exporter": int(flag(exporter_argv(services), "--web.listen-address").rpartition(":")[2]),
        "prometheus": int(flag(services["prometheus"]["command"], "--web.listen-address").rpartition(":")[2]),
    }
    for name in ("flink-jobmanager", "flink-taskmanager"):
        listens[name] = int(flink_properties(env_of(services, name))["metrics.reporter.prom.port"])
    return listens


def test_prometheus_scrapes_every_metrics_endpoint_by_service_name(
    project: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    prom = services["prometheus"]
    config_file = flag(prom["command"], "--config.file")
    binds = {v["target"]: v for v in prom["volumes"] if v["type"] == "bind"}
    assert binds[config_file]["source"] == str(PROMETHEUS_CONFIG) and binds[config_file]["read_only"]
    assert flag(prom["command"], "--storage.tsdb.path") == STATEFUL_VOLUMES["prometheus"]
    listens = metrics_ports(services)
    assert f"http://127.0.0.1:{listens['prometheus']}/-/healthy" in prom["healthcheck"]["test"]
    # Every target in the repository's prometheus.yml is a compose service on its metrics port...
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    targets = [
        (job, target) for job in config["scrape_configs"] for static in job.get("static_configs", [])
        for target in static.get("targets") or []
    ]
    assert targets and all(job.get("scheme", "http") == "http" for job, _ in targets)
    scraped = set()
    for job, target in targets:
        host, _, port = target.rpartition(":")
        assert host in services, f"job {job['job_name']!r}: {target} names no compose service"
        assert host in listens and int(port) == listens[host], (
            f"job {job['job_name']!r}: {host} serves metrics on {listens.get(host)}, not {port}")
        scraped.add(host)
    # ...and every service that serves metrics is scraped.
    assert scraped == set(listens) - {"prometheus"}
    # Our own services want the scraper's bearer token: Prometheus reads it from the file compose
    # mounts from the generated credentials (the value itself is in no committed file).
    ours = {"bridge", "grafana-live", "predictor"}
    [mounted] = prom["configs"]
    token = project["configs"][mounted["source"]]
    assert token["content"] == FAKE_SECRETS["P424_METRICS_TOKEN"]
    for job, target in targets:
        if target.rpartition(":")[0] in ours:
            assert job["authorization"] == {"type": "Bearer", "credentials_file": mounted["target"]}, job["job_name"]
        else:
            assert "authorization" not in job, job["job_name"]


def test_grafana_reads_the_compose_prometheus(services: dict[str, dict[str, Any]]) -> None:
    provisioned = yaml.safe_load(GRAFANA_DATASOURCES.read_text())["datasources"]
    [prometheus] = [ds for ds in provisioned if ds["type"] == "prometheus"]
    url = prometheus["url"]
    assert url == f"http://prometheus:{metrics_ports(services)['prometheus']}"
    # grafana-sync gets the same URL (it leaves provisioned datasources alone, but names the same one).
    assert env_of(services, "grafana-init")["PROMETHEUS_URL"] == container_cfg(services, "grafana-init").prometheus_url == url


def exporter_argv(services: dict[str, dict[str, Any]], sasl: str = "") -> list[str]:
    """The exporter's command line as its shell runs it (``sasl``: the KAFKA_EXPORTER_SASL it expands)."""
    exporter = services["kafka-exporter"]
    assert exporter["entrypoint"] == ["/bin/sh", "-c"]
    [script] = exporter["command"]
    words = shlex.split(script.replace("$KAFKA_EXPORTER_SASL", sasl))
    assert words[:2] == ["exec", "/bin/kafka_exporter"]
    return words[2:]


def test_kafka_exporter_reads_the_broker_through_the_container_listener(services: dict[str, dict[str, Any]]) -> None:
    command = exporter_argv(services)
    advertised = dict(item.split("://") for item in env_of(services, "kafka")["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert flag(command, "--kafka.server") == advertised["DOCKER"] == f"kafka:{PINS['KAFKA_PORT']}"
    # Kafka 4 serves no request version older than Kafka 2.1's (KIP-896): the protocol pin must be newer.
    major, minor, _ = (int(x) for x in flag(command, "--kafka.version").split("."))
    assert (major, minor) >= (2, 1)
    assert f"127.0.0.1:{metrics_ports(services)['kafka-exporter']}/metrics" in services["kafka-exporter"]["healthcheck"]["test"][1]


def test_grafana_init_runs_native_grafana_sync_and_hands_the_token_to_the_pusher(
        services: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    init = services["grafana-init"]
    # The command `./launchcommand.sh grafana-sync` runs natively, from the same registry.
    assert init["command"] == ["python", "-m", "launcher", "grafana-sync"]
    assert COMMANDS["grafana-sync"].run is cmd_grafana_sync
    cfg = container_cfg(services, "grafana-init")
    grafana_env = env_of(services, "grafana")
    assert cfg.grafana_url == f"http://grafana:{grafana_env['GF_SERVER_HTTP_PORT']}"
    assert (cfg.grafana_admin_user, cfg.grafana_admin_password) == (
        grafana_env["GF_SECURITY_ADMIN_USER"], grafana_env["GF_SECURITY_ADMIN_PASSWORD"])
    # It stores the token in <state>/credentials.env; the pusher's state dir is the same named volume.
    written = StatePaths.of(cfg).credentials
    assert written.parent == cfg.state_dir == Path(STATEFUL_VOLUMES["grafana-init"])
    volumes = {
        name: {v["target"]: v["source"] for v in services[name]["volumes"] if v["type"] == "volume"}
        for name in ("grafana-init", "grafana-live")
    }
    live_state = container_cfg(services, "grafana-live").state_dir
    assert volumes["grafana-live"].get(str(live_state)) == volumes["grafana-init"][str(cfg.state_dir)], (
        "grafana-live must read its state dir from the volume grafana-init writes the token to")
    # For real: what grafana-sync writes there is the pusher's GRAFANA_TOKEN (tmp_path plays the volume).
    set_credential(tmp_path / written.name, "GRAFANA_TOKEN", "glsa_fake-token")
    live = load_config(env_file=DEFAULT_ENV_FILE, environ={**env_of(services, "grafana-live"), "PLATFORM_STATE_DIR": str(tmp_path)})
    assert live.grafana_token == "glsa_fake-token"
    assert live.grafana_url == cfg.grafana_url and live.grafana_live_stream == cfg.grafana_live_stream


def test_grafana_live_serves_health_on_the_configured_port(services: dict[str, dict[str, Any]]) -> None:
    live = services["grafana-live"]
    assert live["command"] == ["python", "-m", "grafana.live"]
    cfg = container_cfg(services, "grafana-live")
    port = live_http_port(cfg)
    assert port == int(PINS["GRAFANA_LIVE_HTTP_PORT"]) and cfg.platform_bind_address == "0.0.0.0"
    [url] = re.findall(r"http://127\.0\.0\.1:(\d+)(/health)", " ".join(live["healthcheck"]["test"]))
    assert url == (str(port), "/health")
    [published] = live["ports"]
    assert int(published["target"]) == int(published["published"]) == port
    assert cfg.kafka_bootstrap == f"kafka:{PINS['KAFKA_PORT']}"


def test_launcher_overrides_reach_interpolation_and_containers(validator: Path, tmp_path: Path) -> None:
    write_env(tmp_path / "credentials.env", FAKE_SECRETS)
    write_env(tmp_path / lc.OVERRIDES_FILE, {"KAFKA_PARTITIONS": "12", "MODEL_NAME": "p424_override"})
    write_auth_files(tmp_path)
    result = run_validator(validator, tmp_path, [DEFAULT_ENV_FILE, tmp_path / "credentials.env", tmp_path / lc.OVERRIDES_FILE])
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert env_of(services, "kafka")["KAFKA_NUM_PARTITIONS"] == "12"
    assert container_cfg(services, "platform-init").kafka_partitions == 12
    assert env_of(services, "airflow-scheduler")["AIRFLOW_VAR_P424_MODEL_NAME"] == "p424_override"


# ---------------------------------------------------------------- launcher/compose.py
def test_compose_argv_uses_the_project_dir_file_and_env_files() -> None:
    argv = lc.compose_argv(Path("/repo"), [Path("/repo/toolchain-config.env"), Path("/s/credentials.env")], "up", "-d")
    assert argv == ["docker", "compose", "--project-directory", "/repo", "-f", "/repo/compose/docker-compose.yml",
                    "--env-file", "/repo/toolchain-config.env", "--env-file", "/s/credentials.env", "up", "-d"]


def test_override_settings_lists_only_differences_and_never_secrets() -> None:
    base = load_config(env_file=DEFAULT_ENV_FILE, environ={})
    effective = base.replace(kafka_partitions=12, minio_root_password="s3cret", grafana_port=3300)
    assert lc.override_settings(effective, base) == {"KAFKA_PARTITIONS": "12", "GRAFANA_PORT": "3300"}
    assert lc.override_settings(base, base) == {}
    text = lc.render_env_file({"KAFKA_PARTITIONS": "12"})
    assert parse_env_file_text(text) == {"KAFKA_PARTITIONS": "12"}


def parse_env_file_text(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.fixture()
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[lc.ComposePlatform]:
    clear_settings_from_environ(monkeypatch)  # only its own settings, whatever the test run was given
    yield lc.ComposePlatform({"PLATFORM_STATE_DIR": str(tmp_path), "KAFKA_PARTITIONS": "12"})


def test_compose_platform_prepares_its_env_files(platform: lc.ComposePlatform, tmp_path: Path,
                                                 validator: Path) -> None:
    assert platform.mode == "compose" and platform.paths.root == tmp_path
    assert platform.env_files == [DEFAULT_ENV_FILE, tmp_path / "credentials.env", tmp_path / lc.OVERRIDES_FILE]
    credentials = parse_env_file(tmp_path / "credentials.env")
    assert set(credentials) == {*GENERATED, *credential_keys(platform.cfg)} and all(credentials.values())
    assert (tmp_path / "credentials.env").stat().st_mode & 0o077 == 0
    # Each container's auth env file, private like the credentials they come from.
    auth_dir = tmp_path / compose_auth.AUTH_DIR
    assert auth_dir.stat().st_mode & 0o777 == 0o700
    files = sorted(auth_dir.iterdir())
    assert [f.name for f in files] == sorted(f"{s}.env" for s in compose_auth.service_env(platform.cfg, credentials))
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert parse_env_file(auth_dir / "bridge.env") == identity_env("bridge", credentials)
    overrides = parse_env_file(tmp_path / lc.OVERRIDES_FILE)
    assert overrides == {"PLATFORM_STATE_DIR": str(tmp_path), "KAFKA_PARTITIONS": "12"}
    argv = platform.argv("config")
    assert argv[:6] == ["docker", "compose", "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE_FILE)]
    # The env files the launcher passes load in the real loader, with the override applied.
    env_files = [Path(argv[i + 1]) for i, a in enumerate(argv) if a == "--env-file"]
    result = run_validator(validator, tmp_path, env_files)
    assert result.returncode == 0, result.stderr
    assert env_of(json.loads(result.stdout)["services"], "kafka")["KAFKA_NUM_PARTITIONS"] == "12"


PS_NDJSON = "\n".join(json.dumps(row) for row in [
    {"Name": "p424-kafka-1", "Service": "kafka", "State": "running", "Health": "healthy", "ExitCode": 0,
     "Status": "Up 3 minutes (healthy)", "Image": "apache/kafka:4.2.2", "Project": "p424",
     "Publishers": [{"URL": "127.0.0.1", "TargetPort": 19092, "PublishedPort": 9092, "Protocol": "tcp"}]},
    {"Name": "p424-cassandra-1", "Service": "cassandra", "State": "running", "Health": "starting", "ExitCode": 0,
     "Status": "Up 20 seconds (health: starting)", "Publishers": [
         {"URL": "127.0.0.1", "TargetPort": 7000, "PublishedPort": 0, "Protocol": "tcp"},
         {"URL": "127.0.0.1", "TargetPort": 9042, "PublishedPort": 9042, "Protocol": "tcp"}]},
    {"Name": "p424-platform-init-1", "Service": "platform-init", "State": "exited", "Health": "", "ExitCode": 0,
     "Status": "Exited (0) 2 minutes ago", "Publishers": []},
    {"Name": "p424-flink-job-submit-1", "Service": "flink-job-submit", "State": "exited", "Health": "",
     "ExitCode": 1, "Status": "Exited (1) 1 minute ago", "Publishers": None},
    {"Name": "p424-grafana-1", "Service": "grafana", "State": "running", "Health": "unhealthy", "ExitCode": 0,
     "Status": "Up 5 minutes (unhealthy)", "Publishers": []},
    {"Name": "p424-mlflow-1", "Service": "mlflow", "State": "exited", "Health": "", "ExitCode": 137,
     "Status": "Exited (137) 10 seconds ago", "Publishers": []},
])


def test_parse_ps_reads_both_output_formats() -> None:
    rows = lc.parse_ps(PS_NDJSON)
    assert [r["Service"] for r in rows] == ["kafka", "cassandra", "platform-init", "flink-job-submit", "grafana", "mlflow"]
    assert lc.parse_ps(json.dumps(rows)) == rows  # Compose < 2.21 printed one JSON array
    assert lc.parse_ps("") == lc.parse_ps("\n") == []


def test_service_status_rows_from_ps(native: Context) -> None:
    urls = lc.service_urls(native.cfg)
    rows = {r.name: r for r in (lc.service_status(row, urls) for row in lc.parse_ps(PS_NDJSON))}
    assert (rows["kafka"].state, rows["kafka"].healthy, rows["kafka"].port) == ("running", True, 9092)
    assert rows["kafka"].url == "kafka://127.0.0.1:9092"
    assert rows["kafka"].detail == "container p424-kafka-1 (Up 3 minutes (healthy))"
    assert (rows["cassandra"].state, rows["cassandra"].healthy, rows["cassandra"].port) == ("starting", False, 9042)
    assert (rows["platform-init"].state, rows["platform-init"].healthy) == ("completed", True)
    assert (rows["flink-job-submit"].state, rows["flink-job-submit"].healthy) == ("failed (exit 1)", False)
    assert (rows["grafana"].state, rows["grafana"].healthy) == ("unhealthy", False)
    assert (rows["mlflow"].state, rows["mlflow"].healthy) == ("exited", False)
    assert rows["mlflow"].url == native.cfg.mlflow_url
    assert all(r.pids == [] and r.as_json()["name"] == r.name for r in rows.values())


def test_log_names_resolve_to_services_or_groups() -> None:
    services = ["kafka", "flink-jobmanager", "flink-taskmanager", "flink-job-submit", "airflow-scheduler", "airflow-init"]
    assert lc.log_services("kafka", services) == ["kafka"]
    assert lc.log_services("flink", services) == ["flink-jobmanager", "flink-taskmanager", "flink-job-submit"]
    assert lc.log_services("airflow-scheduler", services) == ["airflow-scheduler"]
    with pytest.raises(PlatformError, match="no service named 'spark'"):
        lc.log_services("spark", services)


def completed(code: int, out: str = "", err: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["docker"], code, out, err)


def test_missing_docker_pieces_give_actionable_errors(tmp_path: Path) -> None:
    assert "`docker` command is not on PATH" in str(lc.docker_problem(None, None, None))
    no_plugin = lc.docker_problem("/usr/bin/docker", completed(1, err="docker: unknown command: docker compose"), None)
    assert "Docker Compose v2 plugin" in str(no_plugin) and "--mode native" in str(no_plugin)
    assert "too old" in str(lc.docker_problem("/usr/bin/docker", completed(0, "2.20.3\n"), completed(0, "27.1.1")))
    no_engine = lc.docker_problem("/usr/bin/docker", completed(0, "v2.29.1\n"),
                                  completed(1, err="Cannot connect to the Docker daemon at unix:///var/run/docker.sock."))
    assert "engine is not reachable (Cannot connect to the Docker daemon" in str(no_engine)
    assert lc.docker_problem("/usr/bin/docker", completed(0, "2.29.1\n"), completed(0, "27.1.1\n")) is None
    # For real: with no docker on PATH the launcher stops before running anything.
    with pytest.raises(PlatformError, match="not on PATH"):
        lc.require_compose(path=str(tmp_path))


# ---------------------------------------------------------------- parity with native mode
def test_minio_is_the_same_build_in_both_modes(services: dict[str, dict[str, Any]], native: Context,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Native `go install`s MinIO at MINIO_GO_VERSION; compose builds its image from that same module version."""
    installs: list[tuple[str, str]] = []

    class RecordingInstaller:  # records what native mode asks the real installer for
        def go_binary(self, name: str, module: str, version: str) -> Path:
            installs.append((module, version))
            return Path("/nonexistent/minio")

    recording = MinIO(Context(native.cfg, native.paths, native.supervisor, RecordingInstaller()))  # type: ignore[arg-type]
    recording.install()
    [(module, version)] = installs
    minio = services["minio"]
    assert minio["build"]["args"]["MINIO_GO_VERSION"] == version == PINS["MINIO_GO_VERSION"]
    assert minio["image"] == f"p424/minio:{version}"
    dockerfile = (REPO_ROOT / minio["build"]["dockerfile"]).read_text()
    assert f'go install "{module}@${{MINIO_GO_VERSION}}"' in dockerfile
    # The same health probe as natively.
    probed: list[str] = []
    monkeypatch.setattr("launcher.services.minio.http_ok", lambda url: probed.append(url) or True)
    assert MinIO(native).healthy()
    [native_probe] = probed
    path = native_probe.removeprefix(native.cfg.minio_url)
    assert f"http://127.0.0.1:{PINS['MINIO_PORT']}{path}" in " ".join(minio["healthcheck"]["test"])
    # Same server options: quiet, the API and console ports (natively bound to the loopback address).
    native_argv = recording.processes()[0].argv
    compose_argv = minio["command"]
    assert native_argv[native_argv.index("--quiet")] == compose_argv[compose_argv.index("--quiet")]
    for option in ("--address", "--console-address"):
        assert native_argv[native_argv.index(option) + 1].rpartition(":")[2] == (
            compose_argv[compose_argv.index(option) + 1].rpartition(":")[2])


def test_down_takes_a_flink_savepoint_as_native_does(tmp_path: Path, services: dict[str, dict[str, Any]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    platform = lc.ComposePlatform({"PLATFORM_STATE_DIR": str(tmp_path)})
    calls: list[tuple[str, ...]] = []

    def run(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        out = "kafka\nflink-jobmanager\nflink-taskmanager\n" if args[0] == "ps" else ""
        return subprocess.CompletedProcess(["docker"], 0, out, "")

    monkeypatch.setattr(platform, "_run", run)
    platform.down(wipe=False)
    assert calls == [("ps", "--status", "running", "--services"), lc.SAVEPOINT_ON_DOWN, ("down", "--remove-orphans")]
    # The savepoint is taken by the submitter's own code, in its container, with its state volume.
    submit = services["flink-job-submit"]
    run_args = lc.SAVEPOINT_ON_DOWN
    service = run_args[run_args.index("--no-deps") + 1]
    assert service == "flink-job-submit" and list(run_args[run_args.index(service) + 1:]) == [*submit["command"], "--stop"]
    # With Flink not running, nothing to stop (and no container started).
    calls.clear()
    monkeypatch.setattr(platform, "_run", lambda *a, capture=False: calls.append(a) or subprocess.CompletedProcess(
        ["docker"], 0, "kafka\n", ""))
    platform.down(wipe=True)
    assert calls == [("ps", "--status", "running", "--services"), ("down", "--remove-orphans", "--volumes")]


def test_the_savepoint_goes_to_the_configured_directory_and_is_restored(services: dict[str, dict[str, Any]],
                                                                          tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`stop` asks Flink for a savepoint without a target directory, so each mode's configured one is used
    (Flink's REST handler falls back to execution.checkpointing.savepoint-dir, and refuses when it is unset:
    "Config key [...] is not set. Property [targetDirectory] must be provided."); `up` restores it."""
    from launcher import flink_submit

    submit_cfg = container_cfg(services, "flink-job-submit")
    assert str(submit_cfg.state_dir) == STATEFUL_VOLUMES["flink-job-submit"]
    props = flink_properties(env_of(services, "flink-job-submit"))
    savepoints = props["execution.checkpointing.savepoint-dir"]
    location = f"{savepoints}/savepoint-5f1a2b-0123456789ab"
    posted: list[dict[str, Any]] = []

    class Response:
        def __init__(self, body: dict[str, Any]) -> None:
            self.body = body

        def raise_for_status(self) -> None:
            return None

        def json(self) -> dict[str, Any]:
            return self.body

    def get(url: str, timeout: float) -> Response:
        if url.endswith("/jobs/overview"):
            return Response({"jobs": [{"jid": "j1", "name": submit_cfg.flink_job_name, "state": "RUNNING"}]})
        return Response({"status": {"id": "COMPLETED"}, "operation": {"location": location}})

    def post(url: str, json: dict[str, Any], timeout: float) -> Response:
        posted.append({"url": url, **json})
        return Response({"request-id": "t1"})

    monkeypatch.setattr(flink_submit.requests, "get", get)
    monkeypatch.setattr(flink_submit.requests, "post", post)
    paths = StatePaths.of(submit_cfg.replace(platform_state_dir=str(tmp_path)))
    paths.ensure()
    jobs = flink_submit.FlinkJobs(submit_cfg, paths, {}, tmp_path, tmp_path / "python", [])
    assert jobs.stop_with_savepoint(submit_cfg.flink_job_name) == location
    assert posted == [{"url": f"{submit_cfg.flink_url}/jobs/j1/stop", "drain": False}]
    # The next `up` (a new container, the same volume) restores from it.
    again = flink_submit.FlinkJobs(submit_cfg, paths, {}, tmp_path, tmp_path / "python", [])
    assert again.restore_point(submit_cfg.flink_job_name) == location
    # Natively the savepoint directory is local; one that was deleted is not restored from.
    local = tmp_path / "savepoints" / "savepoint-1"
    again._remember(submit_cfg.flink_job_name, savepoint=f"file:{local}", job_id="")
    assert again.restore_point(submit_cfg.flink_job_name) is None
    local.mkdir(parents=True)
    assert again.restore_point(submit_cfg.flink_job_name) == str(local)


def test_compose_holds_the_native_versions_topics_buckets_and_guarantees(services: dict[str, dict[str, Any]],
                                                                         native: Context) -> None:
    """One place that sums up what both modes share (the tests above check each service in detail)."""
    # Versions: every image and build argument comes from the same pins native mode installs.
    for name, svc in services.items():
        for key, value in (svc.get("build") or {}).get("args", {}).items():
            assert value == str(getattr(native.cfg, key.lower())), (name, key)
    # Topics, buckets, keyspace: the same provisioning code with the same settings.
    init = container_cfg(services, "platform-init")
    assert (init.topics, init.buckets, init.cassandra_keyspace) == (
        native.cfg.topics, native.cfg.buckets, native.cfg.cassandra_keyspace)
    # Guarantees: the bridge's spool survives restarts (a volume), Flink checkpoints and savepoints
    # are retained, `down` savepoints, and the job's consumer group is its name in both modes.
    assert str(container_cfg(services, "bridge").state_dir) == STATEFUL_VOLUMES["bridge"]
    native_conf = flatten(yaml.safe_load(Flink(native).config_yaml()))
    props = flink_properties(env_of(services, "flink-jobmanager"))
    for key in ("execution.checkpointing.externalized-checkpoint-retention", "execution.checkpointing.num-retained"):
        assert props[key] == native_conf[key]
    assert "execution.checkpointing.savepoint-dir" in native_conf and "execution.checkpointing.savepoint-dir" in props
    assert lc.SAVEPOINT_ON_DOWN[-1] == "--stop"
    assert container_cfg(services, "flink-job-submit").flink_job_name == native.cfg.flink_job_name


# ---------------------------------------------------------------- authentication, as native
@pytest.fixture(scope="session")
def native_auth(tmp_path_factory: pytest.TempPathFactory) -> Context:
    """Native mode with PLATFORM_AUTH=on and the same fake credentials (nothing is started)."""
    root = tmp_path_factory.mktemp("native-auth")
    write_env(root / "credentials.env", FAKE_SECRETS)
    cfg = load_config(env_file=DEFAULT_ENV_FILE, environ={"PLATFORM_STATE_DIR": str(root), "PLATFORM_AUTH": "on"})
    paths = StatePaths.of(cfg)
    paths.ensure()
    return Context(cfg, paths, Supervisor(paths.run, paths.logs), Installer(cfg, paths))


def logins(env: Mapping[str, str]) -> dict[str, str]:
    return {k: env.get(k, "") for k in IDENTITY_VARIABLES}


def convert_key(name: str) -> str:
    """The apache/kafka image's variable -> property rule (docker/resources/utility/utility.go ConvertKey:
    a single '_' is '.', '__' is '_', '___' is '-', lower-cased)."""
    dotted = re.sub(r"(?<!_)_(?!_)", ".", name)
    return dotted.replace("___", "-").replace("__", "_").lower()


def test_each_container_logs_in_as_its_own_component(services: dict[str, dict[str, Any]],
                                                    native_auth: Context) -> None:
    for service, component in compose_auth.LOGINS.items():
        assert container_cfg(services, service).auth_enabled, service
        assert logins(env_of(services, service)) == identity_env(component, FAKE_SECRETS), service
    # The same principals as the native processes of those components (launcher/services/*).
    native = {"bridge": Bridge, "predictor": Predictor, "grafana-live": GrafanaLive, "airflow-scheduler": Airflow,
              "flink-job-submit": Flink}
    for service, kind in native.items():
        assert logins(env_of(services, service)) == kind(native_auth).identity_env(), service
    # Nobody else holds a login: not the Flink JobManager and TaskManager (the job carries the Flink user's),
    # not the Airflow API server, DAG processor or triggerer.
    for service in set(services) - set(compose_auth.LOGINS):
        assert not any(logins(env_of(services, service)).values()), service


def test_compose_provisions_the_same_users_roles_and_acls_with_the_native_code(
    services: dict[str, dict[str, Any]], native_auth: Context
) -> None:
    from launcher.credentials import credentials_of
    from launcher.provision import steps

    init = env_of(services, "platform-init")
    cfg = container_cfg(services, "platform-init")
    handed = credentials_of(cfg, environ=init)  # no credentials file in the container: its variables
    assert handed == {k: FAKE_SECRETS[k] for k in credential_keys(cfg)}
    assert (cfg.kafka_sasl_username, cfg.cassandra_username) == ("p424-admin", "p424_admin")
    # `launcher provision`: the steps native `up` runs with auth on (ACLs from p424/security/kafka.py,
    # roles from p424/security/roles.py, MLflow users from p424/security/identities.py).
    assert [what for what, _ in steps(cfg, handed)] == [what for what, _ in steps(native_auth.cfg, handed)]


def test_kafka_checks_logins_with_the_native_broker_settings(services: dict[str, dict[str, Any]],
                                                             native_auth: Context, state: Path) -> None:
    env = env_of(services, "kafka")
    kafka = Kafka(native_auth)
    native = dict(line.split("=", 1) for line in kafka.server_properties().splitlines() if line)
    assert set(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")) == {
        "DOCKER:SASL_PLAINTEXT", "HOST:SASL_PLAINTEXT", "CONTROLLER:SASL_PLAINTEXT"}
    # Every SASL and ACL setting of native mode's server.properties, as the image renders the variables;
    # none holds '=', which the image's renderer would drop.
    compose = {convert_key(k.removeprefix("KAFKA_")): v for k, v in env.items() if k.startswith("KAFKA_")}
    for prop in ("sasl.enabled.mechanisms", "sasl.mechanism.inter.broker.protocol", "sasl.mechanism.controller.protocol",
                 "listener.name.controller.sasl.enabled.mechanisms", "authorizer.class.name",
                 "allow.everyone.if.no.acl.found", "super.users"):
        assert compose[prop] == native[prop], prop
    assert not [k for k, v in env.items() if k.startswith("KAFKA_") and k != "KAFKA_OPTS" and "=" in v]
    # The broker's logins (JAAS, one section per listener) are native mode's, its SCRAM users too.
    sections = dict(re.findall(r"(\w+)\.KafkaServer \{ (.*?) \};", env["P424_KAFKA_JAAS"]))
    scram = native["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert sections == {"docker": scram, "host": scram,
                        "controller": native["listener.name.controller.plain.sasl.jaas.config"]}
    assert env["KAFKA_OPTS"] == f"-Djava.security.auth.login.config={compose_auth.KAFKA_AUTH_DIR}/jaas.conf"
    assert env["P424_KAFKA_ADD_SCRAM"].split() == kafka.scram_arguments()[1::2]
    start = REPO_ROOT / "compose" / "images" / "kafka" / "start.sh"
    assert services["kafka"]["entrypoint"] == ["bash", "/opt/p424/kafka-start.sh"]
    assert {v["source"]: v["target"] for v in services["kafka"]["volumes"] if v["type"] == "bind"} == {
        str(start): "/opt/p424/kafka-start.sh", str(state / compose_auth.COMPOSE_TLS_DIR): compose_auth.CONTAINER_TLS_DIR}
    assert f"dir={compose_auth.KAFKA_AUTH_DIR}" in start.read_text()
    # The health probe and the exporter log in too.
    assert "--command-config /tmp/p424-kafka/client.properties" in services["kafka"]["healthcheck"]["test"][1]
    assert env["P424_KAFKA_CLIENT"].split("\\n")[0] == "security.protocol=SASL_PLAINTEXT"
    argv = exporter_argv(services, env_of(services, "kafka-exporter")["KAFKA_EXPORTER_SASL"])
    assert "--sasl.enabled" in argv and flag(argv, "--sasl.mechanism") == "sha512"
    assert flag(argv, "--sasl.username") == "p424-admin"
    assert flag(argv, "--sasl.password") == FAKE_SECRETS["KAFKA_PASSWORD_P424_ADMIN"]


def test_kafka_over_tls_in_compose_is_native_modes_tls(validator: Path, tmp_path: Path) -> None:
    """KAFKA_TLS=on in compose: the broker's listeners speak SASL_SSL with native mode's TLS settings and a
    certificate for the names containers (``kafka``) and host processes (127.0.0.1) dial, issued by the
    state dir's CA; every container that logs in to Kafka trusts that CA, mounted read-only."""
    from launcher import tls
    from launcher.services.kafka import tls_settings
    from p424.security.identities import identity
    from tests.helpers import tls_handshake

    settings = {"PLATFORM_STATE_DIR": str(tmp_path), "PLATFORM_AUTH": "on", "KAFKA_TLS": "on"}
    write_env(tmp_path / "credentials.env", FAKE_SECRETS)
    write_env(tmp_path / lc.OVERRIDES_FILE, {"PLATFORM_AUTH": "on", "KAFKA_TLS": "on"})
    write_auth_files(tmp_path, **settings)
    services = dict(load_project(validator, tmp_path)["services"])
    env = env_of(services, "kafka")
    assert set(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")) == {
        "DOCKER:SASL_SSL", "HOST:SASL_SSL", "CONTROLLER:SASL_SSL"}
    compose = {convert_key(k.removeprefix("KAFKA_")): v for k, v in env.items() if k.startswith("KAFKA_")}
    native = tls_settings(f"{compose_auth.KAFKA_AUTH_DIR}/kafka.pem", compose_auth.CONTAINER_CA_FILE)
    assert {k: compose[k] for k in native} == native
    # The start script writes the key the env file carries; it is the launcher's certificate for the broker.
    keystore = env["P424_KAFKA_TLS_KEYSTORE"].replace("\\n", "\n")
    issued = tls.node_keystore(load_config(environ={}, overrides=settings), compose_auth.KAFKA_TLS_NODE)
    assert keystore == issued.read_text() and issued.stat().st_mode & 0o077 == 0
    assert "umask 077" in (REPO_ROOT / "compose" / "images" / "kafka" / "start.sh").read_text()
    ca = tmp_path / compose_auth.COMPOSE_TLS_DIR / "ca.crt"
    for name in ("kafka", "127.0.0.1", "localhost"):  # DOCKER, HOST and the controller quorum's address
        assert tls_handshake(issued, ca, name)
    # The health probe and the exporter verify the broker too.
    probe = dict(line.split("=", 1) for line in env["P424_KAFKA_CLIENT"].split("\\n"))
    assert probe["security.protocol"] == "SASL_SSL"
    assert probe["ssl.truststore.location"] == compose_auth.CONTAINER_CA_FILE
    argv = exporter_argv(services, env_of(services, "kafka-exporter")["KAFKA_EXPORTER_SASL"])
    assert "--tls.enabled" in argv and flag(argv, "--tls.ca-file") == compose_auth.CONTAINER_CA_FILE
    # Every Kafka client's container mounts the CA read-only where its settings say it is.
    mounted = {name for name, service in services.items() for v in service.get("volumes", [])
               if v["target"] == compose_auth.CONTAINER_TLS_DIR}
    for name in mounted:
        [volume] = [v for v in services[name]["volumes"] if v["target"] == compose_auth.CONTAINER_TLS_DIR]
        assert volume["source"] == str(tmp_path / compose_auth.COMPOSE_TLS_DIR) and volume["read_only"], name
    clients = {service for service, component in compose_auth.LOGINS.items() if identity(component).kafka_user}
    # The Flink JobManager runs the Kafka source's enumerator and the TaskManager its readers and the sink.
    assert clients | {"kafka", "kafka-exporter", "flink-jobmanager", "flink-taskmanager"} == mounted
    for name in mounted - {"kafka", "kafka-exporter"}:
        cfg = container_cfg(services, name)
        assert cfg.kafka_tls_enabled and str(cfg.kafka_ca_file) == compose_auth.CONTAINER_CA_FILE, name
    # With TLS off again, the CA copy goes and the broker is back to SASL_PLAINTEXT.
    write_auth_files(tmp_path, PLATFORM_STATE_DIR=str(tmp_path), PLATFORM_AUTH="on")
    assert not ca.exists()
    assert "SASL_PLAINTEXT" in parse_env_file(tmp_path / compose_auth.AUTH_DIR / "kafka.env")[
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert parse_env_file(tmp_path / compose_auth.AUTH_DIR / "kafka.env")["P424_KAFKA_TLS_KEYSTORE"] == ""


def test_cassandra_and_mlflow_check_logins_with_the_native_settings(services: dict[str, dict[str, Any]],
                                                                    native_auth: Context) -> None:
    native_yaml = yaml.safe_load(Cassandra(native_auth).yaml())
    options = env_of(services, "cassandra")["JVM_EXTRA_OPTS"].split()
    assert "-Dcassandra.config.allow_system_properties=true" in options
    assert f"-Dcassandra.native_transport_port={PINS['CASSANDRA_PORT']}" in options
    for setting in ("authenticator", "authorizer", "role_manager"):
        assert f"-Dcassandra.settings.{setting}={native_yaml[setting]}" in options, setting
    mlflow_env = env_of(services, "mlflow")
    native = MLflow(native_auth)
    [process] = native.processes()
    assert mlflow_env["P424_MLFLOW_APP"] == process.argv[process.argv.index("--app-name") + 1] == "basic-auth"
    ini = mlflow_env["P424_MLFLOW_AUTH_INI"].replace("\\n", "\n")
    assert ini == native.basic_auth_ini(FAKE_SECRETS["MLFLOW_PASSWORD_ADMIN"]).replace(
        str(native.data / "basic_auth.db"), compose_auth.MLFLOW_AUTH_DB)
    assert mlflow_env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == FAKE_SECRETS["MLFLOW_FLASK_SERVER_SECRET_KEY"]
    assert services["mlflow"]["command"][:2] == ["sh", "/opt/p424/mlflow-start.sh"]
    volumes = {v["target"]: v["source"] for v in services["mlflow"]["volumes"]}
    assert volumes[str(Path(compose_auth.MLFLOW_AUTH_DB).parent)] == "mlflow-auth"


def test_grafana_reads_cassandra_as_the_reader() -> None:
    [cassandra] = [d for d in yaml.safe_load(GRAFANA_DATASOURCES.read_text())["datasources"]
                   if d["type"] == "hadesarchitect-cassandra-datasource"]
    assert cassandra["jsonData"]["user"] == "${CASSANDRA_USERNAME}"
    assert cassandra["secureJsonData"] == {"password": "${CASSANDRA_PASSWORD}"}
    assert compose_auth.LOGINS["grafana"] == compose_auth.LOGINS["grafana-init"] == "reader"


@pytest.mark.parametrize(("auth", "address", "native_on", "compose_on"), [
    ("on", "127.0.0.1", True, True), ("off", "127.0.0.1", False, False),
    # auto: the containers bind 0.0.0.0, so compose authenticates even when native binds loopback
    ("auto", "127.0.0.1", False, True), ("auto", "192.168.1.20", True, True),
])
def test_auth_is_on_in_both_modes_when_platform_auth_says_so(auth: str, address: str, native_on: bool,
                                                             compose_on: bool) -> None:
    cfg = Config(platform_auth=auth, platform_bind_address=address)
    assert (cfg.auth_enabled, compose_auth.auth_enabled(cfg)) == (native_on, compose_on)


def test_with_auth_off_compose_hands_out_no_login(validator: Path, tmp_path: Path) -> None:
    write_env(tmp_path / "credentials.env", FAKE_SECRETS)
    effective = load_config(env_file=DEFAULT_ENV_FILE, environ={}, overrides={"PLATFORM_AUTH": "off"},
                            state_layers=False)
    from_file = load_config(env_file=DEFAULT_ENV_FILE, environ={}, state_layers=False)
    write_env(tmp_path / lc.OVERRIDES_FILE, lc.override_settings(effective, from_file))
    write_auth_files(tmp_path, PLATFORM_AUTH="off")
    result = run_validator(validator, tmp_path, [DEFAULT_ENV_FILE, tmp_path / "credentials.env",
                                                 tmp_path / lc.OVERRIDES_FILE])
    assert result.returncode == 0, result.stderr
    off = json.loads(result.stdout)["services"]
    components = [v for k, v in FAKE_SECRETS.items() if k in credential_keys(effective)]
    assert not [v for v in components if v in json.dumps(off)]
    for service in compose_auth.LOGINS:
        assert not container_cfg(off, service).auth_enabled, service
    assert env_of(off, "kafka")["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "DOCKER:PLAINTEXT,HOST:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert "-Dcassandra.settings.authenticator=AllowAllAuthenticator" in env_of(off, "cassandra")["JVM_EXTRA_OPTS"]
    assert env_of(off, "mlflow")["P424_MLFLOW_APP"] == ""


def test_the_auth_env_files_stay_out_of_git() -> None:
    path = load_config().state_dir / compose_auth.AUTH_DIR / "bridge.env"
    result = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO_ROOT, check=False)
    assert result.returncode == 0, f"{path} is not git-ignored"


def test_an_auth_value_compose_would_alter_is_refused_by_name() -> None:
    assert compose_auth.render({"A": 'x="y"'}).splitlines()[1] == 'A=x="y"'  # quotes inside are literal
    for bad in ("pa$$word", "a #b", '"quoted"', "two\nlines"):
        with pytest.raises(ValueError, match=r"^B: a value with"):
            compose_auth.render({"B": bad})
