"""Render the dashboards and provisioning files kept in the repository; ``--check`` finds stale ones.

    python -m grafana generate          # write grafana/dashboards/*.json, grafana/provisioning/**, prometheus.yml
                                        # (provisioning/alerting/ from config/alarms.toml: grafana/alerting.py)
    python -m grafana generate --check  # exit 1 if a committed file differs from what the code renders

The committed files use the built-in defaults (stream ``p424``), never the local environment, so
``--check`` gives the same answer everywhere; ``grafana-sync`` renders with the running config.
Every CQL query is checked against the schema before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grafana import alerting
from grafana.boards import health, history, laps, live_car
from grafana.boards.common import FOLDER_TITLE, FOLDER_UID, BoardSettings
from grafana.cqlcheck import problems, schema
from grafana.queries import CASSANDRA_TYPE, CASSANDRA_UID, PROMETHEUS_TYPE, PROMETHEUS_UID, register
from grafana.sdk import JSONEncoder, mdash

ROOT = Path(__file__).resolve().parent
DASHBOARD_DIR = ROOT / "dashboards"
PROVISIONING_DIR = ROOT / "provisioning"
PROMETHEUS_FILE = ROOT / "prometheus" / "prometheus.yml"
# Where compose mounts grafana/dashboards inside the Grafana container.
CONTAINER_DASHBOARDS = "/var/lib/grafana/dashboards"
COMPOSE_PROMETHEUS_URL = "http://prometheus:9090"
PROMETHEUS_TOKEN_FILE = "/etc/prometheus/metrics-token"


@dataclass(frozen=True)
class Board:
    file: str
    build: Callable[[BoardSettings], mdash.Dashboard]


BOARDS = (
    Board("live-car.json", live_car.build),
    Board("lap-analysis.json", laps.build),
    Board("session-channels.json", history.build),
    Board("platform-health.json", lambda s: health.build()),
)


# Keys the foundation SDK still writes that Grafana 12.2.1's schema no longer has (@grafana/schema
# 12.2.1: VariableModel has no auto*, only interval variables use them; the table's Options have no
# footer, which its migration moves into the field config when shown). tests/test_grafana_js.py
# type-checks the result against that schema.
_INTERVAL_ONLY = ("auto", "auto_min", "auto_count")


def _drop_keys_outside_the_schema(doc: dict[str, Any]) -> dict[str, Any]:
    for v in (doc.get("templating") or {}).get("list") or []:
        if v.get("type") != "interval":
            for key in _INTERVAL_ONLY:
                v.pop(key, None)
    stack = list(doc.get("panels") or [])
    while stack:
        p = stack.pop()
        stack.extend(p.get("panels") or [])
        footer = (p.get("options") or {}).get("footer")
        if p.get("type") == "table" and footer is not None and not footer.get("show"):
            del p["options"]["footer"]
    return doc


def dashboard_json(board: mdash.Dashboard) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(board, cls=JSONEncoder))
    return _drop_keys_outside_the_schema(doc)


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def cql_queries(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, CQL) of every Cassandra query in a dashboard: panel targets and variables."""

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for p in items:
            yield p
            yield from panels(p.get("panels") or [])

    for p in panels(doc.get("panels") or []):
        for t in p.get("targets") or []:
            if (t.get("datasource") or {}).get("type") == CASSANDRA_TYPE:
                yield f"panel {p.get('title')!r} {t.get('refId')}", str(t["target"])
    for v in (doc.get("templating") or {}).get("list") or []:
        if (v.get("datasource") or {}).get("type") == CASSANDRA_TYPE:
            yield f"variable {v['name']!r}", str(v["query"]["query"])


