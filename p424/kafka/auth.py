"""How a Kafka client logs in, in each client library's own terms.

With auth on (``Config.auth_enabled``) every client speaks SASL_PLAINTEXT with SCRAM-SHA-512 as the
user named by KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD; with auth off, plain PLAINTEXT. The
platform runs three client libraries: kafka-python (the bridge, the Live pusher, provisioning),
librdkafka through confluent-kafka (the predictor, the Flink sink's producer) and the Java client
(the Flink job's KafkaSource).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from p424.config import Config
from p424.security.kafka import SCRAM_MECHANISM

SECURITY_PROTOCOL = "SASL_PLAINTEXT"
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


def kafka_python(cfg: Config) -> dict[str, str]:
    """Keyword arguments for kafka-python's clients (KafkaProducer, KafkaConsumer, KafkaAdminClient)."""
    who = login(cfg)
    if who is None:
        return {}
    return {
        "security_protocol": SECURITY_PROTOCOL,
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": who.username,
        "sasl_plain_password": who.password,
    }


def librdkafka(cfg: Config) -> dict[str, str]:
    """librdkafka configuration properties (confluent-kafka's Producer, Consumer, AdminClient)."""
    who = login(cfg)
    if who is None:
        return {}
    return {
        "security.protocol": SECURITY_PROTOCOL,
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.username": who.username,
        "sasl.password": who.password,
    }


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
    return {
        "security.protocol": SECURITY_PROTOCOL,
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.jaas.config": jaas_config(module, {"username": who.username, "password": who.password}),
    }
