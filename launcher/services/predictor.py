"""The live prediction service (p424.ml.live), run from the platform environment."""

from __future__ import annotations

from pathlib import Path

from launcher.probes import http_ok
from launcher.procs import ProcessSpec
from launcher.services.base import NativeService


class Predictor(NativeService):
    """Windows from Kafka in; lap-time and energy predictions of each session's track's `champion` out
    (Cassandra, Kafka).

    Healthy once its HTTP endpoint answers, which happens before any champion exists: for a track
    without one it keeps consuming windows (so laps in progress have complete features), predicts
    nothing, and says so in /health.
    """

    name = "predictor"
    component = "predictor"
    start_timeout_s = 60

    @property
    def http_url(self) -> str:
        return f"http://{self.cfg.host_of('predictor')}:{self.cfg.predictor_http_port}"

    @property
    def url(self) -> str:
        return f"{self.http_url}/health (metrics {self.http_url}/metrics)"

    @property
    def port(self) -> int:
        return self.cfg.predictor_http_port

    def install(self) -> None:
        """Runs from the platform environment."""

    def processes(self) -> list[ProcessSpec]:
        python = str(self.paths.venv_python("platform"))
        return [
            ProcessSpec(
                "predictor",
                [python, "-m", "p424.ml.live"],
                self.settings_env(),
                stop_timeout=20,
            )
        ]

    def data_dirs(self) -> list[Path]:
        return []  # its state is rebuilt from Kafka and Cassandra

    def healthy(self) -> bool:
        return http_ok(f"{self.http_url}/health")
