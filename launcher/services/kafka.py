"""Apache Kafka 4.x in KRaft mode: one process that is both broker and controller."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from launcher.console import PlatformError
from launcher.probes import tcp_open
from launcher.procs import ProcessSpec
from launcher.services.base import NativeService, java_opts_heap

LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: WARN
"""


class Kafka(NativeService):
    name = "kafka"

    @property
    def libs(self) -> Path:
        return self.ctx.installer.maven_classpath("kafka", {"kafka.version": self.cfg.kafka_version})

    @property
    def conf_dir(self) -> Path:
        return self.paths.conf / "kafka"

    @property
    def url(self) -> str:
        return f"kafka://{self.cfg.kafka_bootstrap}"

    @property
    def port(self) -> int:
        return self.cfg.kafka_port

    def install(self) -> None:
        _ = self.libs

    def ports(self) -> list[int]:
        return [self.cfg.kafka_port, self.cfg.kafka_controller_port]

    def server_properties(self) -> str:
        c = self.cfg
        host = c.platform_bind_address
        retention_ms = c.kafka_retention_hours * 3600 * 1000
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={host}:{c.kafka_controller_port}",
                f"listeners=PLAINTEXT://{host}:{c.kafka_port},CONTROLLER://{host}:{c.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://{c.host_of('kafka')}:{c.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self.paths.data / 'kafka'}",
                f"num.partitions={c.kafka_partitions}",
                # A single node: internal topics cannot have more than one replica.
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                f"log.retention.ms={retention_ms}",
                # Two cores: keep thread pools small.
                "num.network.threads=2",
                "num.io.threads=4",
                "num.recovery.threads.per.data.dir=1",
                "",
            ]
        )

    def prepare(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "server.properties").write_text(self.server_properties())
        (self.conf_dir / "log4j2.yaml").write_text(LOG4J2)
        data = self.paths.data / "kafka"
        if (data / "meta.properties").exists():
            return
        data.mkdir(parents=True, exist_ok=True)
        cluster_id = _kraft_cluster_id()
        result = subprocess.run(
            [
                "java",
                "-cp",
                f"{self.libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.conf_dir / "server.properties"),
                "--standalone",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise PlatformError(f"formatting Kafka storage in {data} failed:\n{result.stdout}{result.stderr}")

    def processes(self) -> list[ProcessSpec]:
        return [
            ProcessSpec(
                "kafka",
                [
                    "java",
                    *java_opts_heap(self.cfg.kafka_heap),
                    "-XX:+UseG1GC",
                    "-XX:MaxGCPauseMillis=20",
                    "-Djava.awt.headless=true",
                    f"-Dlog4j2.configurationFile={self.conf_dir / 'log4j2.yaml'}",
                    "-cp",
                    f"{self.libs}/*",
                    "kafka.Kafka",
                    str(self.conf_dir / "server.properties"),
                ],
                stop_timeout=30,
            )
        ]

    def healthy(self) -> bool:
        if not tcp_open(self.cfg.host_of("kafka"), self.cfg.kafka_port):
            return False
        from p424.kafka.admin import broker_ready

        return broker_ready(self.cfg.kafka_bootstrap)


def _kraft_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 characters)."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
