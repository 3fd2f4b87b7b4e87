"""Provision a running Grafana through its HTTP API (grafana-client), idempotently.

Creates or updates, in order: the folder, the datasources, the dashboards (only those whose JSON
differs), and the service account of the Live pusher with a token. A token cannot be read back
from Grafana, so an existing one is kept while it still authenticates; otherwise a new one is
created (older tokens of ours are deleted) and returned for the caller to store. Datasources and
dashboards that Grafana loaded from provisioning files (compose) are left alone: the files own them
and Grafana refuses API writes to them.

Requests (Grafana HTTP API): GET/POST /api/folders[/:uid], PUT /api/folders/:uid;
GET /api/datasources/uid/:uid, POST /api/datasources, PUT /api/datasources/uid/:uid;
GET /api/dashboards/uid/:uid, POST /api/dashboards/db; GET /api/serviceaccounts/search,
POST /api/serviceaccounts, GET|POST /api/serviceaccounts/:id/tokens,
DELETE /api/serviceaccounts/:id/tokens/:tokenId; GET /api/org (token check).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from grafana.boards.common import FOLDER_TITLE, FOLDER_UID, BoardSettings
from grafana.generate import dashboards, datasources

SERVICE_ACCOUNT = "p424-grafana-live"
# Pushing to /api/live/push needs an org admin (the endpoint is restricted to admins).
SERVICE_ACCOUNT_ROLE = "Admin"


@dataclass(frozen=True)
class SyncSettings:
    cassandra_url: str  # host:port of Cassandra as Grafana reaches it (';' between the nodes of a cluster)
    keyspace: str
    prometheus_url: str = ""  # empty: no Prometheus datasource (the health dashboard needs one)
    live_stream: str = "p424"
    window_columns_ms: tuple[int, ...] = (1000,)
    live_window_ms: int = 100
    existing_token: str = ""  # GRAFANA_TOKEN, kept while it still works
    cassandra_login: tuple[str, str] | None = None  # the reader role's, when auth is on


@dataclass
class SyncResult:
    changes: list[str] = field(default_factory=list)
    token: str = ""  # a new token to store; empty when the existing one was kept


def _missing(err: GrafanaClientError) -> bool:
    return int(getattr(err, "status_code", 0) or 0) == 404


def _get(fetch: Callable[..., Any], *args: object) -> Any:
    """The resource, or None when Grafana answers 404."""
    try:
        return fetch(*args)
    except GrafanaClientError as err:
        if _missing(err):
            return None
        raise


def sync_folder(api: Any, result: SyncResult) -> None:
    folder = _get(api.folder.get_folder, FOLDER_UID)
    if folder is None:
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        result.changes.append(f"created folder {FOLDER_TITLE!r}")
    elif folder.get("title") != FOLDER_TITLE:
        api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        result.changes.append(f"renamed folder to {FOLDER_TITLE!r}")


def _differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    # Grafana never returns secureJsonData (only which keys are set, secureJsonFields).
    if "secureJsonData" in wanted and set(current.get("secureJsonFields") or {}) != set(wanted["secureJsonData"]):
        return True
    return any(current.get(k) != v for k, v in wanted.items() if k not in ("editable", "secureJsonData"))


def sync_datasources(api: Any, s: SyncSettings, result: SyncResult) -> None:
    for ds in datasources(s.cassandra_url, s.keyspace, s.prometheus_url, s.cassandra_login):
        if not ds["url"]:
            result.changes.append(f"skipped datasource {ds['name']!r} (no URL configured)")
            continue
        current = _get(api.datasource.get_datasource_by_uid, ds["uid"])
        if current is None:
            api.datasource.create_datasource(ds)
            result.changes.append(f"created datasource {ds['name']!r}")
        elif current.get("readOnly"):
            continue  # provisioned from files (compose): Grafana refuses API updates; the files own it
        elif _differs(current, ds):
            api.datasource.update_datasource_by_uid(ds["uid"], ds)
            result.changes.append(f"updated datasource {ds['name']!r}")


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    # Grafana adds its own id and version to stored dashboards.
    return {k: v for k, v in doc.items() if k not in ("id", "version")}


def sync_dashboards(api: Any, s: SyncSettings, result: SyncResult) -> None:
    boards = BoardSettings(
        live_stream=s.live_stream, window_columns_ms=s.window_columns_ms, live_window_ms=s.live_window_ms
    )
    for doc in dashboards(boards).values():
        current = _get(api.dashboard.get_dashboard, doc["uid"])
        if current is not None and current.get("meta", {}).get("provisioned"):
            continue  # provisioned from files (compose): the committed JSON is what Grafana serves
        in_folder = current is not None and current.get("meta", {}).get("folderUid") == FOLDER_UID
        if in_folder and _comparable(current["dashboard"]) == _comparable(doc):
            continue
        api.dashboard.update_dashboard(
            {
                "dashboard": {**doc, "id": None},
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "grafana-sync from the channel catalog",
            }
        )
        result.changes.append(f"{'updated' if current else 'created'} dashboard {doc['title']!r}")


def token_works(url: str, token: str) -> bool:
    if not token:
        return False
    try:
        client: Any = GrafanaApi.from_url(url, credential=token)
        client.client.GET("/org")
        return True
    except GrafanaClientError:
        return False


def sync_service_account(api: Any, url: str, s: SyncSettings, result: SyncResult) -> None:
    found = api.client.GET("/serviceaccounts/search", params={"query": SERVICE_ACCOUNT})
    account = next((a for a in found.get("serviceAccounts", []) if a.get("name") == SERVICE_ACCOUNT), None)
    if account is None:
        account = api.client.POST(
            "/serviceaccounts", json={"name": SERVICE_ACCOUNT, "role": SERVICE_ACCOUNT_ROLE, "isDisabled": False}
        )
        result.changes.append(f"created service account {SERVICE_ACCOUNT!r}")
    elif token_works(url, s.existing_token):
        return
    sa_id = account["id"]
    old = api.serviceaccount.get_tokens(sa_id)
    created = api.serviceaccount.create_token(sa_id, {"name": f"{SERVICE_ACCOUNT}-{int(time.time())}"})
    for t in old:
        if str(t.get("name", "")).startswith(SERVICE_ACCOUNT):
            api.serviceaccount.delete_token(sa_id, t["id"])
    result.token = str(created["key"])
    result.changes.append(f"created a token for {SERVICE_ACCOUNT!r} (replacing {len(old)})")


def sync(url: str, credential: tuple[str, str] | str, s: SyncSettings) -> SyncResult:
    api: Any = GrafanaApi.from_url(url, credential=credential)  # grafana-client is untyped
    result = SyncResult()
    sync_folder(api, result)
    sync_datasources(api, s, result)
    sync_dashboards(api, s, result)
    sync_service_account(api, url, s, result)
    return result
