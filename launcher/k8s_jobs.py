"""The one-shot Jobs of the Kubernetes deployment: `python -m launcher.k8s_jobs schema|buckets`.

``schema`` logs in as the Cassandra superuser (CASSANDRA_USERNAME/CASSANDRA_PASSWORD, from the Secret
K8ssandra created it from), applies the versioned migrations with the configured replication
(NetworkTopologyStrategy on Kubernetes), then creates the component roles and their grants from
p424.security.roles, each with the password from its Secret. ``buckets`` creates the buckets with
the code native mode runs. Both are idempotent: a Job that is retried redoes nothing twice.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Mapping

from launcher.provision import ensure_buckets, existing_roles
from p424.config import Config, load_config
from p424.security.roles import ROLES, role_statements
from p424.security.secrets import CASSANDRA_PASSWORD, CASSANDRA_USERNAME, role_password_env
from p424.storage.migrate import migrate, migrations

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS \S+?\.(\w+)", re.I)


def schema_tables(keyspace: str, replication: str) -> list[str]:
    """The tables the versioned migrations create."""
    return [m.group(1) for mig in migrations() for s in mig.statements(keyspace, replication)
            for m in [_TABLE.match(s)] if m]


def role_passwords(environ: Mapping[str, str]) -> dict[str, str]:
    """Each role's password from its variable; the superuser's is the login's own."""
    out = {}
    for r in ROLES:
        name = CASSANDRA_PASSWORD if r.superuser else role_password_env(r)
        value = environ.get(name, "")
        if not value:
            raise SystemExit(f"{name} is empty: the Secret of Cassandra role {r.name} is missing or has no password")
        out[r.name] = value
    return out


def schema(cfg: Config, environ: Mapping[str, str]) -> None:
    # Imported here: only this Job needs the driver's authentication.
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    logging.getLogger("cassandra").setLevel(logging.ERROR)
    passwords = role_passwords(environ)
    auth = PlainTextAuthProvider(environ[CASSANDRA_USERNAME], environ[CASSANDRA_PASSWORD])
    deadline = time.monotonic() + cfg.service_start_timeout
    while True:  # K8ssandra may still be bringing nodes up
        cluster = Cluster([cfg.cassandra_contact], port=cfg.cassandra_port, auth_provider=auth, protocol_version=4)
        try:
            session = cluster.connect()
            break
        except Exception as err:
            cluster.shutdown()
            if time.monotonic() > deadline:
                where = f"{cfg.cassandra_contact}:{cfg.cassandra_port}"
                raise SystemExit(f"Cassandra at {where} is not reachable: {err}") from err
            time.sleep(5)
    try:
        for change in migrate(session, cfg.cassandra_keyspace, cfg.keyspace_replication):
            print(f"schema: {change}")
        statements, skipped = role_statements(
            cfg.cassandra_keyspace, passwords, schema_tables(cfg.cassandra_keyspace, cfg.keyspace_replication),
            existing=existing_roles(session))
        for st in statements:
            session.execute(st.cql, st.params, timeout=60)
        print(f"roles: {', '.join(r.name for r in ROLES)} ({len(statements)} statements)")
        for item in skipped:
            print(f"roles: skipped {item}")
    finally:
        cluster.shutdown()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["schema"], ["buckets"]):
        print("usage: python -m launcher.k8s_jobs schema|buckets", file=sys.stderr)
        return 2
    cfg = load_config()
    if args == ["schema"]:
        schema(cfg, os.environ)
    else:
        created = ensure_buckets(cfg)
        print(f"buckets: created {', '.join(created)}" if created else "buckets: all present")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
