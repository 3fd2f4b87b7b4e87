"""The dashboards and the Live stream checked with Grafana's own published libraries, offline.

Grafana cannot run here, so these tests run its npm packages at the version of ``GRAFANA_VERSION``
(12.2.1), pinned with their dependencies by ``grafana/tests/js/package-lock.json`` and installed by
the tests (``npm ci``; Node.js 20 or newer and npm are required, a clear failure says so otherwise):

- ``@grafana/schema`` 12.2.1 ships TypeScript types only (no JSON schema, no validator), so every
  generated dashboard is type-checked with the TypeScript compiler (``typescript`` 5.9.2, the
  version @grafana/schema is built with) as a ``Dashboard``, each panel against its plugin's
  ``Options``/``FieldConfig`` and each override against the field config it sets
  (``grafana/tests/js/typecheck.cjs`` says how). A broken dashboard is rejected.
- ``@grafana/data`` 12.2.1 names, matches and colours the Session channels series
  (``applyFieldOverrides``, ``getFieldDisplayName``, ``getFieldSeriesColor``) for frames shaped as
  the Cassandra plugin returns them; the XY charts' series matchers find their fields; Live frames
  go through ``StreamingDataFrame``, the buffer behind every Live panel. It runs under jsdom, as
  Grafana's own unit tests run it.

What cannot be checked with the published packages, and why:

- The Go side: the Cassandra plugin's backend and Grafana's Live push converter are Go programs
  (no Grafana server or plugin binary can run here). Their output is modelled in
  ``tests/grafana_js.py`` from their source, cited there, and fed to the real JavaScript.
- Grafana's standard field-option registry (units, colour, ``custom.*``) and the XY chart's
  ``prepSeries`` live in Grafana's app (``public/app``), which is not published: the series check
  registers pass-through options for the ids a panel uses, and the XY check runs the matchers
  ``prepSeries`` calls (``getFieldMatcher``) rather than ``prepSeries``.
- How a panel's ``maxDataPoints`` becomes the Live buffer's size is code of the app
  (``public/app/plugins/datasource/grafana/datasource.ts``: ``maxLength = maxDataPoints ?? 500``,
  doubled with a ``buffer``; ``maxDelta`` = the buffer or the time range); the tests repeat that
  rule to build ``StreamingDataFrame``'s options.
- The 500 KiB push body limit is in the server (Go); the pusher tests check the byte cap instead.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import replace
from typing import Any

import pytest

from grafana.boards.common import LIVE_SPAN_S
from grafana.boards.live_car import TRAIL_S
from grafana.cqlcheck import split_top
from grafana.generate import BOARDS
from grafana.live.lines import Layout, body, channel_fields, line, window_lines
from p424.config import REPO_ROOT, parse_env_file
from p424.kafka.messages import ChannelStats, WindowMessage
from tests.grafana_js import JS_DIR, NODE_MODULES, dashboard, live_messages, plugin_frames, run
from tests.test_grafana_live import window

GRAFANA_VERSION = parse_env_file(REPO_ROOT / "toolchain-config.env")["GRAFANA_VERSION"]


def panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in doc["panels"]:
        out.append(p)
        out.extend(p.get("panels") or [])
    return out


def select_names(cql: str) -> list[str]:
    """Column names of a SELECT as the plugin returns them (the alias, or the bare column)."""
    items = re.match(r"\s*select\s+(.+?)\s+from\s", cql, re.IGNORECASE | re.DOTALL)
    assert items, cql
    return [re.split(r"\s+as\s+", item, flags=re.IGNORECASE)[-1].strip() for item in split_top(items.group(1))]


# ---------------------------------------------------------------- the pinned packages
def test_the_packages_are_grafanas_at_grafana_version() -> None:
    wanted = json.loads((JS_DIR / "package.json").read_text())["dependencies"]
    assert wanted["@grafana/data"] == wanted["@grafana/schema"] == GRAFANA_VERSION
    run("matchers.cjs", {"frames": [], "matchers": {}})  # installs them if missing
    for name in ("@grafana/data", "@grafana/schema"):
        installed = json.loads((NODE_MODULES / name / "package.json").read_text())
        assert installed["version"] == GRAFANA_VERSION, name
    lock = json.loads((JS_DIR / "package-lock.json").read_text())["packages"]
    assert lock["node_modules/@grafana/data"]["version"] == GRAFANA_VERSION


# ---------------------------------------------------------------- dashboards against @grafana/schema
@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return {b.file: dashboard(b.file) for b in BOARDS}


def test_every_dashboard_type_checks_against_grafanas_schema(boards: dict[str, dict[str, Any]]) -> None:
    assert run("typecheck.cjs", {"dashboards": boards}) == {name: [] for name in boards}


def _first(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    """The first panel of a kind that has overrides."""
    return next(p for p in panels(doc) if p["type"] == kind and p["fieldConfig"]["overrides"])


def test_the_type_check_rejects_broken_dashboards(boards: dict[str, dict[str, Any]]) -> None:
    history, laps = boards["session-channels.json"], boards["lap-analysis.json"]
    broken: dict[str, tuple[dict[str, Any], str]] = {}

    def case(name: str, doc: dict[str, Any], problem: str) -> dict[str, Any]:
        doc = copy.deepcopy(doc)
        broken[name] = (doc, problem)
        return doc

    envelope = _first(case("override id", history, "'\"lineStyl\"' does not exist"), "timeseries")
    envelope["fieldConfig"]["overrides"][0]["properties"][0]["id"] = "custom.lineStyl"
    envelope = _first(case("override value", history, "Type '\"dashed\"' is not assignable"), "timeseries")
    envelope["fieldConfig"]["overrides"][0]["properties"][0]["value"] = {"fill": "dashed"}
    case("dashboard field", history, "Type 'number' is not assignable to type 'string'")["refresh"] = 5
    legend = _first(case("panel option", history, "'\"showLegnd\"' does not exist"), "timeseries")
    legend["options"]["legend"]["showLegnd"] = False
    xy = _first(case("xy series", laps, "Property 'id' is missing"), "xychart")
    del xy["options"]["series"][0]["x"]["matcher"]["id"]
    _first(case("panel type", history, "'\"graph\"' is not assignable to type 'never'"), "timeseries")["type"] = "graph"

    answer = run("typecheck.cjs", {"dashboards": {name: doc for name, (doc, _) in broken.items()}})
    for name, (_, problem) in broken.items():
        assert answer[name], f"{name}: accepted"
        assert any(problem in d for d in answer[name]), (name, answer[name])


# ---------------------------------------------------------------- Session channels series
def _history_panel(doc: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in panels(doc) if p.get("title") == "speed")


def _lap_rows(laps: list[int], columns: list[str]) -> list[list[object]]:
    rows = []
    for lap in laps:
        for i in range(3):
            values = {"lap": str(lap), "ts": 1_763_868_000_000 + 1000 * i, "min": 100.0 + lap, "mean": 150.0 + lap}
            values["max"] = 200.0 + lap
            rows.append([values[c] for c in columns])
    return rows


def _series(panel: dict[str, Any], laps: list[int], *, alias: str | None = None) -> dict[tuple[str, str], Any]:
    (target,) = panel["targets"]
    columns = select_names(target["target"])
    frames = plugin_frames(columns, _lap_rows(laps, columns), target.get("alias", "") if alias is None else alias)
    answer = run("series.cjs", {"frames": frames, "fieldConfig": panel["fieldConfig"]})
    return {(a["frame"], a["field"]): a for a in answer}


def test_history_envelope_and_colours_hold_for_any_number_of_laps_in_any_order(
    boards: dict[str, dict[str, Any]],
) -> None:
    panel = _history_panel(boards["session-channels.json"])
    assert select_names(panel["targets"][0]["target"]) == ["lap", "ts", "min", "mean", "max"]
    colours: dict[str, set[str]] = {}
    for laps in ([3], [3, 4], [4, 3]):  # the plugin returns the laps' frames in random order
        series = _series(panel, laps)
        for lap in map(str, laps):
            for stat in ("min", "max"):
                custom = series[(lap, stat)]["custom"]
                assert custom["lineStyle"] == {"fill": "dash", "dash": [4, 4]}, (laps, lap, stat)
                assert custom["hideFrom"]["tooltip"] is True and custom["fillOpacity"] == 0
            assert "lineStyle" not in series[(lap, "mean")]["custom"]
            names = {series[(lap, s)]["displayName"] for s in ("min", "mean", "max")}
            assert names == {f"lap {lap}"}
            lap_colours = {series[(lap, s)]["color"] for s in ("min", "mean", "max")}
            assert len(lap_colours) == 1, (laps, lap)  # the envelope in its lap's colour
            colours.setdefault(lap, set()).update(lap_colours)
    assert all(len(c) == 1 for c in colours.values()), colours  # a lap keeps its colour


def test_the_previous_history_panel_lost_its_envelope_and_colours_with_two_laps(
    boards: dict[str, dict[str, Any]],
) -> None:
    """The panel as it was (``^min``/``^max`` patterns, no alias, palette-classic): Grafana names a
    lap's series "3 min" once two laps are shown, so the envelope was not dashed, and colours
    followed the frames' random order."""
    panel = copy.deepcopy(_history_panel(boards["session-channels.json"]))
    panel["fieldConfig"]["defaults"]["color"] = {"mode": "palette-classic"}
    for override, stat in zip(panel["fieldConfig"]["overrides"], ("min", "max"), strict=True):
        override["matcher"] = {"id": "byRegexp", "options": f"^{stat}"}
    one = _series(panel, [3], alias="")
    assert one[("3", "min")]["displayName"] == "min" and "lineStyle" in one[("3", "min")]["custom"]
    both, swapped = _series(panel, [3, 4], alias=""), _series(panel, [4, 3], alias="")
    assert both[("3", "min")]["displayName"] == "3 min"
    assert all("lineStyle" not in both[(lap, s)]["custom"] for lap in ("3", "4") for s in ("min", "max"))
    assert both[("3", "mean")]["color"] != swapped[("3", "mean")]["color"]


