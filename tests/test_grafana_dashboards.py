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
from launcher.compose_auth import AUTH_DIR, service_env
from p424.catalog import CATALOG, Transport
from p424.config import REPO_ROOT, Config, parse_env_file
from p424.storage.schema import catalog_columns
from tests.catalogs import channel, grown
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
    extra = channel("coolant_pressure", unit="bar", group="battery", hi=5, description="Coolant loop pressure")
    catalog = grown(extra)
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
        elif path.endswith(f"/{AUTH_DIR}/grafana.env"):  # the launcher's: every login variable (compose_auth)
            env |= set(service_env(Config(platform_auth="off"), {})["grafana"])
    text = (PROVISIONING_DIR / "datasources" / "p424.yaml").read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used == {"CASSANDRA_HOST", "CASSANDRA_PORT", "CASSANDRA_KEYSPACE", "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD"}
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


# ---------------------------------------------------------------- Session channels series
def test_history_panels_colour_laps_by_name_and_find_the_envelope_by_field_name(
    boards: dict[str, dict[str, Any]],
) -> None:
    """The plugin answers one frame per lap in random order (grafana/queries.py): laps are coloured
    by their name, and the dashed min/max lines are found by field name, whatever the display name
    (tests/test_grafana_js.py runs Grafana's own naming and matching on these panels)."""
    from grafana.boards.history import ENVELOPE, LAP_ALIAS

    history = [p for p in panels(boards["session-channels.json"]) if p["type"] == "timeseries"]
    assert len(history) == len(CATALOG.channels) - 1  # every channel but markers
    for p in history:
        (target,) = p["targets"]
        assert target["alias"] == LAP_ALIAS and target["target"].startswith("SELECT CAST(lap AS text) AS lap,")
        assert p["fieldConfig"]["defaults"]["color"] == {"mode": "palette-classic-by-name"}
        envelope = {o["matcher"]["options"]: o for o in p["fieldConfig"]["overrides"]}
        if " AS min" not in target["target"]:  # header channels: the mean only
            assert envelope == {}, p["title"]
            continue
        assert set(envelope) == set(ENVELOPE), p["title"]
        for name, o in envelope.items():
            assert o["matcher"]["id"] == "byName"
            assert f" AS {name}" in target["target"]  # the override names a column the query returns
            props = {x["id"]: x["value"] for x in o["properties"]}
            assert props["custom.lineStyle"]["fill"] == "dash" and props["custom.hideFrom"]["tooltip"] is True


# ---------------------------------------------------------------- Live panels and the track maps
def live_panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in panels(doc) if any(t.get("queryType") == "measurements" for t in p.get("targets") or [])]


def test_live_panels_ask_for_the_points_of_their_span(live: dict[str, Any]) -> None:
    """Without maxDataPoints a Live panel keeps as many points as it is wide (BoardSettings.live_points)."""
    from grafana.boards.common import LIVE_SPAN_S
    from grafana.boards.live_car import TRAIL_S

    s = BoardSettings()
    assert s.live_points(LIVE_SPAN_S) == 1201 and s.live_points(TRAIL_S) == 301
    shown = live_panels(live)
    assert len(shown) > len(CATALOG.channels)
    for p in shown:
        trail = p["type"] == "xychart"
        assert p["maxDataPoints"] == s.live_points(TRAIL_S if trail else LIVE_SPAN_S), p["title"]
    coarse = dashboard_json(live_car.build(BoardSettings(live_window_ms=200)))
    assert {p["maxDataPoints"] for p in live_panels(coarse) if p["type"] != "xychart"} == {601}


def test_the_live_track_draws_pushed_fields(live: dict[str, Any]) -> None:
    from grafana.live.lines import window_lines
    from tests.test_grafana_live import window

    (track,) = [p for p in panels(live) if p["type"] == "xychart"]
    rows = [p["title"] for p in live["panels"] if p["type"] == "row"]
    assert rows[:2] == ["Now", "Track position"]  # right under the car's numbers
    (target,) = track["targets"]
    assert target["channel"] == "stream/p424/car_$car"
    pushed = window_lines(window())[0].split(" ")[1]
    for field in target["filter"]["fields"][1:]:
        assert f"{field}=" in pushed, field
    series = track["options"]["series"][0]
    assert [series[k]["matcher"]["options"] for k in ("x", "y", "color", "size")] == [
        "position_x",
        "position_z",
        "speed",
        "sim_time",
    ]


def test_the_racing_lines_read_the_finest_stored_window_of_laps_a_and_b(boards: dict[str, dict[str, Any]]) -> None:
    from grafana.boards import laps

    def racing(doc: dict[str, Any]) -> list[dict[str, Any]]:
        return [p for p in panels(doc) if p["type"] == "xychart"]

    shown = racing(boards["lap-analysis.json"])
    assert [p["targets"][0]["target"].split("lap = ")[1].split()[0] for p in shown] == ["$lap_a", "$lap_b"]
    cql = shown[0]["targets"][0]["target"]
    assert {"position_x_last", "position_z_last", "speed_mean"} <= parse(cql).read
    assert "window_ms = 1000" in cql and "speed_mean * 3.6 AS speed" in cql
    finer = racing(dashboard_json(laps.build(BoardSettings(window_columns_ms=(1000, 250)))))
    assert all("window_ms = 250" in p["targets"][0]["target"] for p in finer)
    assert all(problems(p["targets"][0]["target"], schema()) == [] for p in finer)


def test_a_track_map_needs_the_position_channels() -> None:
    from grafana.boards import laps
    from p424.catalog import Catalog

    without = Catalog([c for c in CATALOG.channels if c.name != "position_z"], "99.0.0")
    with pytest.raises(ValueError, match=r"a track map needs the catalog channels \['position_z'\]"):
        laps.build(catalog=without)


def test_variables_and_tables_carry_no_keys_outside_grafanas_schema(boards: dict[str, dict[str, Any]]) -> None:
    """Keys the SDK writes that Grafana 12.2.1's schema dropped (tests/test_grafana_js.py type-checks the rest)."""
    for name, doc in boards.items():
        for v in doc["templating"]["list"]:
            assert not {"auto", "auto_min", "auto_count"} & set(v), (name, v["name"])
        for p in panels(doc):
            if p["type"] == "table":
                assert "footer" not in p["options"], (name, p["title"])
                assert all(
                    x["id"] != "custom.hidden" for o in p["fieldConfig"]["overrides"] for x in o["properties"]
                ), (name, p["title"])
