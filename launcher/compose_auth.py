"""Compose mode's authentication: what each container is handed, from the generated credentials.

The launcher writes one env file per compose service that logs in or checks logins,
``<state>/compose-auth/<service>.env`` (mode 0600, in the git-ignored state dir, rewritten on every
compose command), which compose/docker-compose.yml names in that service's ``env_file``. The
contents come from what native mode uses: the identities of p424.security.identities (each
container gets its own component's logins and nobody else's), the broker's SASL settings and
logins (launcher.services.kafka), Cassandra's access settings (launcher.services.cassandra) and
MLflow's basic-auth configuration (launcher.services.mlflow).

Authentication follows the containers' own view of PLATFORM_AUTH: they bind 0.0.0.0, so ``auto``
means on (as for the bridge's, predictor's and Live pusher's bearer tokens); PLATFORM_AUTH=off
switches it off in both modes, and on in both.

With KAFKA_TLS=on the broker's certificate is issued by the state dir's CA as natively
(launcher.tls, for the names containers and host processes dial: ``kafka`` and 127.0.0.1). The
broker gets its key in its 0600 env file (its start script writes it to a 0600 file in the
container); the CA certificate, public, is copied to ``<state>/compose-tls/``, which the Kafka
clients' containers mount read-only where KAFKA_TLS_CA_FILE points.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from launcher import tls
from launcher.services.cassandra import access_settings
from launcher.services.kafka import broker_logins, sasl_settings, scram_arguments, scram_passwords, tls_settings
from launcher.services.mlflow import basic_auth_ini
from p424.config import KAFKA_CA_FILE, Config
from p424.kafka.auth import java_client, security_protocol
from p424.security.identities import (
    IDENTITY_VARIABLES,
    KAFKA_ADMIN_USER,
    KAFKA_BROKER_USER,
    MLFLOW_ADMIN,
    MLFLOW_FLASK_SECRET,
    credential_keys,
    identity,
    identity_env,
    kafka_password_key,
    mlflow_password_key,
)
from p424.security.kafka import SCRAM_MECHANISM

AUTH_DIR = "compose-auth"
CONTAINER_BIND_ADDRESS = "0.0.0.0"  # what every container of ours binds (x-p424-hosts)
# The compose services that log in, and as which component (as native: the Flink job's client,
# not its JobManager or TaskManager, carries the Flink user's logins into the job). Grafana reads
# Cassandra as the read-only reader (its provisioned datasource, and grafana-init's sync).
LOGINS: dict[str, str] = {
    "platform-init": "admin",
    "flink-job-submit": "flink",
    "bridge": "bridge",
    "predictor": "predictor",
    "grafana-live": "grafana-live",
    "airflow-scheduler": "airflow",  # LocalExecutor: the DAGs' tasks run here
    "grafana": "reader",
    "grafana-init": "reader",
}
# The servers, which check the logins.
SERVERS = ("kafka", "cassandra", "mlflow")
# The Kafka exporter describes every topic and consumer group: none of the components' principals
# may, so it logs in as the admin principal (the one user allowed to describe the cluster).
EXPORTER = "kafka-exporter"
# Kafka's listeners in compose/docker-compose.yml: containers, host processes, the controller.
KAFKA_CLIENT_LISTENERS = ("DOCKER", "HOST")
KAFKA_CONTROLLER_LISTENER = "CONTROLLER"
# Where the Kafka start script (compose/images/kafka/start.sh) writes what it is handed.
KAFKA_AUTH_DIR = "/tmp/p424-kafka"
MLFLOW_AUTH_DB = "/var/lib/mlflow-auth/basic_auth.db"  # on the mlflow-auth volume
# Kafka over TLS: the broker's certificate (<state>/tls/kafka-compose.pem) names what clients dial: the
# DOCKER listener's service name and the HOST listener's published address.
KAFKA_TLS_NODE = "kafka-compose"
KAFKA_CERTIFICATE_NAMES = ("kafka", "127.0.0.1")
# The CA certificate for the containers: <state>/compose-tls/ca.crt, mounted read-only at
# CONTAINER_TLS_DIR (docker-compose.yml, x-kafka-ca), where KAFKA_TLS_CA_FILE points (x-p424-hosts).
COMPOSE_TLS_DIR = "compose-tls"
CONTAINER_TLS_DIR = "/etc/p424/tls"
CONTAINER_CA_FILE = f"{CONTAINER_TLS_DIR}/{KAFKA_CA_FILE}"


def container_view(cfg: Config) -> Config:
    """The settings as the containers evaluate them: bound to 0.0.0.0."""
    return cfg.replace(platform_bind_address=CONTAINER_BIND_ADDRESS)


def auth_enabled(cfg: Config) -> bool:
    """Whether the containers authenticate: PLATFORM_AUTH as they evaluate it."""
    return container_view(cfg).auth_enabled


def kafka_tls_enabled(cfg: Config) -> bool:
    """Whether Kafka speaks TLS in the containers (KAFKA_TLS=on, auth on as they evaluate it)."""
    return container_view(cfg).kafka_tls_enabled


def kafka_env_name(prop: str) -> str:
    """The variable the apache/kafka image turns into broker property ``prop`` (its ConvertKey,
    docker/resources/utility/utility.go: '.' is '_', '_' is '__', '-' is '___'). The image drops
    a variable whose value holds '=' (ListToMap), so JAAS logins go through a JAAS file instead."""
    return "KAFKA_" + prop.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def kafka_broker_env(cfg: Config, credentials: Mapping[str, str], keystore: tls.KeyPair | None = None
                     ) -> dict[str, str]:
    """The Kafka container: its listeners' protocols, and with auth on the SASL settings native mode
    uses, the broker's logins as a JAAS file and every SCRAM user to format the storage with; with
    KAFKA_TLS=on, native mode's TLS settings and ``keystore`` (the broker's key and chain)."""
    auth = auth_enabled(cfg)
    container = container_view(cfg)
    protocol = security_protocol(container) if auth else "PLAINTEXT"
    listeners = (*KAFKA_CLIENT_LISTENERS, KAFKA_CONTROLLER_LISTENER)
    env = {"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": ",".join(f"{name}:{protocol}" for name in listeners),
           "P424_KAFKA_TLS_KEYSTORE": ""}
    if not auth:
        return {**env, "P424_KAFKA_JAAS": "", "P424_KAFKA_ADD_SCRAM": "", "P424_KAFKA_CLIENT": ""}
    if container.kafka_tls_enabled:
        if keystore is None:
            raise ValueError("KAFKA_TLS is on: the Kafka container needs its keystore (launcher.tls)")
        env |= {kafka_env_name(k): v for k, v in tls_settings(f"{KAFKA_AUTH_DIR}/kafka.pem", CONTAINER_CA_FILE).items()}
        # One line in the env file; the start script turns the \n back into line breaks (printf %b).
        env["P424_KAFKA_TLS_KEYSTORE"] = (keystore.key + keystore.certificate).decode().replace("\n", "\\n")
    passwords = scram_passwords(cfg, dict(credentials))
    scram, plain = broker_logins(passwords[KAFKA_BROKER_USER])
    sections = [f"{name.lower()}.KafkaServer {{ {scram} }};" for name in KAFKA_CLIENT_LISTENERS]
    sections.append(f"{KAFKA_CONTROLLER_LISTENER.lower()}.KafkaServer {{ {plain} }};")
    # The container's health probe logs in as the broker's own user (a super user it already holds).
    probe = java_client(container.replace(kafka_sasl_username=KAFKA_BROKER_USER,
                                          kafka_sasl_password=passwords[KAFKA_BROKER_USER]))
    if container.kafka_tls_enabled:
        probe["ssl.truststore.location"] = CONTAINER_CA_FILE
    return {
        **env,
        **{kafka_env_name(k): v for k, v in sasl_settings().items()},
        "KAFKA_OPTS": f"-Djava.security.auth.login.config={KAFKA_AUTH_DIR}/jaas.conf",
        "P424_KAFKA_JAAS": " ".join(sections),
        # The values of StorageTool's --add-scram arguments, space-separated (none holds a space).
        "P424_KAFKA_ADD_SCRAM": " ".join(scram_arguments(passwords)[1::2]),
        "P424_KAFKA_CLIENT": "\\n".join(f"{k}={v}" for k, v in probe.items()),
    }


def cassandra_env(cfg: Config) -> dict[str, str]:
    """The Cassandra container's JVM options: the CQL port, and the access settings of native mode's
    cassandra.yaml as system properties (cassandra.settings.*, read by Cassandra 5's
    YamlConfigurationLoader when cassandra.config.allow_system_properties is true)."""
    access = " ".join(f"-Dcassandra.settings.{k}={v}" for k, v in access_settings(auth_enabled(cfg)).items())
    return {
        "JVM_EXTRA_OPTS": f"-Dcassandra.native_transport_port={cfg.cassandra_port} "
        f"-Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.config.allow_system_properties=true {access}"
    }


def mlflow_env(cfg: Config, credentials: Mapping[str, str]) -> dict[str, str]:
    """The MLflow server: its basic-auth app with native mode's configuration when auth is on."""
    if not auth_enabled(cfg):
        return {"P424_MLFLOW_APP": "", "P424_MLFLOW_AUTH_INI": "", MLFLOW_FLASK_SECRET: ""}
    ini = basic_auth_ini(credentials[mlflow_password_key(MLFLOW_ADMIN)], MLFLOW_AUTH_DB)
    return {
        "P424_MLFLOW_APP": "basic-auth",
        "P424_MLFLOW_AUTH_INI": ini.replace("\n", "\\n"),
        MLFLOW_FLASK_SECRET: credentials[MLFLOW_FLASK_SECRET],
    }


