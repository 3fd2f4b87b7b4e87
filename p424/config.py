"""Platform configuration, 12-factor style.

Precedence, lowest first: the defaults below < ``toolchain-config.env`` < the topology recorded in
the state dir at its first ``up`` (``<state>/topology.env``) < generated credentials
(``<state>/credentials.env``) < process environment < explicit overrides (command-line flags).
Every setting is an UPPER_SNAKE key in the env file and a lower_snake attribute here.
Secrets are never shown by ``repr`` or ``public_dict``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ("single", "cluster")
CLUSTER_REPLICATION_FACTOR = 3
# Written at the first `up` in the state dir (launcher.topology); read as a settings layer so every
# command and client of that state dir follows the topology its data was created with.
TOPOLOGY_FILE = "topology.env"
DEFAULT_ENV_FILE = REPO_ROOT / "toolchain-config.env"
SECRET_KEYS = frozenset(
    {
        "minio_root_password",
        "airflow_admin_password",
        "airflow_jwt_secret",
        "grafana_admin_password",
        "grafana_token",
        "postgres_password",
        "kafka_sasl_password",
        "cassandra_password",
        "p424_http_token",
        "p424_metrics_token",
    }
)
AUTH_MODES = ("auto", "on", "off")
TLS_MODES = ("off", "on")
# Generated certificates live here, under the state dir (launcher.tls writes them).
TLS_DIR = "tls"
KAFKA_CA_FILE = "ca.crt"


@dataclass(frozen=True)
class Config:
    # --- platform ---
    platform_state_dir: str = ".platform"
    platform_bind_address: str = "127.0.0.1"
    platform_mode: str = "auto"  # auto | native | compose
    platform_topology: str = "single"  # single | cluster (cluster: native mode only)
    # Authentication on every service (Kafka SASL/SCRAM, Cassandra roles, MLflow basic auth, bearer
    # tokens on the bridge, predictor and Live pusher endpoints but /health): auto | on | off; auto is on
    # whenever platform_bind_address is not a loopback address.
    platform_auth: str = "auto"
    # TLS on Kafka's listeners (SASL_SSL instead of SASL_PLAINTEXT), with certificates generated on first
    # `up` into <state>/tls (launcher.tls): off | on. Only with auth on: it is the SASL listeners' transport.
    kafka_tls: str = "off"
    # The CA certificate Kafka clients trust when KAFKA_TLS is on; empty means <state>/tls/ca.crt (compose
    # and Kubernetes hand over the path where they mount it).
    kafka_tls_ca_file: str = ""
    # Where clients reach each service; empty means platform_bind_address (compose sets service names).
    kafka_host: str = ""
    cassandra_host: str = ""
    flink_host: str = ""
    minio_host: str = ""
    mlflow_host: str = ""
    airflow_host: str = ""
    grafana_host: str = ""
    bridge_host: str = ""
    predictor_host: str = ""
    # --- pinned versions (native installs and compose images) ---
    python_version: str = "3.11"
    uv_version: str = "0.13.9"
    kafka_version: str = "4.2.2"
    cassandra_version: str = "5.0.7"
    flink_version: str = "2.2.1"
    flink_kafka_connector_version: str = "5.0.0-2.2"
    byte_buddy_version: str = "1.18.17"
    minio_go_version: str = "v0.0.0-20260212201848-7aac2a2c5b7c"
    mlflow_version: str = "3.17.2"
    airflow_version: str = "3.3.2"
    grafana_version: str = "12.2.1"
    postgres_version: str = "17.6"
    # --- ports (all bound to platform_bind_address) ---
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    cassandra_port: int = 9042
    cassandra_storage_port: int = 7000
    cassandra_jmx_port: int = 7199
    flink_rest_port: int = 8081
    flink_rpc_port: int = 6123
    minio_port: int = 9000
    minio_console_port: int = 9001
    mlflow_port: int = 5000
    airflow_port: int = 8080
    grafana_port: int = 3000
    postgres_port: int = 5432
    bridge_udp_port: int = 20424
    bridge_dmg1_port: int = 56236  # the simulator's motion-platform (DMG1) output; 0 switches it off
    bridge_http_port: int = 9424
    predictor_http_port: int = 9425
    grafana_live_http_port: int = 9426
    # --- memory ---
    kafka_heap: str = "512m"
    cassandra_heap: str = "1g"
    flink_jobmanager_memory: str = "1024m"
    flink_taskmanager_memory: str = "1728m"
    flink_taskmanager_slots: int = 3
    airflow_parallelism: int = 2
    # --- cluster topology: one Kafka node (broker+controller) and one Cassandra node per address ---
    cluster_nodes: str = "127.0.0.2,127.0.0.3,127.0.0.4"
    cluster_kafka_heap: str = "384m"
    cluster_cassandra_heap: str = "768m"
    cluster_flink_taskmanagers: int = 2
    # --- timeouts (seconds) ---
    service_start_timeout: int = 180
    # --- Kafka topics ---
    kafka_topic_frames: str = "telemetry.frames.v1"
    kafka_topic_deadletter: str = "telemetry.deadletter.v1"
    kafka_topic_windows: str = "telemetry.windows.v1"
    kafka_topic_laps: str = "telemetry.laps.v1"
    kafka_topic_predictions: str = "telemetry.predictions.v1"
    kafka_topic_alerts: str = "telemetry.alerts.v1"
    kafka_partitions: int = 6
    kafka_retention_hours: int = 168
    # --- object store buckets ---
    minio_bucket_mlflow: str = "mlflow"
    minio_bucket_flink: str = "flink"
    minio_bucket_telemetry: str = "telemetry"
    minio_root_user: str = "p424admin"
    # --- Cassandra ---
    cassandra_keyspace: str = "telemetry"
    cassandra_replication: str = ""  # empty: derived from the topology (keyspace_replication)
    cassandra_datacenter: str = "dc1"  # the cluster's one data centre (GossipingPropertyFileSnitch)
    # Hot-store retention (table default TTL, days; 0 keeps rows forever): raw frames and windows.
    cassandra_raw_ttl_days: int = 30
    cassandra_windows_ttl_days: int = 30
    # --- bridge ---
    bridge_car_id_dmg1: int = 1
    # Networks (CIDRs, comma-separated) the bridge takes datagrams from; others are counted and dropped.
    bridge_allowed_senders: str = "127.0.0.0/8,::1/128"
    bridge_spool_dir: str = ""  # empty: <state>/data/bridge/spool
    bridge_spool_max_bytes: int = 4 * 2**30  # unacknowledged bytes the spool holds before refusing frames; 0: no bound
    bridge_socket_buffer_bytes: int = 32 * 1024 * 1024
    sender_max_rate: int = 10000  # frames/s cap of `replay --max` / `simulate --max`; 0 = unlimited
    bridge_linger_ms: int = 5
    bridge_batch_bytes: int = 256 * 1024
    bridge_compression: str = "lz4"
    # --- stream processing ---
    window_sizes_ms: str = "100,1000"
    # Window sizes also stored as per-channel columns for CQL readers (Grafana); every size has the packed blob
    window_columns_ms: str = "1000"
    out_of_orderness_ms: int = 200
    session_idle_timeout_s: int = 2
    flink_compact_after_ms: int = 3_600_000  # a session silent this long is held compacted, still resumable
    flink_resume_horizon_days: int = 30  # ... and dropped after this long: later frames start it afresh
    flink_parallelism: int = 2
    flink_checkpoint_interval_ms: int = 5000
    flink_job_name: str = "p424-telemetry"
    flink_bundle_time_ms: int = 100
    flink_sink_capacity: int = 256
    flink_emit_interval_ms: int = 500  # under load, each session's windows reach the sink in groups this long
    live_window_ms: int = 100  # windows of this size are published to KAFKA_TOPIC_WINDOWS for live consumers
    # --- maths channels, lap events, alarms (definition files, relative to the repository) ---
    maths_channels_file: str = "config/maths_channels.toml"
    events_file: str = "config/events.toml"
    alarms_file: str = "config/alarms.toml"
    # --- ML ---
    training_schedule: str = "@hourly"
    quality_schedule: str = "@hourly"
    model_name: str = "p424_lap_outcome"
    min_training_laps: int = 6
    training_source: str = "archive"  # archive (silver/gold of closed sessions) | cassandra (the hot store)
    # --- analysis ---
    mini_sectors: int = 30  # mini-sectors per lap (p424/analysis/minisectors.py)
    mini_sector_length_m: int = 0  # when above 0: mini-sectors of this length instead of a count
    # --- session archive (the telemetry bucket: bronze/, silver/, gold/) ---
    archive_schedule: str = "*/15 * * * *"
    archive_closed_after_s: int = 3600  # a session silent this long is closed (the stream's compaction horizon)
    archive_prefix: str = ""  # keys start here inside the bucket (tests and benches use their own)
    default_track: str = "Nordschleife"  # the track of sessions whose sender names none (p424/ml/tracks.py)
    # --- Grafana (native mode provisions an existing Grafana when this is set) ---
    grafana_url: str = ""
    grafana_admin_user: str = "admin"
    grafana_live_stream: str = "p424"
    prometheus_url: str = ""  # a Prometheus for the health dashboard's datasource (compose runs one)
    grafana_alert_webhook_url: str = "http://127.0.0.1:9/p424-alerts"  # the alert contact point (port 9: discard)
    # --- secrets (generated into <state>/credentials.env on first `up`) ---
    minio_root_password: str = ""
    airflow_admin_password: str = ""
    airflow_jwt_secret: str = ""
    grafana_admin_password: str = ""
    grafana_token: str = ""
    postgres_password: str = ""
    # Named as the variables the k8s chart hands over (p424.security.secrets.HTTP_TOKEN, METRICS_TOKEN).
    p424_http_token: str = ""  # every endpoint beyond /health
    p424_metrics_token: str = ""  # /metrics only (the Prometheus scraper)
    # --- the identity this process logs in with when auth is on (set per process by the launcher from
    # the component credentials in credentials.env; p424.security.identities) ---
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    cassandra_username: str = ""
    cassandra_password: str = ""

    def __post_init__(self) -> None:
        if self.platform_auth not in AUTH_MODES:
            raise ValueError(f"PLATFORM_AUTH must be one of {', '.join(AUTH_MODES)}, got {self.platform_auth!r}")
        if self.kafka_tls not in TLS_MODES:
            raise ValueError(f"KAFKA_TLS must be one of {', '.join(TLS_MODES)}, got {self.kafka_tls!r}")
        if not self.allowed_senders:  # parsed here too, so a bad CIDR fails when the settings are loaded
            raise ValueError("BRIDGE_ALLOWED_SENDERS is empty; to take datagrams from anywhere say 0.0.0.0/0,::/0")
        if self.platform_topology not in TOPOLOGIES:
            raise ValueError(
                f"PLATFORM_TOPOLOGY must be one of {', '.join(TOPOLOGIES)}, got {self.platform_topology!r}"
            )
        if self.clustered:
            nodes = self.cluster_node_addresses
            if len(nodes) < CLUSTER_REPLICATION_FACTOR or len(set(nodes)) != len(nodes):
                raise ValueError(
                    f"CLUSTER_NODES needs at least {CLUSTER_REPLICATION_FACTOR} distinct addresses (one Kafka and "
                    f"one Cassandra node each, replication factor {CLUSTER_REPLICATION_FACTOR}), got "
                    f"{self.cluster_nodes!r}"
                )
            if self.cluster_flink_taskmanagers < 1:
                raise ValueError(
                    f"CLUSTER_FLINK_TASKMANAGERS must be at least 1, got {self.cluster_flink_taskmanagers}"
                )

    # ---------- derived values ----------
    @property
    def clustered(self) -> bool:
        return self.platform_topology == "cluster"

    @property
    def auth_enabled(self) -> bool:
        """Whether services demand credentials and the HTTP endpoints a bearer token (PLATFORM_AUTH)."""
        if self.platform_auth == "auto":
            return not is_loopback(self.platform_bind_address)
        return self.platform_auth == "on"

    @property
    def kafka_tls_enabled(self) -> bool:
        """Whether Kafka's listeners speak SASL_SSL: KAFKA_TLS=on, with auth on (TLS is the transport of the
        SASL listeners; `up` refuses KAFKA_TLS=on with auth off)."""
        return self.kafka_tls == "on" and self.auth_enabled

    @property
    def kafka_ca_file(self) -> Path:
        """The CA certificate Kafka clients verify the brokers with when TLS is on."""
        return Path(self.kafka_tls_ca_file) if self.kafka_tls_ca_file else self.state_dir / TLS_DIR / KAFKA_CA_FILE

    @property
    def cluster_node_addresses(self) -> tuple[str, ...]:
        return _addresses(self.cluster_nodes)

    @property
    def replication_factor(self) -> int:
        """Copies of every Kafka partition and Cassandra row."""
        return CLUSTER_REPLICATION_FACTOR if self.clustered else 1

    @property
    def min_insync_replicas(self) -> int:
        """A majority of the replicas: Kafka's min.insync.replicas, the count LOCAL_QUORUM waits for."""
        return self.replication_factor // 2 + 1

    @property
    def flink_taskmanagers(self) -> int:
        return self.cluster_flink_taskmanagers if self.clustered else 1

    @property
    def kafka_node_heap(self) -> str:
        return self.cluster_kafka_heap if self.clustered else self.kafka_heap

    @property
    def cassandra_node_heap(self) -> str:
        return self.cluster_cassandra_heap if self.clustered else self.cassandra_heap

    @property
    def state_dir(self) -> Path:
        p = Path(self.platform_state_dir)
        return p if p.is_absolute() else REPO_ROOT / p

    @property
    def host(self) -> str:
        return self.platform_bind_address

    @property
    def allowed_senders(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return parse_networks(self.bridge_allowed_senders, "BRIDGE_ALLOWED_SENDERS")

    def host_of(self, service: str) -> str:
        return str(getattr(self, f"{service}_host")) or self.host

    def _nodes(self, service: str) -> tuple[str, ...]:
        """Where clients reach a replicated service: an explicit host list, else every node of the topology."""
        explicit = str(getattr(self, f"{service}_host"))
        if explicit:
            return _addresses(explicit)
        return self.cluster_node_addresses if self.clustered else (self.host,)

    @property
    def kafka_nodes(self) -> tuple[str, ...]:
        return self._nodes("kafka")

    @property
    def kafka_bootstrap(self) -> str:
        """Every broker: a client that knows only one cannot start while that one is down."""
        return ",".join(f"{h}:{self.kafka_port}" for h in self.kafka_nodes)

    @property
    def cassandra_nodes(self) -> tuple[str, ...]:
        return self._nodes("cassandra")

    @property
    def cassandra_contact(self) -> str:
        """The contact points, comma-separated (as an Airflow connection's host carries them)."""
        return ",".join(self.cassandra_nodes)

    @property
    def keyspace_replication(self) -> str:
        """The keyspace's replication map: CASSANDRA_REPLICATION if set, else what the topology needs."""
        if self.cassandra_replication:
            return self.cassandra_replication
        if self.clustered:
            return f"{{'class': 'NetworkTopologyStrategy', '{self.cassandra_datacenter}': {self.replication_factor}}}"
        return "{'class': 'SimpleStrategy', 'replication_factor': 1}"

    @property
    def minio_endpoint(self) -> str:
        return f"{self.host_of('minio')}:{self.minio_port}"

    @property
    def minio_url(self) -> str:
        return f"http://{self.minio_endpoint}"

    @property
    def mlflow_url(self) -> str:
        return f"http://{self.host_of('mlflow')}:{self.mlflow_port}"

    @property
    def flink_url(self) -> str:
        return f"http://{self.host_of('flink')}:{self.flink_rest_port}"

    @property
    def airflow_url(self) -> str:
        return f"http://{self.host_of('airflow')}:{self.airflow_port}"

    @property
    def bridge_http_url(self) -> str:
        return f"http://{self.host_of('bridge')}:{self.bridge_http_port}"

    @property
    def window_sizes(self) -> tuple[int, ...]:
        return tuple(int(w) for w in self.window_sizes_ms.split(",") if w.strip())

    @property
    def window_column_sizes(self) -> frozenset[int]:
        return frozenset(int(w) for w in self.window_columns_ms.split(",") if w.strip())

    @property
    def buckets(self) -> tuple[str, ...]:
        return (self.minio_bucket_mlflow, self.minio_bucket_flink, self.minio_bucket_telemetry)

    @property
    def topics(self) -> tuple[str, ...]:
        return (
            self.kafka_topic_frames,
            self.kafka_topic_deadletter,
            self.kafka_topic_windows,
            self.kafka_topic_laps,
            self.kafka_topic_predictions,
            self.kafka_topic_alerts,
        )

    def public_dict(self) -> dict[str, Any]:
        """Every setting as UPPER_SNAKE keys, secrets masked: safe to print or log."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name.upper()] = ("***" if v else "") if f.name in SECRET_KEYS else v
        return out

    def __repr__(self) -> str:
        shown = ", ".join(f"{k.lower()}={v!r}" for k, v in self.public_dict().items())
        return f"Config({shown})"

    def environment(self) -> dict[str, str]:
        """Every setting as an UPPER_SNAKE environment variable, secrets included.

        Given to the processes the platform starts (the Flink job, the bridge, the predictor,
        Airflow) so they resolve exactly the launcher's configuration, command-line flags included.
        """
        return {f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.split(",") if a.strip())


def is_loopback(address: str) -> bool:
    """Whether a bind address only accepts local connections; a host name other than localhost is not
    resolved here and counts as reachable from elsewhere (the safe side for PLATFORM_AUTH=auto)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def parse_networks(text: str, setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated CIDRs (a bare address is a single-host network)."""
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            out.append(ipaddress.ip_network(part.strip()))
        except ValueError as err:
            raise ValueError(f"{setting}: {part.strip()!r} is not a network in CIDR notation ({err})") from err
    return tuple(out)


def parse_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored; optional surrounding quotes stripped."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ValueError(f"{path}:{lineno}: expected KEY=VALUE, got {raw!r}")
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def _coerce(name: str, kind: Any, value: str) -> Any:
    if kind in (int, "int"):
        try:
            return int(value)
        except ValueError as err:
            raise ValueError(f"{name.upper()} must be an integer, got {value!r}") from err
    return value


KNOWN_KEYS = {f.name.upper(): f for f in fields(Config)}


def _apply(layer: Mapping[str, str], into: dict[str, Any], strict: bool) -> None:
    for key, value in layer.items():
        f = KNOWN_KEYS.get(key.upper())
        if f is None:
            if strict:
                raise KeyError(f"unknown setting {key!r}; known settings are listed in toolchain-config.env")
            continue
        into[f.name] = _coerce(f.name, f.type, value)


def config_file() -> Path:
    """The settings file: toolchain-config.env, or the one P424_CONFIG_FILE names."""
    return Path(os.environ.get("P424_CONFIG_FILE", DEFAULT_ENV_FILE))


def load_config(
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    state_layers: bool = True,
) -> Config:
    """Build the configuration from all layers (see module docstring); ``state_layers=False`` leaves out
    the state dir's files (recorded topology, credentials)."""
    env_file = env_file or config_file()
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    _apply(parse_env_file(env_file), values, strict=True)
    # The state dir decides where credentials live, so resolve it from the upper layers first.
    probe = dict(values)
    _apply(environ, probe, strict=False)
    _apply(overrides or {}, probe, strict=True)
    state = Config(**probe).state_dir
    if state_layers:
        _apply(parse_env_file(state / TOPOLOGY_FILE), values, strict=False)
        _apply(parse_env_file(state / "credentials.env"), values, strict=False)
    _apply(environ, values, strict=False)
    _apply(overrides or {}, values, strict=True)
    return Config(**values)
