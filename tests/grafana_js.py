"""Grafana's published npm packages, run with Node.js, and models of the two Go steps in front of
them that cannot run here.

``run(script, request)`` runs one of the checks in ``grafana/tests/js`` (a JSON request on stdin,
a JSON answer on stdout) after making sure the packages pinned by ``grafana/tests/js/package-lock.json``
are installed there (``npm ci``, once; again when the lock file changes).

The models (pure functions, used to build the checks' input):

- ``plugin_frames``: what the Cassandra datasource plugin returns for a raw CQL query
  (HadesArchitect/GrafanaCassandraDatasource v3.2.0, commit 2aaa81a5): rows grouped by the first
  column into one frame each, named by its value (``pkg/cassandra/session.go`` ``Select``); fields in
  select order; the query's alias, ``{{column}}`` filled from the frame's first row, set as
  ``displayNameFromDS`` of the numeric fields (``pkg/plugin/plugin.go`` ``makeDataFrameFromRows``,
  ``formatAlias``).
- ``live_messages``: what Grafana Live publishes for a push of line protocol in its default
  ``labels_column`` format (grafana/grafana ``pkg/services/live/telemetry/telegraf/convert.go``
  ``convertWithLabelsColumn``/``append``/``getFieldTypeAndValue`` with float64 numbers, as
  ``pkg/services/live/convert/convert.go`` configures it): one frame per measurement with fields
  ``labels``, ``time`` and then every field in order of first appearance (each line's fields sorted
  by name), all nullable; a string ``"NaN"`` becomes a null float; a value of another type than its
  field's becomes null (a string field keeps it as text); missing values are null. The stream sends
  the schema with a frame only when it differs from the previous one
  (``pkg/services/live/managedstream/runner.go`` ``Push``). Frames are encoded as the plugin SDK's
  ``data.FrameToJSON`` does (schema fields ``name``/``type``, time values in epoch milliseconds).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from typing import Any

import line_protocol_parser as lpp
import pytest

from p424.config import REPO_ROOT

JS_DIR = REPO_ROOT / "grafana" / "tests" / "js"
NODE_MODULES = JS_DIR / "node_modules"
_STAMP = NODE_MODULES / ".p424-lock-sha256"
_MIN_NODE = 20


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found on PATH: these tests run Grafana's own npm packages (@grafana/data, "
            f"@grafana/schema, pinned in {JS_DIR.relative_to(REPO_ROOT)}/package-lock.json) with Node.js "
            f"{_MIN_NODE} or newer and npm; install them (Debian: apt-get install nodejs npm)"
        )
    return path


def ensure_installed() -> str:
    """The path of ``node``, with the pinned packages installed in grafana/tests/js/node_modules."""
    node = _tool("node")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    if major < _MIN_NODE:
        pytest.fail(f"Node.js {version} is too old for these checks: {_MIN_NODE} or newer is needed")
    lock = hashlib.sha256((JS_DIR / "package-lock.json").read_bytes()).hexdigest()
    with open(JS_DIR / ".install.lock", "w") as guard:  # one installer at a time (git-ignored)
        fcntl.flock(guard, fcntl.LOCK_EX)
        if _STAMP.exists() and _STAMP.read_text() == lock:
            return node
        npm = _tool("npm")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci in {JS_DIR} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        _STAMP.write_text(lock)
    return node


def run(script: str, request: Any) -> Any:
    """Run ``grafana/tests/js/<script>`` with ``request`` as JSON; its JSON answer."""
    node = ensure_installed()
    done = subprocess.run(
        [node, str(JS_DIR / script)],
        input=json.dumps(request),
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"node {script} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


# ---------------------------------------------------------------- the Cassandra plugin's frames
_ALIAS = re.compile(r"\{\{\s*(.+?)\s*\}\}")


def _grafana_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def plugin_frames(columns: Sequence[str], rows: Iterable[Sequence[object]], alias: str = "") -> list[dict[str, Any]]:
    """Frames of a raw CQL answer (``columns``, ``rows``; a column named ``ts`` is a time in epoch ms)."""
    grouped: dict[str, list[Sequence[object]]] = {}
    for row in rows:
        grouped.setdefault(str(row[0]), []).append(row)
    frames = []
    for frame_id, frame_rows in grouped.items():
        first = dict(zip(columns, frame_rows[0], strict=True))
        shown = _ALIAS.sub(lambda m, row=first: str(row.get(m.group(1), "")), alias)
        fields = []
        for i, name in enumerate(columns):
            kind = "time" if name == "ts" else _grafana_type(frame_rows[0][i])
            config = {"displayNameFromDS": shown} if shown and kind == "number" else {}
            fields.append({"name": name, "type": kind, "config": config, "values": [r[i] for r in frame_rows]})
        frames.append({"name": frame_id, "fields": fields})
    return frames


# ---------------------------------------------------------------- Grafana Live's frames
_NUMBER, _STRING, _BOOL = "number", "string", "boolean"


def _typed(value: object) -> tuple[str, object]:
    if isinstance(value, bool):
        return _BOOL, value
    if isinstance(value, int | float):
        return _NUMBER, float(value)
    if value == "NaN":  # convert.go: a "NaN" string is a null float
        return _NUMBER, None
    return _STRING, value


def _frame(measurement: str, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    types: dict[str, str] = {}
    columns: dict[str, list[object]] = {}
    for row, m in enumerate(metrics):
        if m["tags"]:
            raise ValueError("this model covers lines without tags (the platform pushes none)")
        for key in sorted(m["fields"]):
            kind, value = _typed(m["fields"][key])
            if key not in types:
                types[key] = kind
                columns[key] = []
            elif kind != types[key]:
                value = str(m["fields"][key]) if types[key] == _STRING and value is not None else None
            columns[key].extend([None] * (row - len(columns[key])))
            columns[key].append(value)
    for values in columns.values():
        values.extend([None] * (len(metrics) - len(values)))
    schema = [{"name": "labels", "type": _STRING}, {"name": "time", "type": "time"}]
    schema += [{"name": k, "type": types[k]} for k in columns]
    values = [[""] * len(metrics), [m["time"] // 1_000_000 for m in metrics], *columns.values()]
    return {"schema": {"name": measurement, "fields": schema}, "data": {"values": values}}


class LiveStream:
    """Grafana Live's managed stream: pushes of line protocol -> the messages each channel publishes."""

    def __init__(self) -> None:
        self._schemas: dict[str, object] = {}

    def push(self, body: bytes) -> dict[str, dict[str, Any]]:
        """Measurement -> the message published on its channel for this push."""
        by_measurement: dict[str, list[dict[str, Any]]] = {}
        for text in body.decode().splitlines():
            if text:
                m = lpp.parse_line(text)
                by_measurement.setdefault(m["measurement"], []).append(m)
        out = {}
        for measurement, metrics in by_measurement.items():
            msg = _frame(measurement, metrics)
            if self._schemas.get(measurement) == msg["schema"]:
                msg = {"data": msg["data"]}  # the schema has not changed: data only
            else:
                self._schemas[measurement] = msg["schema"]
            out[measurement] = msg
        return out


def live_messages(bodies: Iterable[bytes], measurement: str) -> list[dict[str, Any]]:
    """The messages a subscriber of ``measurement`` receives for consecutive pushes."""
    stream = LiveStream()
    return [msgs[measurement] for msgs in (stream.push(b) for b in bodies) if measurement in msgs]


def dashboard(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((REPO_ROOT / "grafana" / "dashboards" / name).read_text())
    return doc
