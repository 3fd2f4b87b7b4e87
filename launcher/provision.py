"""Creating what the platform needs inside the running services: topics, buckets, schema.

Every step is idempotent and shared by native mode and compose mode's one-shot init container.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import requests
from cassandra import AuthenticationFailed
from cassandra.cluster import NoHostAvailable, Session
from minio import Minio

from p424 import derived
from p424.config import Config
from p424.kafka.access import ensure_access
from p424.kafka.admin import ensure_topics
from p424.security.identities import MLFLOW_ADMIN, MLFLOW_USERS, kafka_password_key, kafka_users, mlflow_password_key
from p424.security.roles import (
    AUTH_KEYSPACE,
    ROLES,
    Statement,
    auth_replication,
    role,
    role_statements,
    same_replication,
)
from p424.security.secrets import role_password_env
from p424.storage.cluster import connect
from p424.storage.migrate import migrate
from p424.storage.retention import Retention

# The superuser PasswordAuthenticator creates on a node without roles (name and password alike).
DEFAULT_SUPERUSER = "cassandra"


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


def ensure_cassandra_admin(cfg: Config, timeout_s: float = 60.0) -> list[str]:
    """Replace Cassandra's default superuser by the generated admin role (auth on; ``cfg`` is the admin).

    PasswordAuthenticator starts a node without roles with the superuser cassandra/cassandra, a
    password everyone knows: at the first provisioning it creates the admin role, which then drops it.
    """
    changes: list[str] = []
    try:
        cluster, _ = connect(cfg, timeout_s=timeout_s)
        cluster.shutdown()
    except NoHostAvailable as err:
        if not _authentication_failed(err):
            raise
        changes = _create_admin(cfg, timeout_s)
    cluster, session = connect(cfg, timeout_s=timeout_s)
    try:  # also when an earlier provisioning stopped between creating the admin and this
        changes.extend(ensure_auth_replication(session, cfg.keyspace_replication))
        if DEFAULT_SUPERUSER in existing_roles(session):
            session.execute(f"DROP ROLE {DEFAULT_SUPERUSER}")
            changes.append(f"dropped the default superuser {DEFAULT_SUPERUSER}")
    finally:
        cluster.shutdown()
    return changes


def _create_admin(cfg: Config, timeout_s: float) -> list[str]:
    """Log in as the default superuser and create the admin role."""
    default = cfg.replace(cassandra_username=DEFAULT_SUPERUSER, cassandra_password=DEFAULT_SUPERUSER)
    deadline = time.monotonic() + timeout_s
    while True:  # the node creates its default superuser shortly after it serves CQL
        try:
            cluster, session = connect(default, timeout_s=timeout_s)
            break
        except NoHostAvailable as err:
            if not _authentication_failed(err) or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Cassandra accepts neither the admin role {cfg.cassandra_username} (password in credentials.env) "
                    f"nor its default superuser: the node's roles were made elsewhere. Start from empty Cassandra data "
                    "(`./launchcommand.sh down --wipe`) or give the admin role's password in credentials.env."
                ) from err
            time.sleep(1.0)
    try:
        for s in first_role_statements(cfg):
            session.execute(s.cql, s.params, timeout=60)
    finally:
        cluster.shutdown()
    return [f"replicated {AUTH_KEYSPACE} as {cfg.keyspace_replication}",
            f"created the admin role {cfg.cassandra_username}"]


def first_role_statements(cfg: Config) -> list[Statement]:
    """What the default superuser runs on a node without roles: system_auth replicated like the data
    keyspace before the first role is written (so every role has all its copies from the start), then
    the admin role (a superuser without grants: CREATE ROLE and its password)."""
    admin = role(cfg.cassandra_username)
    statements, _ = role_statements(cfg.cassandra_keyspace, {admin.name: cfg.cassandra_password}, (), [admin])
    return [auth_replication(cfg.keyspace_replication), *statements]


def ensure_auth_replication(session: Session, replication: str) -> list[str]:
    """system_auth replicated as ``replication`` on a node that already has roles (an older deployment,
    or CASSANDRA_REPLICATION changed): the existing roles reach their new replicas only by a repair."""
    row = session.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s",
                          (AUTH_KEYSPACE,)).one()
    if row is not None and same_replication(row[0], replication):
        return []
    statement = auth_replication(replication)
    session.execute(statement.cql, timeout=60)
    return [f"replicated {AUTH_KEYSPACE} as {replication}; run `nodetool repair {AUTH_KEYSPACE}` on every node "
            "so the roles made before reach their new replicas"]


def ensure_cassandra_roles(cfg: Config, credentials: Mapping[str, str]) -> list[str]:
    """Every component's role with its generated password and its grants (p424/security/roles.py)."""
    passwords = {r.name: credentials.get(role_password_env(r), "") for r in ROLES}
    cluster, session = connect(cfg)
    try:
        keyspace = cluster.metadata.keyspaces[cfg.cassandra_keyspace]
        existing = existing_roles(session)
        # Passwords are set only where they changed (credentials.env edited): Cassandra rate-limits changes.
        stale = {r for r in existing & set(passwords) if not _logs_in(cfg, r, passwords[r])}
        statements, skipped = role_statements(cfg.cassandra_keyspace, passwords, keyspace.tables, existing=stale)
        for s in statements:
            session.execute(s.cql, s.params)
    finally:
        cluster.shutdown()
    created = sorted(set(passwords) - existing)
    return [
        *([f"created roles {', '.join(created)}"] if created else []),
        *([f"changed the passwords of {', '.join(sorted(stale))}"] if stale else []),
        f"granted {len(ROLES)} roles their permissions ({len(statements)} statements)",
        *skipped,
    ]


