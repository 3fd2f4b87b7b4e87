"""MinIO object store built from source with `go install` at a pinned version.

The community repository is no longer maintained, so everything else talks to it as a generic
S3 endpoint (MINIO_HOST/MINIO_PORT) and any S3-compatible server can replace it.
"""

from __future__ import annotations

from launcher.probes import http_ok
from launcher.procs import ProcessSpec
from launcher.services.base import NativeService, require_secret

# Besides --address, MinIO listens on every loopback address of the machine with SO_REUSEPORT (for
# its console: getServerListenAddrs in cmd/server-main.go, pinned commit). Another server on the
# same port there would silently share its connections with ours, so both must be free.
LOOPBACKS = ("127.0.0.1", "::1")


class MinIO(NativeService):
    name = "minio"

    @property
    def url(self) -> str:
        return self.cfg.minio_url

    @property
    def console_url(self) -> str:
        return f"http://{self.cfg.host_of('minio')}:{self.cfg.minio_console_port}"

    @property
    def port(self) -> int:
        return self.cfg.minio_port

    def ports(self) -> list[int]:
        return [self.cfg.minio_port, self.cfg.minio_console_port]

    def endpoints(self) -> list[tuple[str, int]]:
        return [*super().endpoints(), *((a, self.cfg.minio_port) for a in LOOPBACKS)]

    def install(self) -> None:
        self.ctx.installer.go_binary("minio", "github.com/minio/minio", self.cfg.minio_go_version)

    def processes(self) -> list[ProcessSpec]:
        binary = self.ctx.installer.go_binary("minio", "github.com/minio/minio", self.cfg.minio_go_version)
        host = self.cfg.platform_bind_address
        return [
            ProcessSpec(
                "minio",
                [
                    str(binary),
                    "server",
                    str(self.paths.data / "minio"),
                    "--quiet",
                    "--address",
                    f"{host}:{self.cfg.minio_port}",
                    "--console-address",
                    f"{host}:{self.cfg.minio_console_port}",
                ],
                {
                    "MINIO_ROOT_USER": self.cfg.minio_root_user,
                    "MINIO_ROOT_PASSWORD": require_secret(self.cfg, "minio_root_password"),
                    "MINIO_BROWSER_REDIRECT": "off",
                    "MINIO_UPDATE": "off",
                },
                stop_timeout=15,
            )
        ]

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/minio/health/live")
