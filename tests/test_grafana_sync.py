"""grafana-sync against a local recording HTTP server that answers like Grafana's documented HTTP API:
every request must match a documented method, path and body shape; a second sync changes nothing."""

from __future__ import annotations

import argparse
import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from grafana.generate import dashboards
from grafana.queries import CASSANDRA_TYPE
from grafana.sync import SERVICE_ACCOUNT, SyncSettings, sync
from launcher.commands_grafana import cmd_grafana_sync
from p424.config import parse_env_file

# (method, path, required body keys) from Grafana's HTTP API reference (folders, data sources,
# dashboards, service accounts, organization).
DOCUMENTED: list[tuple[str, str, set[str]]] = [
    ("GET", r"/api/folders/[\w-]+", set()),
    ("POST", r"/api/folders", {"title", "uid"}),
    ("PUT", r"/api/folders/[\w-]+", {"title"}),
    ("GET", r"/api/datasources/uid/[\w-]+", set()),
    ("POST", r"/api/datasources", {"name", "type", "access", "url", "uid", "jsonData"}),
    ("PUT", r"/api/datasources/uid/[\w-]+", {"name", "type", "access", "url", "uid", "jsonData"}),
    ("GET", r"/api/dashboards/uid/[\w-]+", set()),
    ("POST", r"/api/dashboards/db", {"dashboard", "folderUid", "overwrite"}),
    ("GET", r"/api/serviceaccounts/search", set()),
    ("POST", r"/api/serviceaccounts", {"name", "role"}),
    ("GET", r"/api/serviceaccounts/\d+/tokens", set()),
    ("POST", r"/api/serviceaccounts/\d+/tokens", {"name"}),
    ("DELETE", r"/api/serviceaccounts/\d+/tokens/\d+", set()),
    ("GET", r"/api/org", set()),
]


@dataclass
class FakeGrafana:
    """Grafana's state for the endpoints above, and every request received."""

    requests: list[tuple[str, str, dict[str, Any] | None, str]] = field(default_factory=list)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any, auth: str) -> tuple[int, Any]:
        spec = next((s for s in DOCUMENTED if s[0] == method and re.fullmatch(s[1], path)), None)
        if spec is None:
            self.violations.append(f"undocumented {method} {path}")
            return 404, {"message": "not found"}
        if spec[2] and not (isinstance(body, dict) and spec[2] <= set(body)):
            self.violations.append(f"{method} {path}: body lacks {spec[2] - set(body or {})}")
        if path == "/api/org":
            ok = auth.startswith("Bearer ") and auth[7:] in self.keys
            return (200, {"id": 1, "name": "Main Org."}) if ok else (401, {"message": "invalid API key"})
        if auth != "Basic " + base64.b64encode(b"admin:secret").decode():
            return 401, {"message": "unauthorized"}
        parts = path.split("/")
        if path.startswith("/api/folders"):
            if method == "GET":
                f = self.folders.get(parts[3])
                return (200, f) if f else (404, {"message": "folder not found"})
            self.folders[body.get("uid") or parts[3]] = {"uid": body.get("uid") or parts[3], "title": body["title"]}
            return 200, self.folders[body.get("uid") or parts[3]]
        if path.startswith("/api/datasources"):
            if method == "GET":
                d = self.datasources.get(parts[4])
                return (200, {**d, "id": 7}) if d else (404, {"message": "Data source not found"})
            self.datasources[body["uid"]] = body
            return 200, {"datasource": body, "id": 7, "message": "ok"}
        if path.startswith("/api/dashboards/uid/"):
            d = self.dashboards.get(parts[4])
            return (200, d) if d else (404, {"message": "Dashboard not found"})
        if path == "/api/dashboards/db":
            assert body["dashboard"]["id"] is None
            stored = {**body["dashboard"], "id": 12, "version": 3}
            self.dashboards[stored["uid"]] = {"dashboard": stored, "meta": {"folderUid": body["folderUid"]}}
            return 200, {"status": "success", "uid": stored["uid"], "version": 3}
        if path == "/api/serviceaccounts/search":
            q = query.get("query", [""])[0]
            hits = [a for a in self.accounts if q in a["name"]]
            return 200, {"totalCount": len(hits), "serviceAccounts": hits, "page": 1, "perPage": 1000}
        if path == "/api/serviceaccounts":
            account = {"id": len(self.accounts) + 1, "name": body["name"], "role": body["role"]}
            self.accounts.append(account)
            return 201, account
        sa = int(parts[3])
        if method == "GET":
            return 200, [{"id": t["id"], "name": t["name"]} for t in self.tokens.get(sa, [])]
        if method == "POST":
            key = f"glsa_{len(self.keys) + 1:04d}"
            token = {"id": len(self.keys) + 1, "name": body["name"], "key": key}
            self.tokens.setdefault(sa, []).append(token)
            self.keys.add(key)
            return 200, token
        gone = next(t for t in self.tokens[sa] if t["id"] == int(parts[5]))
        self.tokens[sa].remove(gone)
        self.keys.discard(gone["key"])
        return 200, {"message": "Service account token deleted"}


