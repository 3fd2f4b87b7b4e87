"""Apache Airflow 3.x as four processes (api-server, scheduler, dag-processor, triggerer).

SQLite metadata database and LocalExecutor with parallelism sized for two cores. Connections and
variables are injected as AIRFLOW_CONN_* / AIRFLOW_VAR_* environment variables built from the
platform configuration, so no host is hard-coded in a DAG.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from launcher.console import PlatformError
from launcher.procs import ProcessSpec
from launcher.services.base import NativeService, require_secret
from p424.config import REPO_ROOT, Config

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def airflow_connections(cfg: Config) -> dict[str, str]:
    """AIRFLOW_CONN_* variables (JSON form) and AIRFLOW_VAR_* for the DAGs, from the platform config."""
    conns: dict[str, dict[str, Any]] = {
        "p424_cassandra": {
            "conn_type": "generic",
            "host": cfg.cassandra_contact,
            "port": cfg.cassandra_port,
            "schema": cfg.cassandra_keyspace,
        },
        "p424_kafka": {"conn_type": "generic", "host": ",".join(cfg.kafka_nodes), "port": cfg.kafka_port},
        "p424_mlflow": {"conn_type": "http", "host": cfg.host_of("mlflow"), "port": cfg.mlflow_port, "schema": "http"},
        "p424_minio": {
            "conn_type": "aws",
            "login": cfg.minio_root_user,
            "password": cfg.minio_root_password,
            "extra": {"endpoint_url": cfg.minio_url},
        },
    }
    env = {f"AIRFLOW_CONN_{k.upper()}": json.dumps(v) for k, v in conns.items()}
    env.update(
        {
            "AIRFLOW_VAR_P424_MODEL_NAME": cfg.model_name,
            "AIRFLOW_VAR_P424_TRAINING_SCHEDULE": cfg.training_schedule,
            "AIRFLOW_VAR_P424_QUALITY_SCHEDULE": cfg.quality_schedule,
            "AIRFLOW_VAR_P424_ARCHIVE_SCHEDULE": cfg.archive_schedule,
            "AIRFLOW_VAR_P424_MIN_TRAINING_LAPS": str(cfg.min_training_laps),
            "AIRFLOW_VAR_P424_DEFAULT_TRACK": cfg.default_track,
            "AIRFLOW_VAR_P424_TELEMETRY_BUCKET": cfg.minio_bucket_telemetry,
        }
    )
    return env


class Airflow(NativeService):
    name = "airflow"
    component = "airflow"

    @property
    def venv(self) -> Path:
        return self.paths.venv("airflow")

    @property
    def home(self) -> Path:
        return self.paths.data / "airflow"

    @property
    def url(self) -> str:
        return self.cfg.airflow_url

    @property
    def port(self) -> int:
        return self.cfg.airflow_port

    @property
    def passwords_file(self) -> Path:
        return self.paths.conf / "airflow" / "passwords.json"

    def install(self) -> None:
        self.ctx.installer.venv("airflow", REPO_ROOT / "requirements" / "airflow.lock")

    def env(self) -> dict[str, str]:
        c = self.cfg
        base = f"http://{c.host_of('airflow')}:{c.airflow_port}"
        return {
            **self.settings_env(),  # DAG tasks resolve the launcher's settings, flags included
            "AIRFLOW_HOME": str(self.home),
            "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "airflow" / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(c.airflow_parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(c.airflow_parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__API__HOST": c.platform_bind_address,
            "AIRFLOW__API__PORT": str(c.airflow_port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": require_secret(c, "airflow_jwt_secret"),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.paths.logs / "airflow-tasks"),
            # DAG tasks run the ML code in the platform environment (external_python).
            "P424_PLATFORM_PYTHON": str(self.paths.venv_python("platform")),
            "P424_CONFIG_FILE": str(REPO_ROOT / "toolchain-config.env"),
            **airflow_connections(c),
        }

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.passwords_file.parent.mkdir(parents=True, exist_ok=True)
        self.passwords_file.write_text(json.dumps({"admin": require_secret(self.cfg, "airflow_admin_password")}))
        self.passwords_file.chmod(0o600)
        stamp = self.home / ".migrated"
        if stamp.exists() and stamp.read_text() == self.cfg.airflow_version:
            return
        result = subprocess.run(
            [str(self.venv / "bin" / "airflow"), "db", "migrate"],
            env={**self.env()},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise PlatformError(f"`airflow db migrate` failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        stamp.write_text(self.cfg.airflow_version)

    def processes(self) -> list[ProcessSpec]:
        airflow = str(self.venv / "bin" / "airflow")
        # Task logs are local files the api-server reads directly, so the log-serving
        # subprocesses of the scheduler and triggerer (~135 MB each) are skipped.
        extra = {"scheduler": ["--skip-serve-logs"], "triggerer": ["--skip-serve-logs"]}
        return [
            ProcessSpec(f"airflow-{c}", [airflow, c, *extra.get(c, [])], self.env(), stop_timeout=30)
            for c in COMPONENTS
        ]

    def health(self) -> dict[str, Any] | None:
        try:
            r = requests.get(f"{self.url}/api/v2/monitor/health", timeout=3)
            data: dict[str, Any] = r.json()
            return data if r.ok else None
        except (requests.RequestException, ValueError):
            return None

    def healthy(self) -> bool:
        h = self.health()
        if not h:
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((h.get(p) or {}).get("status") == "healthy" for p in parts)


def api_token(cfg: Config) -> str:
    """A JWT for Airflow's REST API from the generated admin credentials."""
    r = requests.post(
        f"{cfg.airflow_url}/auth/token",
        json={"username": "admin", "password": require_secret(cfg, "airflow_admin_password")},
        timeout=10,
    )
    if not r.ok:
        raise PlatformError(f"Airflow refused the admin credentials ({r.status_code}): {r.text[:200]}")
    return str(r.json()["access_token"])


def quote_id(value: str) -> str:
    return quote(value, safe="")
