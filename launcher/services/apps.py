"""The platform's own long-running processes, run from the platform environment."""

from __future__ import annotations

from launcher.probes import http_json, http_ok
from launcher.procs import ProcessSpec
from launcher.services.base import NativeService, ServiceStatus


class Bridge(NativeService):
    """The UDP bridge: simulator datagrams in, Kafka records out (unity_bridge)."""

    name = "bridge"
    component = "bridge"
    start_timeout_s = 30

    @property
    def url(self) -> str:
        host, port = self.cfg.host_of("bridge"), self.cfg.bridge_udp_port
        dmg1 = f", DMG1 udp://{host}:{self.cfg.bridge_dmg1_port}" if self.cfg.bridge_dmg1_port else ""
        return f"udp://{host}:{port}{dmg1} (metrics {self.cfg.bridge_http_url}/metrics)"

    @property
    def port(self) -> int:
        return self.cfg.bridge_udp_port

    def install(self) -> None:
        """Runs from the platform environment."""

    def ports(self) -> list[int]:
        return [self.cfg.bridge_http_port]  # the UDP port is bound by the bridge itself, which fails loudly

    def processes(self) -> list[ProcessSpec]:
        python = str(self.paths.venv_python("platform"))
        return [
            ProcessSpec(
                "bridge",
                [python, "-m", "unity_bridge", "serve"],
                self.settings_env(),
                stop_timeout=30,
            )
        ]

    def data_dirs(self) -> list:  # type: ignore[type-arg]
        return [self.paths.data / "bridge"]

    def healthy(self) -> bool:
        return http_ok(f"{self.cfg.bridge_http_url}/health")

    def status(self) -> ServiceStatus:
        row = super().status()
        if row.healthy:
            doc = http_json(f"{self.cfg.bridge_http_url}/health") or {}
            if doc.get("status") == "spool_full":
                backlog = doc.get("spool_backlog_bytes")
                row.detail = f"spool full ({backlog} bytes): refusing frames until Kafka drains it"
            elif doc.get("status") == "degraded":
                row.detail = f"Kafka unreachable: spooling ({doc.get('spool_backlog_bytes')} bytes)"
        return row
