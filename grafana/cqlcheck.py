"""Check the dashboards' CQL against the Cassandra schema, offline.

The schema is what the platform creates: the CREATE TABLE statements of the migration files plus
the catalog-derived columns (``p424.storage.schema.catalog_columns``) and the window columns of the
default maths channels (config/maths_channels.toml), which the migrator adds the same way. A query is parsed into its
table, the columns it reads (select list and WHERE clause) and its partition-key restrictions;
``problems`` lists what would fail in Cassandra or in the Cassandra datasource plugin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from p424 import derived
from p424.config import Config
from p424.storage.migrate import migrations
from p424.storage.schema import catalog_columns

# Cassandra virtual tables the health dashboard reads (columns as in Cassandra 4.1+ and 5.0).
VIRTUAL_TABLES: dict[str, dict[str, str]] = {
    "system_views.coordinator_write_latency": {
        "keyspace_name": "text",
        "table_name": "text",
        "count": "bigint",
        "max_ms": "double",
        "p50th_ms": "double",
        "p99th_ms": "double",
        "per_second": "double",
    },
}
VIRTUAL_KEYS = {"system_views.coordinator_write_latency": ["keyspace_name"]}
# Tiny tables that dashboards may scan whole (variable queries over sessions).
SCANNABLE = {"sessions"}
# Grafana and plugin macros replaced before checking, with values of the right CQL type.
_MACROS = [
    (re.compile(r"'\$\{?\w+\}?'"), "'x'"),
    (re.compile(r"\$\{\w+(?::\w+)?\}"), "0"),
    (re.compile(r"\$__\w+"), "0"),
    (re.compile(r"\$\w+"), "0"),
]
_KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "in",
    "as",
    "cast",
    "allow",
    "filtering",
    "limit",
    "per",
    "partition",
    "text",
    "int",
    "bigint",
    "double",
    "float",
    "order",
    "by",
    "asc",
    "desc",
    "distinct",
    "json",
    "true",
    "false",
    "null",
}
_IDENT = re.compile(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", re.IGNORECASE)
_SELECT = re.compile(
    r"^\s*select\s+(?P<cols>.+?)\s+from\s+(?P<table>[a-z0-9_.]+)(?:\s+where\s+(?P<where>.*?))?"
    r"(?P<filtering>\s+allow\s+filtering)?\s*$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class Table:
    name: str
    columns: dict[str, str] = field(default_factory=dict)  # column -> CQL type
    partition_key: list[str] = field(default_factory=list)


def schema(keyspace_prefix: str = "") -> dict[str, Table]:
    """Tables of the migration files (keyspace-less names) with catalog columns, plus virtual tables."""
    tables: dict[str, Table] = {}
    for m in migrations():
        for stmt in m.statements("ks", "{}"):
            head = re.match(
                r"create\s+table\s+(?:if\s+not\s+exists\s+)?ks\.(\w+)\s*\((.*)\)", stmt, re.IGNORECASE | re.DOTALL
            )
            if head:
                tables[head.group(1)] = _table(head.group(1), head.group(2))
    maths = derived.from_sources(*derived.sources(Config())).maths.names  # the built-in default files
    for table, cols in catalog_columns(maths=maths).items():
        for c in cols:
            tables[table].columns.setdefault(c, "float")
    for name, typed in VIRTUAL_TABLES.items():
        tables[name] = Table(name, dict(typed), VIRTUAL_KEYS[name])
    return tables


def split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "(<":
            depth += 1
        elif ch in ")>":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _table(name: str, body: str) -> Table:
    t = Table(name)
    for item in split_top(body.split(") WITH", maxsplit=1)[0]):
        pk = re.match(r"primary\s+key\s*\((.*)\)$", item, re.IGNORECASE | re.DOTALL)
        if pk:
            first = split_top(pk.group(1))[0].strip()
            t.partition_key = [c.strip() for c in first.strip("()").split(",")]
            continue
        col, _, typ = item.partition(" ")
        typ = typ.strip()
        if typ.lower().endswith("primary key"):
            typ = typ[: -len("primary key")].strip()
            t.partition_key = [col]
        t.columns[col] = typ
    return t


@dataclass(frozen=True)
class ParsedQuery:
    table: str
    read: frozenset[str]  # columns read anywhere
    selected_plain: tuple[str, ...]  # select items that are a bare column (returned as they are)
    restricted: frozenset[str]  # columns restricted in WHERE
    allow_filtering: bool


def parse(cql: str) -> ParsedQuery:
    text = " ".join(cql.split())
    for pattern, value in _MACROS:
        text = pattern.sub(value, text)
    m = _SELECT.match(text)
    if not m:
        raise ValueError(f"not a SELECT this checker understands: {cql!r}")
    read: set[str] = set()
    plain: list[str] = []
    for item in split_top(m.group("cols")):
        expr = re.split(r"\s+as\s+", item, flags=re.IGNORECASE)[0]
        expr_no_strings = re.sub(r"'[^']*'", "", expr)
        idents = [i for i in _IDENT.findall(expr_no_strings) if i.lower() not in _KEYWORDS]
        read.update(idents)
        if re.fullmatch(r"[a-z_][a-z0-9_]*", expr.strip(), re.IGNORECASE):
            plain.append(expr.strip())
    where = re.sub(r"'[^']*'", "''", m.group("where") or "")
    restricted = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*(?:=|>=|<=|>|<|\bin\b)", where, re.IGNORECASE))
    restricted -= _KEYWORDS
    read.update(restricted)
    return ParsedQuery(
        m.group("table"), frozenset(read), tuple(plain), frozenset(restricted), bool(m.group("filtering"))
    )


def problems(cql: str, tables: dict[str, Table]) -> list[str]:
    """What is wrong with a dashboard query against the schema (empty when it is fine)."""
    try:
        q = parse(cql)
    except ValueError as err:
        return [str(err)]
    table = tables.get(q.table)
    if table is None:
        return [f"unknown table {q.table!r}"]
    out = [f"{q.table}: unknown column {c!r}" for c in sorted(q.read) if c not in table.columns]
    for c in q.selected_plain:
        typ = table.columns.get(c, "")
        if "<" in typ:  # the plugin cannot return lists, sets or maps (wrap them in toJson)
            out.append(f"{q.table}: column {c!r} of type {typ} cannot be returned to Grafana")
    if q.restricted and not q.allow_filtering:
        missing = [k for k in table.partition_key if k not in q.restricted]
        if missing:
            out.append(f"{q.table}: partition key {missing} not restricted (a cluster-wide scan)")
    if not q.restricted and q.table not in SCANNABLE:
        out.append(f"{q.table}: no WHERE clause (a cluster-wide scan)")
    return out
