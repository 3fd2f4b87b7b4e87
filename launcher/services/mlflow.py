"""MLflow tracking server and model registry: SQLite backend store, artifacts in MinIO (S3).

With auth on it runs MLflow's basic-auth app: every request but /health needs a user, the admin
comes from the generated credentials (through an ini file only this user can read), every other
user gets READ unless granted more, and provisioning creates the platform's users
(p424.security.identities.MLFLOW_USERS): the training DAGs' and a read-only viewer.
"""

from __future__ import annotations

from pathlib import Path

from launcher.probes import http_ok
from launcher.procs import ProcessSpec
from launcher.services.base import NativeService, require_secret
from p424.config import parse_env_file
from p424.security.identities import MLFLOW_ADMIN, MLFLOW_FLASK_SECRET, mlflow_password_key

# What a user may do with an experiment or model nobody granted them anything on (MLflow's
# permission names): read, so the viewer and the predictor see every run and model.
DEFAULT_PERMISSION = "READ"


def basic_auth_ini(admin_password: str, database: Path | str) -> str:
    """MLflow's auth configuration (the keys of mlflow/server/auth/basic_auth.ini); compose mode's too."""
    return (
        "[mlflow]\n"
        f"default_permission = {DEFAULT_PERMISSION}\n"
        f"database_uri = sqlite:///{database}\n"
        f"admin_username = {MLFLOW_ADMIN}\n"
        # Read only while the user store is empty (the admin's first start); a changed password is set
        # through the API by provisioning (launcher.provision.ensure_mlflow_users).
        f"admin_password = {admin_password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )


class MLflow(NativeService):
    name = "mlflow"

    @property
    def url(self) -> str:
        return self.cfg.mlflow_url

    @property
    def port(self) -> int:
        return self.cfg.mlflow_port

    @property
    def data(self) -> Path:
        return self.paths.data / "mlflow"

    @property
    def auth_config(self) -> Path:
        return self.paths.conf / "mlflow" / "basic_auth.ini"

    def install(self) -> None:
        """MLflow runs from the platform environment, which launchcommand.sh already installed."""

    def s3_env(self) -> dict[str, str]:
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.cfg.minio_url,
            "AWS_ACCESS_KEY_ID": self.cfg.minio_root_user,
            "AWS_SECRET_ACCESS_KEY": require_secret(self.cfg, "minio_root_password"),
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def basic_auth_ini(self, admin_password: str) -> str:
        return basic_auth_ini(admin_password, self.data / "basic_auth.db")

    def prepare(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        if not self.cfg.auth_enabled:
            return
        credentials = parse_env_file(self.paths.credentials)
        self.auth_config.parent.mkdir(parents=True, exist_ok=True)
        self.auth_config.touch(mode=0o600)
        self.auth_config.chmod(0o600)
        self.auth_config.write_text(self.basic_auth_ini(credentials[mlflow_password_key(MLFLOW_ADMIN)]))

    def auth_env(self) -> dict[str, str]:
        if not self.cfg.auth_enabled:
            return {}
        credentials = parse_env_file(self.paths.credentials)
        return {
            "MLFLOW_AUTH_CONFIG_PATH": str(self.auth_config),
            # Signs the auth app's sessions and CSRF tokens; MLflow refuses to start the app without it.
            "MLFLOW_FLASK_SERVER_SECRET_KEY": credentials[MLFLOW_FLASK_SECRET],
        }

    def allowed_hosts(self) -> list[str]:
        """Host headers the server answers (MLflow's default is loopback and private networks only, which
        leaves out other loopback addresses and host names): the loopback names and where clients reach it."""
        hosts = dict.fromkeys(["localhost", "127.0.0.1", self.cfg.platform_bind_address, self.cfg.host_of("mlflow")])
        return [h for host in hosts for h in (host, f"{host}:{self.cfg.mlflow_port}")]

    def processes(self) -> list[ProcessSpec]:
        mlflow = self.paths.venv("platform") / "bin" / "mlflow"
        app = ["--app-name", "basic-auth"] if self.cfg.auth_enabled else []
        return [
            ProcessSpec(
                "mlflow",
                [
                    str(mlflow),
                    "server",
                    "--backend-store-uri",
                    f"sqlite:///{self.data / 'mlflow.db'}",
                    # Artifacts are proxied by the server, so clients need no S3 credentials.
                    "--artifacts-destination",
                    f"s3://{self.cfg.minio_bucket_mlflow}/artifacts",
                    "--host",
                    self.cfg.platform_bind_address,
                    "--port",
                    str(self.cfg.mlflow_port),
                    "--workers",
                    "1",
                    "--allowed-hosts",
                    ",".join(self.allowed_hosts()),
                    *app,
                ],
                # The GenAI job runner (seven huey worker processes, ~0.9 GB) serves no purpose here.
                {**self.s3_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **self.auth_env()},
                stop_timeout=20,
            )
        ]

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/health")  # open without credentials in the basic-auth app too
