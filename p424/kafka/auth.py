"""How a Kafka client logs in, in each client library's own terms.

With auth on (``Config.auth_enabled``) every client speaks SASL_PLAINTEXT with SCRAM-SHA-512 as the
user named by KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD, or SASL_SSL with KAFKA_TLS=on, verifying the
broker's certificate and its address against the platform's CA (``Config.kafka_ca_file``); with auth
off, plain PLAINTEXT. The platform runs three client libraries: kafka-python (the bridge, the Live
pusher, provisioning), librdkafka through confluent-kafka (the predictor, the Flink sink's producer)
and the Java client (the Flink job's KafkaSource).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from p424.config import Config
from p424.security.kafka import SCRAM_MECHANISM

SECURITY_PROTOCOL = "SASL_PLAINTEXT"
TLS_SECURITY_PROTOCOL = "SASL_SSL"
# Kafka's Java client reads a PEM file of CA certificates as a trust store (KIP-651).
PEM_STORE_TYPE = "PEM"
# ssl.endpoint.identification.algorithm in Kafka's and librdkafka's terms: check the peer's name too.
VERIFY_PEER_NAME = "https"
# Kafka's Java login module for SCRAM (org.apache.kafka.common.security.scram).
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
# Flink's Kafka connector jar (flink-sql-connector-kafka) carries the Kafka client relocated under this
# package, login modules included, and JAAS loads the module by its class name.
FLINK_CONNECTOR_SHADING = "org.apache.flink.kafka.shaded."


@dataclass(frozen=True, kw_only=True)
class SaslLogin:
    username: str
    password: str = ""

    def __repr__(self) -> str:  # never show the password
        return f"SaslLogin(username={self.username!r})"


def login(cfg: Config) -> SaslLogin | None:
    """The configured login, or None when auth is off; auth on without a login is an error."""
    if not cfg.auth_enabled:
        return None
    if not cfg.kafka_sasl_username or not cfg.kafka_sasl_password:
        raise ValueError(
            "PLATFORM_AUTH is on but KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD are not set: a platform process "
            "gets them from the launcher; a script of your own needs a Kafka user's password from credentials.env"
        )
    return SaslLogin(username=cfg.kafka_sasl_username, password=cfg.kafka_sasl_password)


def security_protocol(cfg: Config) -> str:
    """The listeners' protocol with auth on: SASL over TLS when KAFKA_TLS is on."""
    return TLS_SECURITY_PROTOCOL if cfg.kafka_tls_enabled else SECURITY_PROTOCOL


def ca_file(cfg: Config) -> str:
    """The CA certificate to verify brokers with; a clear error when it is not there."""
    path = cfg.kafka_ca_file
    if not path.is_file():
        raise ValueError(
            f"KAFKA_TLS is on but the CA certificate {path} does not exist: `./launchcommand.sh up` generates it "
            "(<state>/tls/ca.crt); a client elsewhere needs a copy, named by KAFKA_TLS_CA_FILE"
        )
    return str(path)


def kafka_python(cfg: Config) -> dict[str, Any]:
    """Keyword arguments for kafka-python's clients (KafkaProducer, KafkaConsumer, KafkaAdminClient)."""
    who = login(cfg)
    if who is None:
        return {}
    out: dict[str, Any] = {
        "security_protocol": security_protocol(cfg),
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": who.username,
        "sasl_plain_password": who.password,
    }
    if cfg.kafka_tls_enabled:
        out |= {"ssl_cafile": ca_file(cfg), "ssl_check_hostname": True}
    return out


def librdkafka(cfg: Config) -> dict[str, str]:
    """librdkafka configuration properties (confluent-kafka's Producer, Consumer, AdminClient)."""
    who = login(cfg)
    if who is None:
        return {}
    out = {
        "security.protocol": security_protocol(cfg),
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.username": who.username,
        "sasl.password": who.password,
    }
    if cfg.kafka_tls_enabled:
        # librdkafka verifies the broker's name against its certificate by default ("https"); said here.
        out |= {"ssl.ca.location": ca_file(cfg), "ssl.endpoint.identification.algorithm": VERIFY_PEER_NAME}
    return out


def jaas_config(module: str, options: Mapping[str, str]) -> str:
    """A JAAS login-module line as Kafka's ``sasl.jaas.config`` takes it (values quoted)."""
    for name, value in options.items():
        if '"' in value or "\\" in value:
            raise ValueError(f"the Kafka JAAS option {name} must not contain quotes or backslashes")
    quoted = " ".join(f'{k}="{v}"' for k, v in options.items())
    return f"{module} required {quoted};"


def java_client(cfg: Config, shading: str = "") -> dict[str, str]:
    """Properties for Kafka's Java client; ``shading``: the package prefix of a relocated client
    (FLINK_CONNECTOR_SHADING for the Flink job's KafkaSource and KafkaSink)."""
    who = login(cfg)
    if who is None:
        return {}
    module = shading + SCRAM_LOGIN_MODULE
    out = {
        "security.protocol": security_protocol(cfg),
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.jaas.config": jaas_config(module, {"username": who.username, "password": who.password}),
    }
    if cfg.kafka_tls_enabled:
        out |= {
            "ssl.truststore.type": PEM_STORE_TYPE,
            "ssl.truststore.location": ca_file(cfg),
            "ssl.endpoint.identification.algorithm": VERIFY_PEER_NAME,
        }
    return out
