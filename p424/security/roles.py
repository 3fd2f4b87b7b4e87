"""Cassandra roles and their grants, and the CQL that creates them.

Each component logs in with its own role and may touch only the tables it needs; ``p424_admin``
runs the schema migrations and creates the others. The definitions are data (``ROLES``); the CQL
is rendered from them (``role_statements``), so every deployment creates the same roles.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Cassandra's own keyspace of roles, passwords and permissions.
AUTH_KEYSPACE = "system_auth"
# Cassandra's permission names (CQL GRANT); MODIFY covers INSERT, UPDATE, DELETE and TRUNCATE.
SELECT, MODIFY = "SELECT", "MODIFY"
KEYSPACE = "*"  # a grant on the whole keyspace rather than one table
# Tables a role is granted on before any migration creates them: granted once they exist.
NOT_YET_IN_SCHEMA: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class Grant:
    permissions: tuple[str, ...]
    table: str = KEYSPACE  # a table of the telemetry keyspace, or KEYSPACE


@dataclass(frozen=True, kw_only=True)
class Role:
    name: str
    grants: tuple[Grant, ...]
    superuser: bool = False
    purpose: str = ""


ROLES: tuple[Role, ...] = (
    Role(
        name="p424_admin",
        grants=(),
        # Creating roles and granting on every table needs a superuser. On Kubernetes, K8ssandra
        # creates it from its Secret (superuserSecretRef); the migration Job logs in as it.
        superuser=True,
        purpose="schema migrations and role creation",
    ),
    Role(
        name="p424_flink",
        grants=tuple(
            Grant(permissions=(MODIFY, SELECT), table=t)
            for t in (
                "sessions",
                "frame_blocks",
                "frames",
                "channel_windows",
                "laps",
                "lap_distance_profile",
                "session_quality",
                "lap_events",
                "alerts",
                "recent_alerts",
            )
        ),
        purpose="the telemetry job's sink: every table it writes",
    ),
    Role(
        name="p424_predictor",
        grants=(
            Grant(permissions=(SELECT,), table="channel_windows"),
            Grant(permissions=(SELECT,), table="sessions"),
            Grant(permissions=(MODIFY,), table="predictions"),
            Grant(permissions=(MODIFY,), table="prediction_errors"),
        ),
        purpose="live predictor: reads windows and sessions, writes predictions and their errors",
    ),
    Role(
        name="p424_airflow",
        # The archive DAG records its progress in the sessions table (archived_at, archive_version).
        grants=(Grant(permissions=(SELECT,)), Grant(permissions=(MODIFY,), table="sessions")),
        purpose="training, data-quality and archive DAGs: read everything, record archive progress",
    ),
    Role(name="p424_reader", grants=(Grant(permissions=(SELECT,)),), purpose="dashboards and analysis"),
)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _checked(name: str) -> str:
    """Identifiers go into CQL text (GRANT takes no bind markers): only plain lower-case names."""
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a plain CQL identifier (lower-case letters, digits, _)")
    return name


def role(name: str) -> Role:
    for r in ROLES:
        if r.name == name:
            return r
    raise KeyError(f"no Cassandra role {name!r}; roles: {', '.join(r.name for r in ROLES)}")


def granted_tables(roles: Iterable[Role] = ROLES) -> frozenset[str]:
    return frozenset(g.table for r in roles for g in r.grants if g.table != KEYSPACE)


@dataclass(frozen=True, kw_only=True)
class Statement:
    cql: str
    params: tuple[object, ...] = ()


def role_statements(keyspace: str, passwords: Mapping[str, str], tables: Iterable[str],
                    roles: Iterable[Role] = ROLES, existing: Iterable[str] = ()) -> tuple[list[Statement], list[str]]:
    """CQL creating each role with its password (or setting the password of one in ``existing``), then
    its grants.

    ``tables`` are those the schema has; a grant on a table it lacks is skipped and named in the
    second list (only tables in NOT_YET_IN_SCHEMA may be missing). ``existing``: the roles the cluster
    has (system_auth.roles). Idempotent: run on every deploy.
    """
    present, known = set(tables), set(existing)
    ks = _checked(keyspace)
    statements: list[Statement] = []
    skipped: list[str] = []
    for r in roles:
        name = _checked(r.name)
        if not passwords.get(r.name):
            raise ValueError(f"no password for Cassandra role {r.name}")
        superuser = "true" if r.superuser else "false"
        if r.name in known:
            # A changed Secret takes effect on the next run. Only for a role that existed before: Cassandra
            # 5 refuses a second password change within 5 s (role_password_update_min_interval_in_ms).
            statements.append(Statement(cql=f"ALTER ROLE {name} WITH PASSWORD = %s", params=(passwords[r.name],)))
        else:
            statements.append(Statement(cql=f"CREATE ROLE IF NOT EXISTS {name} WITH PASSWORD = %s AND LOGIN = true "
                                            f"AND SUPERUSER = {superuser}", params=(passwords[r.name],)))
        for grant in r.grants:
            if grant.table == KEYSPACE:
                resource = f"KEYSPACE {ks}"
            elif grant.table in present:
                resource = f"TABLE {ks}.{_checked(grant.table)}"
            elif grant.table in NOT_YET_IN_SCHEMA:
                skipped.append(f"{r.name}: {'/'.join(grant.permissions)} on {ks}.{grant.table} (no such table yet)")
                continue
            else:
                raise ValueError(f"role {r.name} is granted on {ks}.{grant.table}, which the schema does not have")
            statements.extend(Statement(cql=f"GRANT {p} ON {resource} TO {name}") for p in grant.permissions)
    return statements, skipped


def auth_replication(replication: str) -> Statement:
    """system_auth replicated like the data keyspace (``replication``: Config.keyspace_replication).

    Cassandra keeps it at one copy unless told otherwise: in a cluster, losing the node holding a
    role would lose that login even though the data keyspace (three copies) survives.
    """
    return Statement(cql=f"ALTER KEYSPACE {AUTH_KEYSPACE} WITH replication = {replication}")


def same_replication(current: Mapping[str, str], replication: str) -> bool:
    """Whether a keyspace's replication as system_schema.keyspaces holds it (the strategy's full
    class name, factors as text) is the map ``replication`` (CQL map text, short class name)."""
    try:
        wanted = ast.literal_eval(replication)
    except (ValueError, SyntaxError) as err:
        raise ValueError(f"replication {replication!r} is not a CQL map such as {{'class': ...}}") from err
    if not isinstance(wanted, dict) or "class" not in wanted:
        raise ValueError(f"replication {replication!r} names no 'class'")

    def normal(m: Mapping[str, object]) -> dict[str, str]:
        return {k: str(v).rsplit(".", 1)[-1] if k == "class" else str(v) for k, v in m.items()}

    return normal(current) == normal(wanted)