def exporter_env(cfg: Config, credentials: Mapping[str, str]) -> dict[str, str]:
    """danielqsj/kafka-exporter's SASL flags (it reads no variables; the command expands these)."""
    if not auth_enabled(cfg):
        return {"KAFKA_EXPORTER_SASL": ""}
    password = credentials[kafka_password_key(identity("admin").kafka_user)]
    mechanism = "sha" + SCRAM_MECHANISM.removeprefix("SCRAM-SHA-")  # the exporter's name for it: sha512
    flags = f"--sasl.enabled --sasl.mechanism={mechanism} --sasl.username={KAFKA_ADMIN_USER} --sasl.password={password}"
    if kafka_tls_enabled(cfg):  # it verifies the broker's certificate and name (kafka) against the CA
        flags += f" --tls.enabled --tls.ca-file={CONTAINER_CA_FILE}"
    return {"KAFKA_EXPORTER_SASL": flags}


def service_env(cfg: Config, credentials: Mapping[str, str], keystore: tls.KeyPair | None = None
                ) -> dict[str, dict[str, str]]:
    """Each compose service's auth env file: its variables (``keystore``: the broker's, with KAFKA_TLS=on)."""
    auth = auth_enabled(cfg)
    out: dict[str, dict[str, str]] = {}
    for service, component in LOGINS.items():
        out[service] = identity_env(component, credentials) if auth else dict.fromkeys(IDENTITY_VARIABLES, "")
    if auth:  # provisioning creates every user and role with its password, as the launcher does natively
        out["platform-init"].update({k: credentials[k] for k in credential_keys(cfg)})
    out["kafka"] = kafka_broker_env(cfg, credentials, keystore)
    out["cassandra"] = cassandra_env(cfg)
    out["mlflow"] = mlflow_env(cfg, credentials)
    out[EXPORTER] = exporter_env(cfg, credentials)
    return out


