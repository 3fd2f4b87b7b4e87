"""The Grafana Live pusher as a native service: run only when GRAFANA_URL points at a Grafana."""

from __future__ import annotations

from pathlib import Path

from grafana.live.service import http_port
from launcher.probes import http_ok
from launcher.procs import ProcessSpec
from launcher.services.base import NativeService


class GrafanaLive(NativeService):
    """Kafka windows and predictions -> Grafana Live (``python -m grafana.live``)."""

    name = "grafana-live"
    component = "grafana-live"
    start_timeout_s = 30

    @property
    def enabled(self) -> bool:
        """The launcher starts it only when GRAFANA_URL is set (compose runs its own container)."""
        return bool(self.cfg.grafana_url)

    @property
    def health_url(self) -> str:
        return f"http://{self.cfg.host}:{http_port(self.cfg)}"

    @property
    def url(self) -> str:
        return f"{self.cfg.grafana_url}/api/live/push/{self.cfg.grafana_live_stream} (health {self.health_url}/health)"

    @property
    def port(self) -> int:
        return http_port(self.cfg)

    def install(self) -> None:
        """Runs from the platform environment."""

    def processes(self) -> list[ProcessSpec]:
        python = str(self.paths.venv_python("platform"))
        return [ProcessSpec("grafana-live", [python, "-m", "grafana.live"], self.settings_env(), stop_timeout=15)]

    def data_dirs(self) -> list[Path]:
        return []  # stateless: it consumes from the newest offsets

    def healthy(self) -> bool:
        return http_ok(f"{self.health_url}/health")