def _logs_in(cfg: Config, role_name: str, password: str) -> bool:
    try:
        cluster, _ = connect(cfg.replace(cassandra_username=role_name, cassandra_password=password), timeout_s=10)
    except NoHostAvailable as err:
        if _authentication_failed(err):
            return False
        raise
    cluster.shutdown()
    return True


def existing_roles(session: Session) -> set[str]:
    return {row[0] for row in session.execute("SELECT role FROM system_auth.roles")}


def _authentication_failed(err: NoHostAvailable) -> bool:
    return any(isinstance(e, AuthenticationFailed) for e in err.errors.values())


# MLflow's auth REST API (mlflow/server/auth/routes.py): a user's own details, and the admin's user calls.
MLFLOW_CURRENT_USER = "/api/2.0/mlflow/users/current"
MLFLOW_CREATE_USER = "/api/2.0/mlflow/users/create"
MLFLOW_UPDATE_PASSWORD = "/api/2.0/mlflow/users/update-password"


def ensure_mlflow_users(cfg: Config, credentials: Mapping[str, str], timeout_s: float = 30.0) -> list[str]:
    """The platform's MLflow users with their generated passwords (auth on), made by the admin."""
    passwords = {u: credentials.get(mlflow_password_key(u), "") for u in MLFLOW_USERS}
    if not all(passwords.values()):
        raise ValueError("MLflow passwords are missing from credentials.env; `./launchcommand.sh up` generates them")
    admin = (MLFLOW_ADMIN, passwords[MLFLOW_ADMIN])
    if not _mlflow_logs_in(cfg, admin, timeout_s):
        raise RuntimeError(
            f"MLflow refuses its admin {MLFLOW_ADMIN} with the password in credentials.env: the auth app created "
            "the admin with another password (it reads its ini file only while it has no users). Restore that "
            "password in credentials.env, or start from empty MLflow data (`./launchcommand.sh down --wipe`)."
        )
    changes: list[str] = []
    for user, password in passwords.items():
        if user == MLFLOW_ADMIN or _mlflow_logs_in(cfg, (user, password), timeout_s):
            continue
        r = requests.post(f"{cfg.mlflow_url}{MLFLOW_CREATE_USER}", json={"username": user, "password": password},
                          auth=admin, timeout=timeout_s)
        if r.ok:
            changes.append(f"created user {user}")
            continue
        if "RESOURCE_ALREADY_EXISTS" not in r.text:
            raise RuntimeError(f"creating MLflow user {user} failed: HTTP {r.status_code} {r.text[:300]}")
        r = requests.patch(f"{cfg.mlflow_url}{MLFLOW_UPDATE_PASSWORD}", json={"username": user, "password": password},
                           auth=admin, timeout=timeout_s)
        if not r.ok:
            raise RuntimeError(f"setting MLflow user {user}'s password failed: HTTP {r.status_code} {r.text[:300]}")
        changes.append(f"changed the password of user {user}")
    return changes


def _mlflow_logs_in(cfg: Config, login: tuple[str, str], timeout_s: float) -> bool:
    r = requests.get(f"{cfg.mlflow_url}{MLFLOW_CURRENT_USER}", auth=login, timeout=timeout_s)
    if r.status_code in (401, 403):
        return False
    r.raise_for_status()
    return True


def provision_topics(cfg: Config) -> list[str]:
    return ensure_topics(cfg)


def provision_kafka_access(cfg: Config, credentials: Mapping[str, str]) -> list[str]:
    """SCRAM users and ACLs (auth on; ``cfg`` logs in as the admin)."""
    passwords = {u: credentials.get(kafka_password_key(u), "") for u in kafka_users(cfg)}
    absent = [kafka_password_key(u) for u, p in passwords.items() if not p]
    if absent:
        raise ValueError(f"{', '.join(absent)} missing from credentials.env; `./launchcommand.sh up` generates them")
    return ensure_access(cfg, passwords)


def steps(cfg: Config, credentials: Mapping[str, str]) -> list[tuple[str, Callable[[], list[str]]]]:
    """Everything provisioning does, in order (``cfg`` logs in as the admin when auth is on): what each
    step is, and the step, which returns what it changed."""
    auth = cfg.auth_enabled
    return [
        ("buckets", lambda: ensure_buckets(cfg)),
        (f"Kafka topics (replication factor {cfg.replication_factor})", lambda: provision_topics(cfg)),
        *([("Kafka access", lambda: provision_kafka_access(cfg, credentials)),
           ("Cassandra access", lambda: ensure_cassandra_admin(cfg))] if auth else []),
        ("Cassandra schema", lambda: ensure_schema(cfg)),
        *([("Cassandra roles", lambda: ensure_cassandra_roles(cfg, credentials)),
           ("MLflow users", lambda: ensure_mlflow_users(cfg, credentials))] if auth else []),
    ]