# ---------------------------------------------------------------- XY charts
def _xy_answer(panel: dict[str, Any], frames: list[dict[str, Any]]) -> dict[str, list[str]]:
    (series,) = panel["options"]["series"]
    matchers = {k: series[k]["matcher"] for k in ("x", "y", "color", "size") if k in series}
    answer: dict[str, list[str]] = run(
        "matchers.cjs", {"frames": frames, "matchers": matchers, "frame": series["frame"]["matcher"]}
    )
    return answer


def test_the_racing_lines_find_position_and_speed_in_the_plugins_answer(boards: dict[str, dict[str, Any]]) -> None:
    xy = [p for p in panels(boards["lap-analysis.json"]) if p["type"] == "xychart"]
    assert [p["title"] for p in xy] == ["Racing line · lap A", "Racing line · lap B"]
    for panel in xy:
        (target,) = panel["targets"]
        columns = select_names(target["target"])
        rows = [
            [
                {"lap": "3", "ts": 1_763_868_000_000 + 1000 * i, "speed": 212.0 - i}.get(c, 100.0 * i - 50)
                for c in columns
            ]
            for i in range(3)
        ]
        answer = _xy_answer(panel, plugin_frames(columns, rows))
        assert answer == {"x": ["position_x"], "y": ["position_z"], "color": ["speed"]}, panel["title"]