@pytest.fixture
def grafana() -> Iterator[tuple[str, FakeGrafana]]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlparse(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
            fake.requests.append((self.command, url.path, body, self.headers.get("Content-Type", "")))
            status, answer = fake.handle(
                self.command, url.path, parse_qs(url.query), body, self.headers.get("Authorization", "")
            )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def log_message(self, fmt: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", fake
    server.shutdown()
    server.server_close()


SETTINGS = SyncSettings(cassandra_url="cassandra:9042", keyspace="telemetry", prometheus_url="http://prometheus:9090")


def test_first_sync_creates_everything_with_documented_requests(grafana: tuple[str, FakeGrafana]) -> None:
    url, fake = grafana
    result = sync(url, ("admin", "secret"), SETTINGS)
    assert fake.violations == []
    writes = [(m, p) for m, p, _, _ in fake.requests if m != "GET"]
    assert writes[0] == ("POST", "/api/folders")
    assert writes.count(("POST", "/api/datasources")) == 2
    assert writes.count(("POST", "/api/dashboards/db")) == len(dashboards())
    assert ("POST", "/api/serviceaccounts") in writes
    assert all(ct.startswith("application/json") for m, _, body, ct in fake.requests if body is not None)
    assert fake.folders == {"p424": {"uid": "p424", "title": "PERRINN 424"}}
    cassandra = fake.datasources["p424-cassandra"]
    assert cassandra["type"] == CASSANDRA_TYPE and cassandra["url"] == "cassandra:9042"
    assert cassandra["jsonData"]["keyspace"] == "telemetry"
    assert {d["meta"]["folderUid"] for d in fake.dashboards.values()} == {"p424"}
    assert fake.accounts[0]["name"] == SERVICE_ACCOUNT and fake.accounts[0]["role"] == "Admin"
    assert result.token in fake.keys


def test_second_sync_changes_nothing(grafana: tuple[str, FakeGrafana]) -> None:
    url, fake = grafana
    first = sync(url, ("admin", "secret"), SETTINGS)
    fake.requests.clear()
    again = sync(url, ("admin", "secret"), SyncSettings(**{**SETTINGS.__dict__, "existing_token": first.token}))
    assert again.changes == [] and again.token == ""
    assert [m for m, *_ in fake.requests if m != "GET"] == []
    assert fake.violations == []


def test_a_lost_token_is_replaced_and_changed_settings_are_updated(grafana: tuple[str, FakeGrafana]) -> None:
    url, fake = grafana
    first = sync(url, ("admin", "secret"), SETTINGS)
    moved = SyncSettings(
        cassandra_url="db.example:9042",
        keyspace="telemetry",
        prometheus_url="",
        live_stream="pit_wall",
        existing_token="glsa_revoked",
    )
    result = sync(url, ("admin", "secret"), moved)
    assert "updated datasource 'P424 Cassandra'" in result.changes
    assert "skipped datasource 'P424 Prometheus' (no URL configured)" in result.changes
    assert "updated dashboard 'PERRINN 424 · Live car'" in result.changes
    assert result.token and result.token != first.token
    assert fake.keys == {result.token}  # the old token was deleted
    live = fake.dashboards["p424-live-car"]["dashboard"]
    assert "stream/pit_wall/car_$car" in json.dumps(live)
    assert fake.violations == []


def test_file_provisioned_datasources_and_dashboards_are_left_alone(grafana: tuple[str, FakeGrafana]) -> None:
    """Compose provisions from files; Grafana refuses API writes to those, so sync must not try."""
    url, fake = grafana
    sync(url, ("admin", "secret"), SETTINGS)
    for ds in fake.datasources.values():
        ds["readOnly"] = True
        ds["jsonData"] = {**ds["jsonData"], "timeout": 5}
    for d in fake.dashboards.values():
        d["meta"]["provisioned"] = True
        d["dashboard"]["title"] += " (as migrated by Grafana)"
    fake.requests.clear()
    moved = SyncSettings(**{**SETTINGS.__dict__, "cassandra_url": "elsewhere:9042"})
    result = sync(url, ("admin", "secret"), moved)
    assert not [r for r in fake.requests if r[0] in ("PUT", "POST") and "/serviceaccounts" not in r[1]]
    assert not [c for c in result.changes if "datasource" in c or "dashboard" in c]


def test_the_launcher_command_stores_the_token(grafana: tuple[str, FakeGrafana], tmp_path: Path) -> None:
    url, fake = grafana
    overrides = {
        "PLATFORM_STATE_DIR": str(tmp_path),
        "GRAFANA_URL": url,
        "GRAFANA_ADMIN_PASSWORD": "secret",
        "GRAFANA_TOKEN": "",
    }
    args = argparse.Namespace(cassandra_url="", prometheus_url="")
    assert cmd_grafana_sync(args, overrides) == 0
    token = parse_env_file(tmp_path / "credentials.env")["GRAFANA_TOKEN"]
    assert token in fake.keys
    assert (tmp_path / "credentials.env").stat().st_mode & 0o777 == 0o600
    assert fake.datasources["p424-cassandra"]["url"] == "127.0.0.1:9042"
