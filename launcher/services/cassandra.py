"""Apache Cassandra 5.0 from cassandra-all and its dependencies, on Java 17: one node, or one per address.

A cluster's nodes listen on their own CLUSTER_NODES address with the configured ports, are all
seeds, and own one token each, evenly spaced, so a fresh cluster starts all nodes at once without
bootstrap streaming. GossipingPropertyFileSnitch puts them in one data centre (CASSANDRA_DATACENTER),
which the keyspace's NetworkTopologyStrategy and the clients' LOCAL_QUORUM refer to. A node that
was down gets the writes it missed as hints from the others when it returns (max_hint_window).
JMX is Cassandra's local-only server, which always binds the loopback address: node N uses
CASSANDRA_JMX_PORT + N - 1 there.
"""

from __future__ import annotations

from pathlib import Path

from launcher.probes import tcp_open
from launcher.procs import ProcessSpec
from launcher.services.base import Context, NativeService, ServiceStatus, java_opts_heap
from launcher.topology import Node, nodes

# Cassandra's local JMX server binds InetAddress.getLoopbackAddress() (JMXServerUtils), whatever the
# listen address: two stacks on one machine need different CASSANDRA_JMX_PORTs.
JMX_HOST = "127.0.0.1"
MURMUR3_MIN = -(2**63)

# The module-system flags of Cassandra's conf/jvm17-server.options (Java 17 refuses the
# reflective access Cassandra needs without them).
JVM17_FLAGS = [
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports",
    "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports",
    "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports",
    "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports",
    "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports",
    "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports",
    "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports",
    "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports",
    "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports",
    "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens",
    "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens",
    "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens",
    "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.io=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens",
    "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.lang=ALL-UNNAMED",
    "--add-opens",
    "java.base/java.util=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
]

GC_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:MaxTenuringThreshold=1",
    "-XX:MaxGCPauseMillis=300",
    "-Xss256k",
]

LOGBACK = """<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
  <logger name="org.apache.cassandra" level="INFO"/>
  <logger name="com.thinkaurelius.thrift" level="ERROR"/>
</configuration>
"""


def initial_token(index: int, count: int) -> int:
    """Node ``index`` (1-based) of ``count``: tokens evenly spaced over the Murmur3 ring."""
    return MURMUR3_MIN + (index - 1) * 2**64 // count


def access_settings(auth: bool) -> dict[str, str]:
    """cassandra.yaml's access settings (compose mode sets the same through system properties).

    The default superuser (cassandra/cassandra) that PasswordAuthenticator starts with is replaced
    by the generated admin role at provisioning (launcher.provision.ensure_cassandra_admin).
    """
    if not auth:
        return {"authenticator": "AllowAllAuthenticator", "authorizer": "AllowAllAuthorizer"}
    return {"authenticator": "PasswordAuthenticator", "authorizer": "CassandraAuthorizer",
            "role_manager": "CassandraRoleManager"}