def _stream(lines: list[list[str]], measurement: str) -> list[dict[str, Any]]:
    return live_messages([body(batch) for batch in lines], measurement)


def _windows(n: int, start_ms: int, **changes: Any) -> list[WindowMessage]:
    base = window()
    return [
        replace(base, ts_ms=start_ms + 100 * i, window_start=base.window_start + (start_ms + 100 * i) / 1000, **changes)
        for i in range(n)
    ]


def test_the_live_track_finds_its_fields_in_the_pushed_frames(boards: dict[str, dict[str, Any]]) -> None:
    (panel,) = [p for p in panels(boards["live-car.json"]) if p["type"] == "xychart"]
    (target,) = panel["targets"]
    assert target["buffer"] == TRAIL_S * 1000
    msg = _stream([[x for w in _windows(3, 1_763_868_000_000) for x in window_lines(w)]], "car_7")[0]
    keep = set(target["filter"]["fields"])  # the Live query keeps these fields
    names = [f["name"] for f in msg["schema"]["fields"]]
    kept = [i for i, n in enumerate(names) if n in keep]
    assert {names[i] for i in kept} == keep  # every field the panel asks for is pushed
    frame = {
        "name": "car_7",
        "fields": [
            {"name": names[i], "type": msg["schema"]["fields"][i]["type"], "values": msg["data"]["values"][i]}
            for i in kept
        ],
    }
    answer = _xy_answer(panel, [frame])
    assert answer == {"x": ["position_x"], "y": ["position_z"], "color": ["speed"], "size": ["sim_time"]}


