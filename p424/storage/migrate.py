"""Idempotent schema migration: versioned CQL files, then catalog-derived columns.

Each file in ``cql/`` is applied once, in version order, and recorded with its checksum in
``schema_migrations``; an applied file whose checksum changed is an error (write a new version
instead). Catalog columns are reconciled on every run with ``ALTER TABLE ... ADD IF NOT EXISTS``,
so adding a channel to the catalog needs no hand-written migration; so are the window columns of
the maths channels the caller names (the configured maths file), which are only ever added: rows
written under an older maths file keep their columns, and the blob names its own channels. Table
options that follow a setting (the retention TTLs, ``p424.storage.retention``) are reconciled the
same way, on every run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template

from cassandra.cluster import Session

from p424.catalog import CATALOG, Catalog
from p424.storage.retention import Retention
from p424.storage.schema import catalog_columns

CQL_DIR = Path(__file__).parent / "cql"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.cql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def statements(self, keyspace: str, replication: str) -> list[str]:
        body = Template(self.text).substitute(keyspace=keyspace, replication=replication)
        body = "\n".join(line.split("--", 1)[0] for line in body.splitlines())
        return [s.strip() for s in body.split(";") if s.strip()]


def migrations(directory: Path = CQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.cql")):
        m = _FILE.match(path.name)
        if not m:
            raise ValueError(f"{path.name}: migration files are named NNNN_name.cql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    return found


class MigrationError(RuntimeError):
    pass


def migrate(
    session: Session,
    keyspace: str,
    replication: str,
    catalog: Catalog = CATALOG,
    maths: Iterable[str] = (),
    retention: Retention | None = None,
) -> list[str]:
    """Bring the keyspace up to date; returns a description of what changed (empty if nothing).

    ``retention`` None leaves the tables' TTLs as they are."""
    changes: list[str] = []
    pending = migrations()
    # The first file creates the keyspace and the bookkeeping table, so it may run before we can read it.
    applied: dict[int, str] = {}
    if keyspace in session.cluster.metadata.keyspaces:
        tables = session.cluster.metadata.keyspaces[keyspace].tables
        if "schema_migrations" in tables:
            applied = {
                r.version: r.checksum
                for r in session.execute(f"SELECT version, checksum FROM {keyspace}.schema_migrations")
            }
    for m in pending:
        if m.version in applied:
            if applied[m.version] != m.checksum:
                raise MigrationError(
                    f"migration {m.version:04d}_{m.name}.cql changed after it was applied; add a new migration file "
                    "instead"
                )
            continue
        for stmt in m.statements(keyspace, replication):
            session.execute(stmt, timeout=60)
        session.execute(
            f"INSERT INTO {keyspace}.schema_migrations (version, name, checksum, applied_at) VALUES (%s, %s, %s, %s)",
            (m.version, m.name, m.checksum, datetime.now(UTC)),
        )
        changes.append(f"applied {m.version:04d}_{m.name}")
    changes.extend(reconcile_catalog_columns(session, keyspace, catalog, maths))
    if retention is not None:
        changes.extend(reconcile_retention(session, keyspace, retention))
    return changes


def reconcile_retention(session: Session, keyspace: str, retention: Retention) -> list[str]:
    """Set each expiring table's ``default_time_to_live`` to the configured retention."""
    session.cluster.refresh_schema_metadata()
    tables = session.cluster.metadata.keyspaces[keyspace].tables
    changes = []
    for table, ttl in retention.table_ttls().items():
        if int(tables[table].options.get("default_time_to_live") or 0) == ttl:
            continue
        session.execute(f"ALTER TABLE {keyspace}.{table} WITH default_time_to_live = {int(ttl)}", timeout=60)
        changes.append(f"{table} rows now expire after {ttl} s" if ttl else f"{table} rows no longer expire")
    return changes


def reconcile_catalog_columns(
    session: Session, keyspace: str, catalog: Catalog = CATALOG, maths: Iterable[str] = ()
) -> list[str]:
    session.cluster.refresh_schema_metadata()
    tables = session.cluster.metadata.keyspaces[keyspace].tables
    changes = []
    for table, columns in catalog_columns(catalog, maths).items():
        missing = [c for c in columns if c not in tables[table].columns]
        if not missing:
            continue
        cols = ", ".join(f"{c} float" for c in missing)
        session.execute(f"ALTER TABLE {keyspace}.{table} ADD IF NOT EXISTS ({cols})", timeout=60)
        changes.append(f"added {len(missing)} catalog columns to {table}")
    return changes
