"""Creating what the platform needs inside the running services: topics, buckets, schema.

Every step is idempotent and shared by native mode and compose mode's one-shot init container.
"""

from __future__ import annotations

from collections.abc import Mapping

from minio import Minio

from p424 import derived
from p424.config import Config
from p424.kafka.access import ensure_access
from p424.kafka.admin import ensure_topics
from p424.security.identities import kafka_password_key, kafka_users
from p424.storage.cluster import connect
from p424.storage.migrate import migrate
from p424.storage.retention import Retention


def minio_client(cfg: Config) -> Minio:
    return Minio(cfg.minio_endpoint, access_key=cfg.minio_root_user, secret_key=cfg.minio_root_password, secure=False)


def ensure_buckets(cfg: Config) -> list[str]:
    client = minio_client(cfg)
    created = []
    for bucket in cfg.buckets:
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)
            created.append(bucket)
    return created


def ensure_schema(cfg: Config) -> list[str]:
    maths = derived.load(cfg).maths.names  # their window columns; a wrong file stops here, named
    cluster, session = connect(cfg)
    try:
        retention = Retention.from_config(cfg)
        return migrate(session, cfg.cassandra_keyspace, cfg.keyspace_replication, maths=maths, retention=retention)
    finally:
        cluster.shutdown()


def provision_topics(cfg: Config) -> list[str]:
    return ensure_topics(cfg)


def provision_kafka_access(cfg: Config, credentials: Mapping[str, str]) -> list[str]:
    """SCRAM users and ACLs (auth on; ``cfg`` logs in as the admin)."""
    passwords = {u: credentials.get(kafka_password_key(u), "") for u in kafka_users(cfg)}
    absent = [kafka_password_key(u) for u, p in passwords.items() if not p]
    if absent:
        raise ValueError(f"{', '.join(absent)} missing from credentials.env; `./launchcommand.sh up` generates them")
    return ensure_access(cfg, passwords)
