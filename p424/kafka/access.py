"""Kafka access in a running cluster: the SCRAM users and the ACLs of ``p424.security.kafka``.

Run by provisioning as the admin (a super user) when auth is on; idempotent. Users are created at
format time already (``kafka-storage format --add-scram``); provisioning adds any the storage was
formatted without (a principal added later), and creates every principal's ACLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from confluent_kafka.admin import AdminClient

# confluent-kafka re-exports these from confluent_kafka.admin without declaring them (mypy --strict).
from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from p424.config import Config
from p424.kafka import auth
from p424.security.kafka import Acl, KafkaPrincipal, acls, kafka_principals

# Kafka's cluster resource has this one name (confluent-kafka calls the resource type BROKER).
CLUSTER_RESOURCE = "kafka-cluster"
SCRAM_ITERATIONS = 4096  # Kafka's default and minimum for SCRAM-SHA-512
RESOURCE_TYPES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}


def operation(name: str) -> AclOperation:
    """Kafka's operation name (``DescribeConfigs``) as confluent-kafka's enum member (DESCRIBE_CONFIGS)."""
    snake = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name)).upper()
    try:
        return AclOperation[snake]
    except KeyError:
        raise ValueError(f"{name!r} is not a Kafka ACL operation") from None


def bindings(user: str, rules: tuple[Acl, ...]) -> list[AclBinding]:
    """One ALLOW binding per operation of each rule, for ``User:<user>`` from any host."""
    out: list[AclBinding] = []
    for rule in rules:
        if rule.resource_type not in RESOURCE_TYPES:
            raise ValueError(f"unknown ACL resource type {rule.resource_type!r} for {user}")
        name = rule.name or CLUSTER_RESOURCE
        out.extend(
            AclBinding(
                RESOURCE_TYPES[rule.resource_type],
                name,
                ResourcePatternType.LITERAL,
                f"User:{user}",
                "*",
                operation(op),
                AclPermissionType.ALLOW,
            )
            for op in rule.operations
        )
    return out


def platform_bindings(cfg: Config) -> list[AclBinding]:
    return principal_bindings(kafka_principals(cfg))


def principal_bindings(principals: Iterable[KafkaPrincipal]) -> list[AclBinding]:
    return [b for p in principals for b in bindings(p.user, acls(p))]


def grant(cfg: Config, principals: Iterable[KafkaPrincipal], timeout_s: float = 30.0) -> int:
    """Create the ACLs of ``principals`` (as ``cfg``'s user, an admin); returns how many bindings."""
    wanted = principal_bindings(principals)
    client = _admin(cfg)  # held until every future is done: a collected client cancels them
    for future in client.create_acls(wanted, request_timeout=timeout_s).values():
        future.result(timeout_s)  # creating an ACL that exists is a no-op
    return len(wanted)


def _admin(cfg: Config) -> AdminClient:
    return AdminClient({"bootstrap.servers": cfg.kafka_bootstrap, "log_level": 0, **auth.librdkafka(cfg)})


def ensure_access(cfg: Config, passwords: Mapping[str, str], timeout_s: float = 30.0) -> list[str]:
    """Create SCRAM users missing from the cluster and every principal's ACLs; returns what was added."""
    client = _admin(cfg)
    described = client.describe_user_scram_credentials(request_timeout=timeout_s)  # all users: one future
    assert not isinstance(described, dict)
    existing = set(described.result(timeout_s))
    missing = [u for u in passwords if u not in existing]
    changes: list[str] = []
    if missing:
        upserts: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(
                u, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS), passwords[u].encode()
            )
            for u in missing
        ]
        for user, future in client.alter_user_scram_credentials(upserts, request_timeout=timeout_s).items():
            future.result(timeout_s)
            changes.append(f"SCRAM user {user}")
    count = grant(cfg, kafka_principals(cfg), timeout_s)
    changes.append(f"{count} ACLs for {len(kafka_principals(cfg))} principals")
    return changes
