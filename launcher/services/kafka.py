"""Apache Kafka 4.x in KRaft mode: each node is one process that is both broker and controller.

A single topology has one node with a standalone (dynamic) controller quorum. A cluster has one
node per CLUSTER_NODES address, all on the same ports, with a static quorum of every node's
controller; replication factor 3 and min.insync.replicas 2 for the internal topics and as the
broker defaults, so producers with acks=all keep going while one node is down.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from launcher.console import PlatformError
from launcher.probes import tcp_open
from launcher.procs import ProcessSpec
from launcher.services.base import Context, NativeService, ServiceStatus, java_opts_heap
from launcher.topology import Node, nodes

CLUSTER_ID_FILE = "kafka-cluster-id"

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
    def __init__(self, ctx: Context, node: Node | None = None) -> None:
        super().__init__(ctx)
        self.node = node or nodes(ctx.cfg, "kafka")[0]
        self.name = self.node.name

    @property
    def libs(self) -> Path:
        return self.ctx.installer.maven_classpath("kafka", {"kafka.version": self.cfg.kafka_version})

    @property
    def conf_dir(self) -> Path:
        return self.paths.conf / self.name

    @property
    def data(self) -> Path:
        return self.paths.data / self.name

    @property
    def bootstrap(self) -> str:
        """This node alone, as a client reaches it."""
        return f"{self.node.advertised}:{self.cfg.kafka_port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    @property
    def port(self) -> int:
        return self.cfg.kafka_port

    def install(self) -> None:
        _ = self.libs

    def endpoints(self) -> list[tuple[str, int]]:
        return [(self.node.address, self.cfg.kafka_port), (self.node.address, self.cfg.kafka_controller_port)]

    def quorum(self) -> list[str]:
        """The controller quorum's settings: standalone for one node, every node a voter in a cluster."""
        c = self.cfg
        if not self.node.clustered:
            return [f"controller.quorum.bootstrap.servers={self.node.address}:{c.kafka_controller_port}"]
        voters = ",".join(f"{n.index}@{n.address}:{c.kafka_controller_port}" for n in nodes(c, "kafka"))
        return [f"controller.quorum.voters={voters}"]

    def server_properties(self) -> str:
        c, host = self.cfg, self.node.address
        retention_ms = c.kafka_retention_hours * 3600 * 1000
        rf, min_isr = c.replication_factor, c.min_insync_replicas
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node.index}",
                *self.quorum(),
                f"listeners=PLAINTEXT://{host}:{c.kafka_port},CONTROLLER://{host}:{c.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://{self.bootstrap}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self.data}",
                f"num.partitions={c.kafka_partitions}",
                # Internal topics as replicated as the platform's own (one replica on a single node).
                f"offsets.topic.replication.factor={rf}",
                f"transaction.state.log.replication.factor={rf}",
                f"transaction.state.log.min.isr={min_isr}",
                f"share.coordinator.state.topic.replication.factor={rf}",
                f"share.coordinator.state.topic.min.isr={min_isr}",
                f"default.replication.factor={rf}",
                f"min.insync.replicas={min_isr}",
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
        data = self.data
        if (data / "meta.properties").exists():
            return
        data.mkdir(parents=True, exist_ok=True)
        # A static quorum (controller.quorum.voters) needs no initial-controller flag; a single node's does.
        standalone = [] if self.node.clustered else ["--standalone"]
        result = subprocess.run(
            [
                "java",
                "-cp",
                f"{self.libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                kraft_cluster_id(self.paths.data),
                "-c",
                str(self.conf_dir / "server.properties"),
                *standalone,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise PlatformError(f"formatting Kafka storage in {data} failed:\n{result.stdout}{result.stderr}")

    def data_dirs(self) -> list[Path]:
        return [self.data]

    def processes(self) -> list[ProcessSpec]:
        return [
            ProcessSpec(
                self.name,
                [
                    "java",
                    *java_opts_heap(self.cfg.kafka_node_heap),
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

    def status(self) -> ServiceStatus:
        row = super().status()
        if self.node.clustered:
            row.detail = f"broker and controller, node.id {self.node.index}" + (
                "" if row.healthy else " (not registered, or fenced)" if row.pids else ""
            )
        return row

    def healthy(self) -> bool:
        if not tcp_open(self.node.advertised, self.cfg.kafka_port):
            return False
        from p424.kafka.admin import broker_ready

        # In a cluster: this node is registered and unfenced (so topics can get all their replicas).
        return broker_ready(self.bootstrap, self.node.index if self.node.clustered else None)


def kraft_cluster_id(data: Path) -> str:
    """The KRaft cluster id every node is formatted with, created once per state dir's data.

    16 random bytes, URL-safe base64 without padding (22 characters); `down --wipe` deletes it.
    """
    path = data / CLUSTER_ID_FILE
    if not path.exists():
        data.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=") + "\n")
    return path.read_text().strip()
