"""Which Secret carries each credential, under which key, and the variable a component reads it from.

Deployments reference these Secrets by name and never hold a value: on Kubernetes a team creates
them (``kubectl create secret generic ...`` or External Secrets), except the Kafka users' Secrets,
which Strimzi's User Operator generates, one per ``KafkaUser`` with the same name.
"""

from __future__ import annotations

from dataclasses import dataclass

from p424.security.kafka import KafkaPrincipal
from p424.security.roles import Role

# Variables the platform's processes read (p424.config settings where one exists).
CASSANDRA_USERNAME, CASSANDRA_PASSWORD = "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD"
KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD = "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"
S3_ACCESS_KEY, S3_SECRET_KEY = "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"
HTTP_TOKEN, METRICS_TOKEN = "P424_HTTP_TOKEN", "P424_METRICS_TOKEN"
MLFLOW_USERNAME, MLFLOW_PASSWORD = "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"
GRAFANA_TOKEN = "GRAFANA_TOKEN"
# Public settings that a cluster takes from a Secret instead (the S3 access key is a credential there).
FROM_SECRETS = frozenset({S3_ACCESS_KEY})


@dataclass(frozen=True, kw_only=True)
class SecretKey:
    secret: str  # the Secret's name
    key: str  # the key inside it
    env: str = ""  # the variable a process reads it from ("" if mounted as a file)
    generated_by: str = ""  # who creates the Secret; "" means the team does


@dataclass(frozen=True, kw_only=True)
class SecretSpec:
    """A Secret a team creates: its name, its keys and what goes in them."""

    name: str
    keys: tuple[str, ...]
    what: str


def cassandra_secret(r: Role) -> str:
    return f"p424-cassandra-{r.name.removeprefix('p424_')}"


def cassandra_login(r: Role) -> tuple[SecretKey, SecretKey]:
    s = cassandra_secret(r)
    return SecretKey(secret=s, key="username", env=CASSANDRA_USERNAME), SecretKey(secret=s, key="password",
                                                                                  env=CASSANDRA_PASSWORD)


def kafka_password(p: KafkaPrincipal) -> SecretKey:
    # Strimzi's User Operator writes the SCRAM password under `password` in a Secret named after the user.
    return SecretKey(secret=p.user, key="password", env=KAFKA_SASL_PASSWORD, generated_by="Strimzi User Operator")


S3 = SecretSpec(name="p424-s3", keys=("access-key", "secret-key"),
                what="credentials of the S3 endpoint (buckets for MLflow artifacts, Flink checkpoints, telemetry)")
S3_KEYS = (SecretKey(secret=S3.name, key="access-key", env=S3_ACCESS_KEY),
           SecretKey(secret=S3.name, key="secret-key", env=S3_SECRET_KEY))
HTTP = SecretSpec(name="p424-http-token", keys=("token",),
                  what="bearer token for the bridge, predictor and Live pusher endpoints beyond /health")
METRICS = SecretSpec(name="p424-metrics-token", keys=("token",), what="bearer token Prometheus sends to /metrics")
GRAFANA_LIVE = SecretSpec(name="p424-grafana-live", keys=("token",),
                          what="Grafana service-account token of the Live pusher (role Admin, /api/live/push)")
MLFLOW_AUTH = SecretSpec(name="p424-mlflow-auth", keys=("basic_auth.ini",),
                         what="MLflow basic-auth configuration with the admin user's credentials")
MLFLOW_USERS = tuple(
    SecretSpec(name=f"p424-mlflow-{user}", keys=("username", "password"), what=f"MLflow user {user} ({role})")
    for user, role in (("airflow", "EDIT"), ("viewer", "READ"))
)
HTTP_KEYS = (SecretKey(secret=HTTP.name, key="token", env=HTTP_TOKEN),
             SecretKey(secret=METRICS.name, key="token", env=METRICS_TOKEN))


def role_password_env(r: Role) -> str:
    """Where the schema Job reads a role's password (the chart's jobs template writes the same name)."""
    return f"{CASSANDRA_PASSWORD}_{r.name.upper()}"
