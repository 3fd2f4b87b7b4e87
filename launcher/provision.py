"""Creating what the platform needs inside the running services: topics, buckets, schema.

Every step is idempotent and shared by native mode and compose mode's one-shot init container.
"""

from __future__ import annotations

from minio import Minio

from p424 import derived
from p424.config import Config
from p424.kafka.admin import ensure_topics
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