# ---------------------------------------------------------------- Live buffers
def _buffer(messages: list[dict[str, Any]], max_length: int, max_delta: float | None) -> dict[str, Any]:
    answer: dict[str, Any] = run(
        "streaming.cjs", {"options": {"maxLength": max_length, "maxDelta": max_delta}, "messages": messages}
    )
    return answer


def _old_lines(msg: WindowMessage) -> list[str]:
    """What the pusher sent before: fields it could not represent (NaN, absent) left out."""
    fields = {k: v for k, v in channel_fields(msg).items() if not (isinstance(v, float) and not math.isfinite(v))}
    return [line(Layout(msg.car_id).channels, fields, msg.ts_ms * 1_000_000)]


def test_a_constant_field_set_keeps_the_live_buffer_across_pushes() -> None:
    nan = ChannelStats(min=math.nan, max=math.nan, mean=math.nan, last=math.nan)
    start = 1_763_868_000_000
    gap = {**window().channels, "speed": nan}
    gap.pop("throttle")
    batches = [_windows(5, start), _windows(5, start + 500, channels=gap), _windows(5, start + 1000)]
    messages = _stream([[x for w in b for x in window_lines(w)] for b in batches], "car_7")
    assert "schema" in messages[0] and all("schema" not in m for m in messages[1:])  # one schema throughout
    answer = _buffer(messages, 1201, 120_000)
    assert [p["length"] for p in answer["pushes"]] == [5, 10, 15]
    assert [p["schemaChanged"] for p in answer["pushes"]] == [True, False, False]
    speed = answer["values"]["speed"]
    assert speed[5:10] == [None] * 5 and all(isinstance(v, float) for v in speed[:5] + speed[10:])
    assert answer["values"]["throttle"][5:10] == [None] * 5


def test_a_changing_field_set_empties_the_live_buffer() -> None:
    """The pusher as it was: a window whose speed is NaN dropped the field, the schema changed and
    every panel of the car started again from an empty buffer."""
    nan = ChannelStats(min=math.nan, max=math.nan, mean=math.nan, last=math.nan)
    start = 1_763_868_000_000
    batches = [
        _windows(5, start),
        _windows(5, start + 500, channels={**window().channels, "speed": nan}),
        _windows(5, start + 1000),
    ]
    messages = _stream([[x for w in b for x in _old_lines(w)] for b in batches], "car_7")
    answer = _buffer(messages, 1201, 120_000)
    assert [p["length"] for p in answer["pushes"]] == [5, 5, 5]
    assert [p["schemaChanged"] for p in answer["pushes"]] == [True, True, True]


def _live_span_s(max_length: int, max_delta: float | None, seconds: int) -> float:
    """Seconds a Live buffer holds after ``seconds`` of windows pushed once a second."""
    start = 1_763_868_000_000
    per_push = 1000 // 100
    slim = ChannelStats(min=1.0, max=3.0, mean=2.0, last=2.5)
    batches = [
        [
            x
            for w in _windows(per_push, start + 1000 * s, channels={"speed": slim}, quality=None)
            for x in window_lines(w)
        ]
        for s in range(seconds)
    ]
    answer = _buffer(_stream(batches, "car_7"), max_length, max_delta)
    times = answer["values"]["time"]
    return float((times[-1] - times[0]) / 1000)


def test_live_panels_keep_their_whole_span(boards: dict[str, dict[str, Any]]) -> None:
    """datasource.ts: maxLength = the panel's maxDataPoints (its width in pixels when unset),
    maxDelta = the time range (``now-2m``); with a ``buffer`` the buffer and twice maxDataPoints."""
    live = boards["live-car.json"]
    assert live["time"]["from"] == f"now-{LIVE_SPAN_S // 60}m"
    speed = next(p for p in panels(live) if p.get("title") == "speed")
    assert _live_span_s(speed["maxDataPoints"], LIVE_SPAN_S * 1000, 150) == pytest.approx(LIVE_SPAN_S)
    assert _live_span_s(400, LIVE_SPAN_S * 1000, 150) < 40  # a 400 px panel without maxDataPoints
    (track,) = [p for p in panels(live) if p["type"] == "xychart"]
    assert _live_span_s(2 * track["maxDataPoints"], track["targets"][0]["buffer"], 60) == pytest.approx(TRAIL_S)