def dashboards(settings: BoardSettings | None = None) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON, every CQL query checked against the schema."""
    register()
    settings = settings or BoardSettings()
    tables = schema()
    out: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for b in BOARDS:
        doc = dashboard_json(b.build(settings))
        for where, cql in cql_queries(doc):
            errors += [f"{b.file}: {where}: {p}" for p in problems(cql, tables)]
        out[b.file] = doc
    if errors:
        raise ValueError("dashboard queries do not match the Cassandra schema:\n  " + "\n  ".join(errors))
    return out


# ---------------------------------------------------------------- provisioning
def datasources(cassandra_url: str, keyspace: str, prometheus_url: str,
                cassandra_login: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """The platform's datasources (provisioning file and grafana-sync use the same definitions).

    ``cassandra_login``: the role Grafana reads Cassandra as when auth is on (the read-only reader).
    The plugin takes the user from jsonData and the password from secureJsonData
    (HadesArchitect/GrafanaCassandraDatasource pkg/main.go, commit 066f577b).
    """
    login: dict[str, Any] = {}
    if cassandra_login is not None:
        login = {"secureJsonData": {"password": cassandra_login[1]}}
    return [
        {
            "name": "P424 Cassandra",
            "uid": CASSANDRA_UID,
            "type": CASSANDRA_TYPE,
            "access": "proxy",
            "url": cassandra_url,
            "isDefault": True,
            "editable": False,
            "jsonData": {"keyspace": keyspace, "consistency": "LOCAL_QUORUM", "timeout": 30,
                         **({"user": cassandra_login[0]} if cassandra_login is not None else {})},
            **login,
        },
        {
            "name": "P424 Prometheus",
            "uid": PROMETHEUS_UID,
            "type": PROMETHEUS_TYPE,
            "access": "proxy",
            "url": prometheus_url,
            "isDefault": False,
            "editable": False,
            "jsonData": {"timeInterval": "5s", "httpMethod": "POST"},
        },
    ]


def provisioning_files() -> dict[str, str]:
    """Relative path -> text, for compose: settings come from the Grafana container's environment
    (Grafana expands ${VAR} in provisioning files), Prometheus is the compose service ``prometheus``."""
    # The reader's login from the container's own auth env file (blank, so no login, with auth off).
    sources = datasources("${CASSANDRA_HOST}:${CASSANDRA_PORT}", "${CASSANDRA_KEYSPACE}", COMPOSE_PROMETHEUS_URL,
                          ("${CASSANDRA_USERNAME}", "${CASSANDRA_PASSWORD}"))
    header = "# Generated by `python -m grafana generate`; edit grafana/generate.py instead.\n"
    ds = {"apiVersion": 1, "datasources": [{**s, "orgId": 1} for s in sources]}
    providers = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "p424",
                "orgId": 1,
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": CONTAINER_DASHBOARDS, "foldersFromFilesStructure": False},
            }
        ],
    }
    # The platform's own endpoints want the scraper's bearer token (compose mounts it at this path).
    def ours() -> dict[str, Any]:
        return {"authorization": {"type": "Bearer", "credentials_file": PROMETHEUS_TOKEN_FILE}}

    scrape = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "15s"},
        "scrape_configs": [
            {"job_name": "bridge", "static_configs": [{"targets": ["bridge:9424"]}], **ours()},
            {"job_name": "grafana-live", "static_configs": [{"targets": ["grafana-live:9426"]}], **ours()},
            {"job_name": "predictor", "static_configs": [{"targets": ["predictor:9425"]}], **ours()},
            {"job_name": "flink", "static_configs": [{"targets": ["flink-jobmanager:9249", "flink-taskmanager:9249"]}]},
            {"job_name": "kafka-exporter", "static_configs": [{"targets": ["kafka-exporter:9308"]}]},
        ],
    }

    def dump(doc: dict[str, Any]) -> str:
        return header + yaml.safe_dump(doc, sort_keys=False, width=120)

    return {
        "provisioning/datasources/p424.yaml": dump(ds),
        "provisioning/dashboards/p424.yaml": dump(providers),
        "prometheus/prometheus.yml": dump(scrape),
        **alerting.provisioning_files(),
    }


def rendered() -> dict[Path, str]:
    files = {DASHBOARD_DIR / name: render_json(doc) for name, doc in dashboards().items()}
    files.update({ROOT / rel: text for rel, text in provisioning_files().items()})
    return files


def generate(check: bool = False) -> list[Path]:
    """Write the files (or, with check, only compare); returns the files that were stale."""
    stale = [p for p, text in rendered().items() if not p.exists() or p.read_text() != text]
    if not check:
        for p, text in rendered().items():
            if p in stale:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(text)
    return stale
