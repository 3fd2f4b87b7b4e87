"""Who each platform process is when auth is on, and where its generated password lives.

Native mode generates one password per Kafka principal (``kafka.kafka_principals``), Cassandra role
(``roles.ROLES``) and MLflow user into ``<state>/credentials.env``; the launcher hands each process
only the credentials of its own component (``identity_env``), as the settings ``KAFKA_SASL_*`` and
``CASSANDRA_*`` and MLflow's ``MLFLOW_TRACKING_*`` variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from p424.config import SECRET_KEYS, Config
from p424.security.kafka import kafka_principals
from p424.security.roles import ROLES, role
from p424.security.secrets import (
    CASSANDRA_PASSWORD,
    CASSANDRA_USERNAME,
    KAFKA_SASL_PASSWORD,
    KAFKA_SASL_USERNAME,
    MLFLOW_PASSWORD,
    MLFLOW_USERNAME,
    role_password_env,
)

# The Kafka broker's own user: inter-broker traffic and the controller listener. Native mode only
# (Strimzi manages its own); a super user, as is the admin principal.
KAFKA_BROKER_USER = "p424-broker"
KAFKA_ADMIN_USER = "p424-admin"
# MLflow basic-auth users: the admin (created by the auth app from its ini file), the training
# DAGs (they create the experiment and the registered model, which makes them their managers) and
# a read-only viewer (the default permission is READ), which the live predictor also uses.
MLFLOW_ADMIN, MLFLOW_AIRFLOW, MLFLOW_VIEWER = "admin", "airflow", "viewer"
MLFLOW_USERS = (MLFLOW_ADMIN, MLFLOW_AIRFLOW, MLFLOW_VIEWER)
# The key signing the MLflow auth app's sessions (not a login; generated with the passwords).
MLFLOW_FLASK_SECRET = "MLFLOW_FLASK_SERVER_SECRET_KEY"
# The variables an identity is handed in; every process gets all of them (empty where it has none).
IDENTITY_VARIABLES = (
    KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD,
    CASSANDRA_USERNAME,
    CASSANDRA_PASSWORD,
    MLFLOW_USERNAME,
    MLFLOW_PASSWORD,
)
# Variables that carry a secret: a process started by the launcher never inherits them from the
# launcher's own environment (a shell with the admin's login exported, say), only gets what its
# service hands it. Beam logs a Python worker's whole environment, so an inherited secret would land
# in the TaskManager's log.
SECRET_VARIABLES = frozenset({*IDENTITY_VARIABLES, MLFLOW_FLASK_SECRET, *(k.upper() for k in SECRET_KEYS)})


@dataclass(frozen=True, kw_only=True)
class Identity:
    """A component's logins: a Kafka user, a Cassandra role, an MLflow user (each optional)."""

    component: str
    kafka_user: str = ""
    cassandra_role: str = ""
    mlflow_user: str = ""


IDENTITIES: tuple[Identity, ...] = (
    # The launcher's provisioning and the test suite.
    Identity(component="admin", kafka_user=KAFKA_ADMIN_USER, cassandra_role="p424_admin", mlflow_user=MLFLOW_ADMIN),
    Identity(component="bridge", kafka_user="p424-bridge"),
    Identity(component="flink", kafka_user="p424-flink", cassandra_role="p424_flink"),
    Identity(component="predictor", kafka_user="p424-predictor", cassandra_role="p424_predictor",
             mlflow_user=MLFLOW_VIEWER),
    Identity(component="grafana-live", kafka_user="p424-grafana-live"),
    Identity(component="airflow", cassandra_role="p424_airflow", mlflow_user=MLFLOW_AIRFLOW),
    Identity(component="reader", cassandra_role="p424_reader", mlflow_user=MLFLOW_VIEWER),
)


def identity(component: str) -> Identity:
    for i in IDENTITIES:
        if i.component == component:
            return i
    raise KeyError(f"no identity for component {component!r}; components: {', '.join(i.component for i in IDENTITIES)}")


def kafka_password_key(user: str) -> str:
    """The credentials.env key of a Kafka user's SCRAM password."""
    return "KAFKA_PASSWORD_" + user.upper().replace("-", "_")


def cassandra_password_key(role_name: str) -> str:
    return role_password_env(role(role_name))


def mlflow_password_key(user: str) -> str:
    return f"MLFLOW_PASSWORD_{user.upper()}"


def kafka_users(cfg: Config) -> tuple[str, ...]:
    """Every SCRAM user the broker knows: its own and one per principal."""
    return (KAFKA_BROKER_USER, *(p.user for p in kafka_principals(cfg)))


def credential_keys(cfg: Config) -> tuple[str, ...]:
    """Every component password native mode generates."""
    return (
        *(kafka_password_key(u) for u in kafka_users(cfg)),
        *(role_password_env(r) for r in ROLES),
        *(mlflow_password_key(u) for u in MLFLOW_USERS),
        MLFLOW_FLASK_SECRET,
    )


def _password(credentials: Mapping[str, str], key: str) -> str:
    value = credentials.get(key, "")
    if not value:
        raise ValueError(f"{key} is missing from credentials.env; run `./launchcommand.sh up`, which generates it")
    return value


def identity_env(component: str, credentials: Mapping[str, str]) -> dict[str, str]:
    """The variables that make a process log in as ``component`` (all of IDENTITY_VARIABLES, so a
    process never inherits another identity's login)."""
    i = identity(component)
    env = dict.fromkeys(IDENTITY_VARIABLES, "")
    if i.kafka_user:
        env[KAFKA_SASL_USERNAME] = i.kafka_user
        env[KAFKA_SASL_PASSWORD] = _password(credentials, kafka_password_key(i.kafka_user))
    if i.cassandra_role:
        env[CASSANDRA_USERNAME] = i.cassandra_role
        env[CASSANDRA_PASSWORD] = _password(credentials, cassandra_password_key(i.cassandra_role))
    if i.mlflow_user:
        env[MLFLOW_USERNAME] = i.mlflow_user
        env[MLFLOW_PASSWORD] = _password(credentials, mlflow_password_key(i.mlflow_user))
    return env


def as_component(cfg: Config, component: str, credentials: Mapping[str, str]) -> Config:
    """``cfg`` logging in to Kafka and Cassandra as ``component`` (unchanged when auth is off)."""
    if not cfg.auth_enabled:
        return cfg
    env = identity_env(component, credentials)
    return cfg.replace(
        kafka_sasl_username=env[KAFKA_SASL_USERNAME],
        kafka_sasl_password=env[KAFKA_SASL_PASSWORD],
        cassandra_username=env[CASSANDRA_USERNAME],
        cassandra_password=env[CASSANDRA_PASSWORD],
    )
