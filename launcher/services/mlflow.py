"""MLflow tracking server and model registry: SQLite backend store, artifacts in MinIO (S3)."""

from __future__ import annotations

from launcher.probes import http_ok
from launcher.procs import ProcessSpec
from launcher.services.base import NativeService, require_secret


class MLflow(NativeService):
    name = "mlflow"

    @property
    def url(self) -> str:
        return self.cfg.mlflow_url

    @property
    def port(self) -> int:
        return self.cfg.mlflow_port

    def install(self) -> None:
        """MLflow runs from the platform environment, which launchcommand.sh already installed."""

    def s3_env(self) -> dict[str, str]:
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.cfg.minio_url,
            "AWS_ACCESS_KEY_ID": self.cfg.minio_root_user,
            "AWS_SECRET_ACCESS_KEY": require_secret(self.cfg, "minio_root_password"),
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def processes(self) -> list[ProcessSpec]:
        data = self.paths.data / "mlflow"
        data.mkdir(parents=True, exist_ok=True)
        mlflow = self.paths.venv("platform") / "bin" / "mlflow"
        return [
            ProcessSpec(
                "mlflow",
                [
                    str(mlflow),
                    "server",
                    "--backend-store-uri",
                    f"sqlite:///{data / 'mlflow.db'}",
                    # Artifacts are proxied by the server, so clients need no S3 credentials.
                    "--artifacts-destination",
                    f"s3://{self.cfg.minio_bucket_mlflow}/artifacts",
                    "--host",
                    self.cfg.platform_bind_address,
                    "--port",
                    str(self.cfg.mlflow_port),
                    "--workers",
                    "1",
                ],
                # The GenAI job runner (seven huey worker processes, ~0.9 GB) serves no purpose here.
                {**self.s3_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                stop_timeout=20,
            )
        ]

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/health")
