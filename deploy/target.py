"""What a Kubernetes deployment adds to the platform's settings: operators, names, sizes, images.

Everything the platform itself is configured with (versions, topics, buckets, ports, memory,
Flink settings) comes from toolchain-config.env through p424.config; this module holds only what
exists on Kubernetes alone, each fact once.
"""

from __future__ import annotations

from dataclasses import dataclass

from p424.config import KAFKA_CA_FILE, Config

# RFC 1918 private networks and loopback: where a team's simulators (and the cluster's nodes) send from.
# Where the workloads mount the Kafka cluster CA's certificate when KAFKA_TLS is on.
KAFKA_CA_DIR = "/etc/p424/kafka-ca"
CLUSTER_SENDERS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128"


@dataclass(frozen=True, kw_only=True)
class Operators:
    """The operators and charts the manifests are written for (pinned: their APIs change between releases)."""

    # Strimzi 1.2.0 supports Kafka 4.2.0, 4.2.1, 4.3.0 and 4.3.1. Natively the platform runs 4.2.2,
    # which Strimzi 1.2.0 does not list, so the cluster runs the newest 4.2 it does: 4.2.1 (same
    # minor version, so the same protocol and metadata version as natively).
    strimzi: str = "1.2.0"
    strimzi_kafka: str = "4.2.1"
    flink_operator: str = "1.15.0"
    # The newest Flink operator whose API jar (with its CRDs) the registry serves: the offline check
    # validates against its schema (tests/test_k8s.py names the differences to 1.15.0 it allows).
    flink_operator_api_in_registry: str = "1.10.0"
    k8ssandra_operator: str = "v1.32.5"
    airflow_chart: str = "1.22.0"  # the official apache-airflow chart
    mlflow_chart: str = "0.1.1"  # the official chart in mlflow/mlflow's charts/ directory


@dataclass(frozen=True, kw_only=True)
class Names:
    """Kubernetes object names; the service names follow from what each operator or chart creates."""

    kafka_cluster: str = "p424"
    kafka_pool: str = "dual-role"
    cassandra_cluster: str = "p424"
    cassandra_dc: str = "dc1"
    airflow_release: str = "p424-airflow"
    mlflow_release: str = "p424-mlflow"
    flink_service_account: str = "flink"
    s3_host: str = "p424-s3"  # any S3 endpoint: replace with the cluster's (or generate with --set MINIO_HOST=...)

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_cluster}-kafka-bootstrap"  # Strimzi's bootstrap Service

    @property
    def kafka_cluster_ca(self) -> str:
        """The Secret in which Strimzi publishes its cluster CA's certificate (key ca.crt): what clients of a
        TLS listener verify the brokers with."""
        return f"{self.kafka_cluster}-cluster-ca-cert"

    @property
    def cassandra_service(self) -> str:
        return f"{self.cassandra_cluster}-{self.cassandra_dc}-service"  # cass-operator's datacenter Service

    @property
    def airflow_api_server(self) -> str:
        return f"{self.airflow_release}-api-server"

    @property
    def mlflow_service(self) -> str:
        return self.mlflow_release  # fullnameOverride in the MLflow values

    def flink_rest(self, job_name: str) -> str:
        return f"{job_name}-rest"  # the Flink operator's REST Service of a FlinkDeployment


@dataclass(frozen=True, kw_only=True)
class Sizes:
    kafka_brokers: int = 3  # each a broker and a KRaft controller
    kafka_volume: str = "50Gi"
    replication: int = 3
    min_insync_replicas: int = 2
    cassandra_nodes: int = 3
    cassandra_rf: int = 3
    cassandra_volume: str = "100Gi"


@dataclass(frozen=True, kw_only=True)
class Target:
    operators: Operators = Operators()
    names: Names = Names()
    sizes: Sizes = Sizes()
    namespace: str = "p424"

    def images(self, cfg: Config) -> dict[str, str]:
        """Our images, tagged as compose tags them (built from compose/images/*/Dockerfile)."""
        return {
            "platform": f"p424/platform:py{cfg.python_version}",
            "flink": f"p424/flink:{cfg.flink_version}",
            "airflow": f"p424/airflow:{cfg.airflow_version}",
            "mlflow": f"p424/mlflow:{cfg.mlflow_version}",
        }

    def settings(self, cfg: Config) -> Config:
        """The platform's settings as seen inside the cluster: service names as hosts, RF 3."""
        n = self.names
        return cfg.replace(
            platform_bind_address="0.0.0.0",
            platform_state_dir="/var/lib/p424",
            kafka_host=n.kafka_bootstrap,
            cassandra_host=n.cassandra_service,
            flink_host=n.flink_rest(cfg.flink_job_name),
            minio_host=n.s3_host if not cfg.minio_host else cfg.minio_host,
            mlflow_host=n.mlflow_service,
            airflow_host=n.airflow_api_server,
            bridge_host="p424-bridge",
            predictor_host="p424-predictor",
            # KAFKA_TLS=on: Strimzi's cluster CA certificate, mounted from its Secret (Names.kafka_cluster_ca).
            kafka_tls_ca_file=f"{KAFKA_CA_DIR}/{KAFKA_CA_FILE}" if cfg.kafka_tls == "on" else "",
            cassandra_replication=(
                f"{{'class': 'NetworkTopologyStrategy', '{n.cassandra_dc}': {self.sizes.cassandra_rf}}}"
            ),
            # Simulators send through the UDP Service from outside the cluster (and arrive from a node
            # address when the Service's traffic policy is Cluster): private networks, unless set.
            bridge_allowed_senders=(
                CLUSTER_SENDERS
                if cfg.bridge_allowed_senders == Config().bridge_allowed_senders
                else cfg.bridge_allowed_senders
            ),
        )