class Cassandra(NativeService):
    def __init__(self, ctx: Context, node: Node | None = None) -> None:
        super().__init__(ctx)
        self.node = node or nodes(ctx.cfg, "cassandra")[0]
        self.name = self.node.name

    @property
    def libs(self) -> Path:
        return self.ctx.installer.maven_classpath("cassandra", {"cassandra.version": self.cfg.cassandra_version})

    @property
    def conf_dir(self) -> Path:
        return self.paths.conf / self.name

    @property
    def data(self) -> Path:
        return self.paths.data / self.name

    @property
    def url(self) -> str:
        return f"cql://{self.node.advertised}:{self.cfg.cassandra_port}"

    @property
    def jmx_port(self) -> int:
        return self.cfg.cassandra_jmx_port + self.node.index - 1

    @property
    def port(self) -> int:
        return self.cfg.cassandra_port

    def install(self) -> None:
        _ = self.libs

    def endpoints(self) -> list[tuple[str, int]]:
        a, c = self.node.address, self.cfg
        return [(a, c.cassandra_port), (a, c.cassandra_storage_port), (JMX_HOST, self.jmx_port)]

    def ring(self) -> str:
        """Tokens, snitch and seeds: a single node, or this node of the cluster."""
        c = self.cfg
        members = nodes(c, "cassandra")
        seeds = ",".join(f"{n.address}:{c.cassandra_storage_port}" for n in members)
        if not self.node.clustered:
            return f"""num_tokens: 1
allocate_tokens_for_local_replication_factor: 1
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{seeds}"
"""
        return f"""num_tokens: 1
initial_token: {initial_token(self.node.index, len(members))}
endpoint_snitch: GossipingPropertyFileSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{seeds}"
# Writes a node misses while it is down are kept as hints by the nodes that coordinated them and
# handed to it when it returns (stated here because the node-loss tests rely on it).
hinted_handoff_enabled: true
max_hint_window: 3h
"""

    def rackdc(self) -> str:
        return f"dc={self.cfg.cassandra_datacenter}\nrack=rack1\n"

    def yaml(self) -> str:
        c, d, host = self.cfg, self.data, self.node.address
        return f"""cluster_name: p424
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
{self.ring()}listen_address: {host}
rpc_address: {host}
storage_port: {c.cassandra_storage_port}
native_transport_port: {c.cassandra_port}
start_native_transport: true
data_file_directories: [{d / "data"}]
commitlog_directory: {d / "commitlog"}
saved_caches_directory: {d / "saved_caches"}
hints_directory: {d / "hints"}
cdc_raw_directory: {d / "cdc_raw"}
commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_segment_size: 32MiB
{self.access()}disk_failure_policy: stop
commit_failure_policy: stop
# Two cores: modest concurrency, no compaction throttling surprises.
concurrent_reads: 16
concurrent_writes: 32
concurrent_compactors: 1
compaction_throughput: 64MiB/s
# Unlogged single-partition batches of frames are the normal write path here.
batch_size_warn_threshold: 64KiB
batch_size_fail_threshold: 1024KiB
unlogged_batch_across_partitions_warn_threshold: 100
dynamic_snitch: false
"""

    def access(self) -> str:
        """Who may connect and what they may do: roles with passwords and their grants when auth is on."""
        return "".join(f"{k}: {v}\n" for k, v in access_settings(self.cfg.auth_enabled).items())

    def prepare(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "cassandra.yaml").write_text(self.yaml())
        (self.conf_dir / "logback.xml").write_text(LOGBACK)
        if self.node.clustered:  # GossipingPropertyFileSnitch reads it from the classpath (the conf dir)
            (self.conf_dir / "cassandra-rackdc.properties").write_text(self.rackdc())
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
            (self.data / sub).mkdir(parents=True, exist_ok=True)

    def processes(self) -> list[ProcessSpec]:
        libs = self.libs
        jamm = next(libs.glob("jamm-*.jar"))
        return [
            ProcessSpec(
                self.name,
                [
                    "java",
                    *java_opts_heap(self.cfg.cassandra_node_heap),
                    *GC_FLAGS,
                    *JVM17_FLAGS,
                    f"-javaagent:{jamm}",
                    f"-Dcassandra.config=file://{self.conf_dir / 'cassandra.yaml'}",
                    f"-Dcassandra.storagedir={self.data}",
                    f"-Dlogback.configurationFile={self.conf_dir / 'logback.xml'}",
                    "-Dcassandra-foreground=yes",
                    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
                    # With auth on: create the default superuser at once, not after 10 s, so that
                    # provisioning can replace it as soon as CQL is served.
                    "-Dcassandra.superuser_setup_delay_ms=0",
                    f"-Dcassandra.jmx.local.port={self.jmx_port}",
                    "-Dcassandra.logdir=" + str(self.paths.logs),
                    "-cp",
                    f"{self.conf_dir}:{libs}/*",
                    "org.apache.cassandra.service.CassandraDaemon",
                ],
                stop_timeout=45,
            )
        ]

    def status(self) -> ServiceStatus:
        row = super().status()
        if self.node.clustered:
            token = initial_token(self.node.index, len(nodes(self.cfg, "cassandra")))
            row.detail = f"{self.cfg.cassandra_datacenter}/rack1, token {token}, JMX {JMX_HOST}:{self.jmx_port}"
        return row

    def healthy(self) -> bool:
        # The native transport opens last in start-up: once it accepts connections CQL is served.
        return tcp_open(self.node.advertised, self.cfg.cassandra_port)
