"""Dashboards as code: catalog coverage, units and ranges, CQL against the schema (offline and in the
running Cassandra), the foundation SDK's own model, committed files current, compose mounts."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana.boards import live_car
from grafana.boards.common import BoardSettings
from grafana.cqlcheck import parse, problems, schema
from grafana.generate import (
    BOARDS,
    CONTAINER_DASHBOARDS,
    DASHBOARD_DIR,
    PROVISIONING_DIR,
    cql_queries,
    dashboard_json,
    dashboards,
    generate,
    provisioning_files,
)
from grafana.queries import CASSANDRA_TYPE, CassandraQuery, LiveQuery, register
from grafana.sdk import mdash, prometheus_model
from grafana.units import channel_unit, display_range
from p424.catalog import CATALOG, Catalog, Channel, Transport
from p424.config import REPO_ROOT, Config, parse_env_file
from p424.storage.schema import catalog_columns
from tests.helpers import Stack

COMPOSE = REPO_ROOT / "compose" / "docker-compose.yml"


def panels(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in doc["panels"]:
        yield p
        yield from p.get("panels") or []


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return dashboards()


@pytest.fixture(scope="module")
def live(boards: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return boards["live-car.json"]


# ---------------------------------------------------------------- catalog coverage
def test_every_catalog_channel_has_a_live_panel(live: dict[str, Any]) -> None:
    by_title = {p["title"]: p for p in panels(live)}
    for c in CATALOG.channels:
        title = c.name.replace("_", " ")
        panel = next((p for t, p in by_title.items() if t == title or t.startswith(title + " (")), None)
        assert panel is not None, f"no panel for channel {c.name}"
        (target,) = panel["targets"]
        if c.name == "markers":  # frame-level: read from the frames table
            assert "markers" in parse(target["target"]).read
        else:
            assert target["queryType"] == "measurements"
            assert target["channel"] == "stream/p424/car_$car"
            assert target["filter"]["fields"] == ["time", c.name]


def test_channel_panels_use_catalog_units_and_ranges(live: dict[str, Any]) -> None:
    by_title = {p["title"]: p for p in panels(live)}
    for c in CATALOG.payload_channels:
        defaults = by_title[c.name.replace("_", " ")]["fieldConfig"]["defaults"]
        lo, hi = display_range(c)
        assert defaults["unit"] == channel_unit(c), c.name
        assert (defaults["min"], defaults["max"]) == pytest.approx((lo, hi)), c.name
    speed = by_title["speed"]["fieldConfig"]["defaults"]
    assert speed["unit"] == "velocitykmh" and speed["max"] == pytest.approx(360.0)
    assert by_title["throttle"]["fieldConfig"]["defaults"]["unit"] == "percent"


def test_live_dashboard_is_grouped_by_catalog_group_and_refreshes_live(live: dict[str, Any]) -> None:
    rows = [p["title"] for p in live["panels"] if p["type"] == "row"]
    for group in CATALOG.groups():
        assert f"Channels: {group}" in rows
    assert live["refresh"] == "1s" and live["liveNow"] is True
    assert [v["name"] for v in live["templating"]["list"]][:2] == ["car", "session"]
    ids = [p["id"] for p in panels(live)]
    assert len(ids) == len(set(ids))


def test_adding_a_channel_adds_its_panel() -> None:
    extra = Channel(
        name="coolant_pressure", unit="bar", group="battery", lo=0, hi=5, description="Coolant loop pressure",
        sim_name="CoolantPressure",
    )
    catalog = Catalog((*CATALOG.channels, extra))
    doc = dashboard_json(live_car.build(BoardSettings(), catalog))
    (panel,) = [p for p in panels(doc) if p["title"] == "coolant pressure"]
    assert panel["fieldConfig"]["defaults"]["unit"] == "pressurebar"
    assert panel["targets"][0]["filter"]["fields"] == ["time", "coolant_pressure"]


def test_live_stream_name_follows_the_setting() -> None:
    doc = dashboard_json(live_car.build(BoardSettings(live_stream="pit_wall")))
    channels = {t["channel"] for p in panels(doc) for t in p.get("targets") or [] if "channel" in t}
    assert channels == {
        "stream/pit_wall/car_$car",
        "stream/pit_wall/car_${car}_quality",
        "stream/pit_wall/car_${car}_prediction",
    }


# ---------------------------------------------------------------- CQL against the schema
def all_queries(boards: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f"{name}: {where}", cql) for name, doc in boards.items() for where, cql in cql_queries(doc)]


def test_every_cql_query_matches_the_schema_files(boards: dict[str, dict[str, Any]]) -> None:
    tables = schema()
    queries = all_queries(boards)
    assert len(queries) > len(CATALOG.payload_channels)  # every channel's history, laps, quality, ...
    for where, cql in queries:
        assert problems(cql, tables) == [], where
    read = {(parse(cql).table, col) for _, cql in queries for col in parse(cql).read}
    # catalog-derived columns are really used
    for col in catalog_columns()["channel_windows"]:
        if col.endswith(("_min", "_mean", "_max")):
            assert ("channel_windows", col) in read, col


def test_history_offers_only_the_window_sizes_stored_with_columns(boards: dict[str, dict[str, Any]]) -> None:
    """Other window sizes keep their stats packed in a blob, which CQL panels cannot read."""
    [window] = [v for v in boards["session-channels.json"]["templating"]["list"] if v["name"] == "window"]
    assert {int(w) for w in window["query"].split(",")} == Config().window_column_sizes
    assert window["current"]["value"] == str(max(Config().window_column_sizes))


def test_the_schema_check_rejects_what_cassandra_or_the_plugin_would() -> None:
    tables = schema()
    assert problems("SELECT session_id, nope FROM laps WHERE session_id = $session", tables) == [
        "laps: unknown column 'nope'"
    ]
    assert problems("SELECT x FROM nowhere WHERE a = 1", tables) == ["unknown table 'nowhere'"]
    assert "cannot be returned" in problems("SELECT session_id, sector_times FROM laps WHERE session_id = 1", tables)[0]
    assert "not restricted" in problems("SELECT lap, ts FROM channel_windows WHERE session_id = 1", tables)[0]
    assert "no WHERE" in problems("SELECT lap FROM laps", tables)[0]
    assert (
        problems(
            "SELECT speed_mean * 3.6 AS v FROM channel_windows WHERE session_id = 1 AND window_ms = 1 "
            "AND lap = 1 AND part = 0",
            tables,
        )
        == []
    )


def substitute(cql: str, values: dict[str, str]) -> str:
    cql = cql.replace("${lap:csv}", values["laps"]).replace("${month:singlequote}", values["months"])
    for quoted in ("keyspace", "model"):
        cql = cql.replace(f"'${{{quoted}}}'", f"'{values[quoted]}'")
    for name in sorted(values, key=len, reverse=True):
        cql = cql.replace(f"${name}", values[name])
    assert "$" not in cql, cql
    return cql


@pytest.mark.platform
def test_every_cql_query_runs_against_the_live_cassandra(stack: Stack, boards: dict[str, dict[str, Any]]) -> None:
    """The running Cassandra's metadata has every table and column, and every query executes."""
    store = stack.store
    ks = stack.cfg.cassandra_keyspace
    meta = store.session.cluster.metadata.keyspaces[ks].tables
    rows = store.sessions()
    assert rows, "the stack has no session yet"
    sid = rows[0]["session_id"]
    laps = [r["lap"] for r in store.laps(sid)] or [0]
    values = {
        "session": str(sid),
        "car": str(rows[0]["car_id"] or 1),
        "window": "1000",
        "lap_a": str(laps[0]),
        "lap_b": str(laps[-1]),
        "laps": ", ".join(map(str, laps)),
        "bucket": "0",
        "keyspace": ks,
        "__timeFrom": "0",
        "__timeTo": str(int(time.time() * 1000)),
        "model": stack.cfg.model_name,
        "months": f"'{time.strftime('%Y-%m')}'",
    }
    for where, cql in all_queries(boards):
        q = parse(cql)
        if "." not in q.table:
            assert q.table in meta, where
            assert q.read <= set(meta[q.table].columns), (where, sorted(q.read - set(meta[q.table].columns)))
        store.session.execute(substitute(cql, values), timeout=30)


