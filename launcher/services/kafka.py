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
from launcher.tls import node_keystore
from launcher.topology import Node, nodes
from p424.config import Config, parse_env_file
from p424.kafka.auth import PEM_STORE_TYPE, SCRAM_LOGIN_MODULE, VERIFY_PEER_NAME, jaas_config, security_protocol
from p424.security.identities import KAFKA_ADMIN_USER, KAFKA_BROKER_USER, kafka_password_key, kafka_users
from p424.security.kafka import SCRAM_MECHANISM

CLUSTER_ID_FILE = "kafka-cluster-id"
SCRAM_MARKER = "p424-scram-users"
PLAIN_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"

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
        c = self.cfg
        retention_ms = c.kafka_retention_hours * 3600 * 1000
        rf, min_isr = c.replication_factor, c.min_insync_replicas
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node.index}",
                *self.quorum(),
                *(self.secured_listeners() if c.auth_enabled else self.plain_listeners()),
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

    def plain_listeners(self) -> list[str]:
        c, host = self.cfg, self.node.address
        return [
            f"listeners=PLAINTEXT://{host}:{c.kafka_port},CONTROLLER://{host}:{c.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://{self.bootstrap}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        ]

    def secured_listeners(self) -> list[str]:
        """SASL on both listeners (over TLS with KAFKA_TLS=on), every request authorised by ACLs
        (``sasl_settings``)."""
        c, host = self.cfg, self.node.address
        protocol = security_protocol(c)
        scram, plain = broker_logins(self.broker_password())
        return [
            f"listeners={protocol}://{host}:{c.kafka_port},CONTROLLER://{host}:{c.kafka_controller_port}",
            f"advertised.listeners={protocol}://{self.bootstrap}",
            "controller.listener.names=CONTROLLER",
            f"inter.broker.listener.name={protocol}",
            f"listener.security.protocol.map={protocol}:{protocol},CONTROLLER:{protocol}",
            f"listener.name.{protocol.lower()}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config={scram}",
            f"listener.name.controller.plain.sasl.jaas.config={plain}",
            *(f"{k}={v}" for k, v in sasl_settings().items()),
            *(f"{k}={v}" for k, v in self.tls_settings().items()),
        ]

    def certificate_names(self) -> list[str]:
        """The names this node's certificate carries: where it listens and where clients are sent."""
        return [self.node.address, self.node.advertised]

    def tls_settings(self) -> dict[str, str]:
        """With KAFKA_TLS=on: this node's key and chain, and the CA it verifies other nodes with (as
        a client of their controller and inter-broker listeners), all PEM files (launcher.tls)."""
        if not self.cfg.kafka_tls_enabled:
            return {}
        return tls_settings(str(node_keystore(self.cfg, self.name)), str(self.cfg.kafka_ca_file))

    def credentials(self) -> dict[str, str]:
        return parse_env_file(self.paths.credentials)

    def broker_password(self) -> str:
        return scram_passwords(self.cfg, self.credentials())[KAFKA_BROKER_USER]

    @property
    def scram_marker(self) -> Path:
        """Present when the storage was formatted with the SCRAM users (Kafka ignores files in log.dirs)."""
        return self.data / SCRAM_MARKER

    def prepare(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        properties = self.conf_dir / "server.properties"
        properties.touch(mode=0o600)
        properties.chmod(0o600)  # it holds the broker's password when auth is on
        properties.write_text(self.server_properties())
        (self.conf_dir / "log4j2.yaml").write_text(LOG4J2)
        data = self.data
        if (data / "meta.properties").exists():
            if self.cfg.auth_enabled and not self.scram_marker.exists():
                raise PlatformError(
                    f"PLATFORM_AUTH is on, but the Kafka storage in {data} was formatted without SCRAM users, so "
                    "no client could log in. Switch auth off, or start from empty Kafka data "
                    "(`./launchcommand.sh down --wipe`)."
                )
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
                *self.scram_arguments(),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            output = f"{result.stdout}{result.stderr}"
            for password in scram_passwords(self.cfg, self.credentials()).values():
                output = output.replace(password, "***")  # never log a password
            raise PlatformError(f"formatting Kafka storage in {data} failed:\n{output}")
        if self.cfg.auth_enabled:
            self.scram_marker.write_text("formatted with the SCRAM users of p424.security.identities.kafka_users\n")

    def scram_arguments(self) -> list[str]:
        """StorageTool's --add-scram for every user (KIP-900): the broker's own and each principal's."""
        if not self.cfg.auth_enabled:
            return []
        return scram_arguments(scram_passwords(self.cfg, self.credentials()))

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
        return broker_ready(self.cfg, self.bootstrap, self.node.index if self.node.clustered else None)


def sasl_settings() -> dict[str, str]:
    """The broker's SASL and ACL settings besides its listeners and logins (compose mode sets the same).

    Clients and brokers use SCRAM-SHA-512 (credentials in the cluster metadata, created at format
    time and by provisioning). The controller listener cannot use SCRAM (a controller must
    authenticate before it can read that metadata: KIP-900), so it takes PLAIN with the broker's
    own user, defined in its login (``broker_logins``).
    """
    return {
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": ";".join(f"User:{u}" for u in (KAFKA_BROKER_USER, KAFKA_ADMIN_USER)),
    }


def tls_settings(keystore: str, ca_file: str) -> dict[str, str]:
    """A broker's TLS settings (compose mode sets the same, with its container paths): PEM files, no
    passwords (the key is unencrypted PKCS#8 in a 0600 file), and the CA's certificate as trust store."""
    return {
        "ssl.keystore.type": PEM_STORE_TYPE,
        "ssl.keystore.location": keystore,
        "ssl.truststore.type": PEM_STORE_TYPE,
        "ssl.truststore.location": ca_file,
        "ssl.endpoint.identification.algorithm": VERIFY_PEER_NAME,
        "ssl.client.auth": "none",  # clients prove who they are with SCRAM
    }


def broker_logins(password: str) -> tuple[str, str]:
    """The broker's JAAS logins: SCRAM on the client listeners, PLAIN (defining its one user) on the
    controller listener."""
    scram = jaas_config(SCRAM_LOGIN_MODULE, {"username": KAFKA_BROKER_USER, "password": password})
    plain = jaas_config(
        PLAIN_LOGIN_MODULE,
        {"username": KAFKA_BROKER_USER, "password": password, f"user_{KAFKA_BROKER_USER}": password},
    )
    return scram, plain


def scram_arguments(passwords: dict[str, str]) -> list[str]:
    """StorageTool's --add-scram arguments for these users (KIP-900)."""
    out: list[str] = []
    for user, password in passwords.items():
        out += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={password}]"]
    return out


def kraft_cluster_id(data: Path) -> str:
    """The KRaft cluster id every node is formatted with, created once per state dir's data.

    16 random bytes, URL-safe base64 without padding (22 characters); `down --wipe` deletes it.
    """
    path = data / CLUSTER_ID_FILE
    if not path.exists():
        data.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=") + "\n")
    return path.read_text().strip()


def scram_passwords(cfg: Config, credentials: dict[str, str]) -> dict[str, str]:
    """Every Kafka user's generated password (credentials.env), by user."""
    out: dict[str, str] = {}
    for user in kafka_users(cfg):
        key = kafka_password_key(user)
        if not credentials.get(key):
            raise PlatformError(f"{key} is missing from credentials.env; `./launchcommand.sh up` generates it")
        out[user] = credentials[key]
    return out