def render(values: Mapping[str, str]) -> str:
    lines = ["# Written by ./launchcommand.sh on every compose command from credentials.env; keep private."]
    for key, value in sorted(values.items()):
        # Unquoted values are taken as they are, except that Compose expands '$', a ' #' starts a
        # comment and a leading quote makes a quoted value: none of these occurs in what we write.
        if value.startswith(("'", '"')) or any(c in value for c in "$#\n"):
            raise ValueError(f"{key}: a value with '$', '#', a line break or a leading quote cannot go in a "
                             "compose env file")
        lines.append(f"{key}={value}")
    return "\n".join([*lines, ""])


def prepare_kafka_tls(root: Path, cfg: Config) -> tls.KeyPair | None:
    """With KAFKA_TLS=on (and auth on): the broker's certificate, issued where missing or stale, and the
    CA certificate in ``<root>/compose-tls``; otherwise that directory empty. The directory always
    exists: the clients' containers mount it."""
    public = root / COMPOSE_TLS_DIR
    public.mkdir(parents=True, exist_ok=True)
    ca_copy = public / KAFKA_CA_FILE
    if not kafka_tls_enabled(cfg):
        ca_copy.unlink(missing_ok=True)
        return None
    tls.ensure_node_certificates(cfg, {KAFKA_TLS_NODE: KAFKA_CERTIFICATE_NAMES})
    shutil.copyfile(cfg.kafka_ca_file, ca_copy)
    ca_copy.chmod(0o644)
    return tls.read_keystore(tls.node_keystore(cfg, KAFKA_TLS_NODE))


def write_env_files(root: Path, cfg: Config, credentials: Mapping[str, str]) -> Path:
    """Write ``<root>/compose-auth/<service>.env`` (directory 0700, files 0600) and the Kafka TLS
    material (``prepare_kafka_tls``); returns the env files' directory."""
    keystore = prepare_kafka_tls(root, cfg)
    directory = root / AUTH_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    for service, values in service_env(cfg, credentials, keystore).items():
        path = directory / f"{service}.env"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(render(values))
        path.chmod(0o600)
    return directory