# ---------------------------------------------------------------- the SDK's own model
def test_generated_json_loads_with_the_foundation_sdk_model() -> None:
    register()
    for board in BOARDS:
        doc = json.loads((DASHBOARD_DIR / board.file).read_text())
        model = mdash.Dashboard.from_json(doc)
        assert model.uid == doc["uid"] and model.panels
        # Unmarshalled and marshalled again, the model gives back exactly the file.
        assert dashboard_json(model) == doc, board.file
        kinds = set()
        for p in model.panels:
            assert isinstance(p, mdash.Panel | mdash.RowPanel)
            for t in getattr(p, "targets", None) or []:
                kinds.add(type(t))
        assert kinds <= {CassandraQuery, LiveQuery, prometheus_model.Dataquery}, kinds
        assert kinds, board.file


def test_committed_files_are_current() -> None:
    assert generate(check=True) == []


# ---------------------------------------------------------------- provisioning vs compose
def compose_grafana() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    service: dict[str, Any] = doc["services"]["grafana"]
    return service


def test_compose_mounts_what_the_provisioning_expects() -> None:
    service = compose_grafana()
    mounts = {v["source"]: v["target"] for v in service["volumes"] if isinstance(v, dict) and v.get("type") == "bind"}
    assert mounts["grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["grafana/dashboards"] == CONTAINER_DASHBOARDS
    assert (REPO_ROOT / "grafana/provisioning") == PROVISIONING_DIR and (
        REPO_ROOT / "grafana/dashboards"
    ) == DASHBOARD_DIR
    providers = yaml.safe_load((PROVISIONING_DIR / "dashboards" / "p424.yaml").read_text())["providers"]
    assert [p["options"]["path"] for p in providers] == [CONTAINER_DASHBOARDS]
    assert "hadesarchitect-cassandra-datasource" in str(service["environment"].get("GF_PLUGINS_PREINSTALL_SYNC", ""))


def test_provisioning_variables_are_defined_in_the_grafana_container() -> None:
    service = compose_grafana()
    env = set(service["environment"])
    for item in service.get("env_file") or []:
        path = item["path"] if isinstance(item, dict) else item
        if "${" not in path:
            env |= set(parse_env_file(REPO_ROOT / path))
    text = (PROVISIONING_DIR / "datasources" / "p424.yaml").read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used == {"CASSANDRA_HOST", "CASSANDRA_PORT", "CASSANDRA_KEYSPACE"}
    assert used <= env, used - env
    sources = yaml.safe_load(text)["datasources"]
    assert {s["type"] for s in sources} == {CASSANDRA_TYPE, "prometheus"}
    # the generated files on disk are exactly what the generator renders
    for rel, rendered in provisioning_files().items():
        assert (Path(PROVISIONING_DIR.parent) / rel).read_text() == rendered


def test_prometheus_scrapes_the_bridge_metrics_port() -> None:
    scrape = yaml.safe_load((PROVISIONING_DIR.parent / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in scrape["scrape_configs"] for cfg in job["static_configs"] for t in cfg["targets"]}
    defaults = parse_env_file(REPO_ROOT / "toolchain-config.env")
    assert f"bridge:{defaults['BRIDGE_HTTP_PORT']}" in targets
    assert "grafana-live:9426" in targets


def test_header_channels_without_window_columns_are_only_markers() -> None:
    from grafana.boards.history import channel_query

    missing = [c.name for c in CATALOG.channels if channel_query(c) is None]
    assert missing == ["markers"]
    assert all(c.transport is Transport.HEADER for c in CATALOG.channels if c.name in missing)
