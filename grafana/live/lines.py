"""Kafka messages -> Influx line protocol for Grafana Live (pure functions, no I/O).

Stream layout (one Grafana Live channel per measurement, ``stream/<GRAFANA_LIVE_STREAM>/<measurement>``):

- ``car_<car_id>``: one line per 100 ms window. One field per catalog channel, in display units
  (stored value x the catalog multiplier, so panels need no arithmetic): the window mean for
  continuous channels, the last value for discrete ones (gear, sector). Header channels come from
  the window itself: ``sim_time`` (session clock at the window end), ``lap``, ``lap_distance``.
  Also ``lap_time``, the running lap energies and ``session`` (a string: ids exceed float precision).
- ``car_<car_id>_quality``: the session's data-quality counters carried by the window.
- ``car_<car_id>_prediction``: the live lap-time and energy prediction.

Timestamps are the session wall clock (``ts_ms``), not the pusher's clock, so replays and lag do not
distort the charts. No tags: Grafana's default ``labels_column`` frames would split every field per
tag value, and the car is already in the channel name.

Every line of a measurement carries the same fields, always. Grafana turns each push into one
frame per measurement whose fields are those the lines carry (grafana/grafana
``pkg/services/live/telemetry/telegraf/convert.go``), sends the schema again whenever it differs
(``pkg/services/live/managedstream/runner.go``), and the panel's ``StreamingDataFrame`` starts an
empty buffer when a ``labels_column`` schema changes (@grafana/data 12.2.1,
``src/dataframe/StreamingDataFrame.ts``, ``push``): a field left out for one push would wipe the
panels' history. A value line protocol cannot carry (NaN, infinity) or a channel the window lacks
is sent as the string ``"NaN"``, which the converter reads as a null float (``convert.go``,
``getFieldTypeAndValue``), so the field and its type stay.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from p424.catalog import CATALOG, Catalog, Kind
from p424.kafka.messages import PredictionMessage, WindowMessage

FieldValue = float | int | bool | str


# ---- escaping (https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/) ----
def _no_newlines(s: str) -> str:
    # Line protocol has no escape for a newline anywhere: it would end the line.
    return s.replace("\r", " ").replace("\n", " ")


def escape_measurement(name: str) -> str:
    """Measurements escape commas and spaces."""
    if not name:
        raise ValueError("a measurement name cannot be empty")
    return _no_newlines(name).replace(",", r"\,").replace(" ", r"\ ")


def escape_key(key: str) -> str:
    """Tag keys, tag values and field keys escape commas, equals signs and spaces."""
    if not key:
        raise ValueError("tag and field keys cannot be empty")
    return _no_newlines(key).replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def quote_string(value: str) -> str:
    """String field values are double-quoted; backslashes and double quotes are escaped."""
    return '"' + _no_newlines(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# Grafana Live's converter reads this string as a null float (see the module docstring).
MISSING = "NaN"


def format_value(value: FieldValue) -> str:
    """A field value in line-protocol syntax; a non-finite number becomes the null marker ``"NaN"``."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        # Grafana converts every number to float64 anyway; a float keeps one type per field.
        value = float(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else quote_string(MISSING)
    return quote_string(value)


def line(measurement: str, fields: Mapping[str, FieldValue], ts_ns: int, tags: Mapping[str, str] | None = None) -> str:
    """One line with every given field (a line needs at least one)."""
    if not fields:
        raise ValueError(f"a line of {measurement!r} needs at least one field")
    parts = [f"{escape_key(key)}={format_value(fields[key])}" for key in sorted(fields)]
    head = escape_measurement(measurement)
    for k in sorted(tags or {}):
        v = (tags or {})[k]
        if v:  # empty tag values are invalid; an absent tag means the same
            head += f",{escape_key(k)}={escape_key(v)}"
    return f"{head} {','.join(parts)} {ts_ns}"


# ---- platform messages ----
@dataclass(frozen=True)
class Layout:
    """Measurement names of one car (the Live channel is ``stream/<stream>/<measurement>``)."""

    car_id: int

    @property
    def channels(self) -> str:
        return f"car_{self.car_id}"

    @property
    def quality(self) -> str:
        return f"car_{self.car_id}_quality"

    @property
    def prediction(self) -> str:
        return f"car_{self.car_id}_prediction"


def channel_fields(msg: WindowMessage, catalog: Catalog = CATALOG) -> dict[str, FieldValue]:
    """Every catalog channel in display units; NaN (pushed as null) for one the window lacks."""
    fields: dict[str, FieldValue] = {}
    for c in catalog.payload_channels:
        stats = msg.channels.get(c.name)
        if stats is None:
            fields[c.name] = math.nan
            continue
        raw = stats.last if c.kind is Kind.DISCRETE else stats.mean
        fields[c.name] = raw * c.multiplier
    header = {
        "sim_time": msg.window_start + msg.window_ms / 1000.0,
        "lap": float(msg.lap),
        "lap_distance": msg.lap_distance,
    }
    for name, raw in header.items():
        if name in catalog.by_name:
            fields[name] = raw * catalog[name].multiplier
    fields["lap_time"] = msg.lap_time
    fields["lap_energy_drawn_kwh"] = msg.lap_energy_drawn_kwh
    fields["lap_energy_regen_kwh"] = msg.lap_energy_regen_kwh
    fields["lap_energy_net_kwh"] = msg.lap_energy_drawn_kwh - msg.lap_energy_regen_kwh
    fields["frame_count"] = msg.frame_count
    fields["session"] = str(msg.session_id)
    return fields


def window_lines(msg: WindowMessage, catalog: Catalog = CATALOG) -> list[str]:
    layout = Layout(msg.car_id)
    ts_ns = msg.ts_ms * 1_000_000
    out = [line(layout.channels, channel_fields(msg, catalog), ts_ns)]
    q = msg.quality
    if q is not None:
        expected = q.frames_received + q.frames_lost
        out.append(
            line(
                layout.quality,
                {
                    "frames_received": q.frames_received,
                    "frames_lost": q.frames_lost,
                    "frames_duplicated": q.frames_duplicated,
                    "frames_late": q.frames_late,
                    "frames_out_of_order": q.frames_out_of_order,
                    "loss_pct": 100.0 * q.frames_lost / expected if expected else 0.0,
                    "session": str(msg.session_id),
                },
                ts_ns,
            )
        )
    return out


def prediction_lines(msg: PredictionMessage, catalog: Catalog = CATALOG) -> list[str]:
    km = catalog["lap_distance"].multiplier if "lap_distance" in catalog.by_name else 1.0
    fields: dict[str, FieldValue] = {
        "predicted_lap_time": msg.predicted_lap_time,
        "predicted_energy_kwh": msg.predicted_energy_kwh,
        "baseline_lap_time": msg.baseline_lap_time,
        "baseline_energy_kwh": msg.baseline_energy_kwh,
        "predicted_delta_s": msg.predicted_lap_time - msg.baseline_lap_time,
        "predicted_energy_delta_kwh": msg.predicted_energy_kwh - msg.baseline_energy_kwh,
        "lap_time_so_far": msg.lap_time_so_far,
        "lap_distance": msg.lap_distance * km,
        "lap": float(msg.lap),
        "latency_ms": msg.latency_ms,
        "model": f"{msg.model_name}/{msg.model_version}",
        "session": str(msg.session_id),
    }
    return [line(Layout(msg.car_id).prediction, fields, msg.ts_ms * 1_000_000)]


def body(lines: Iterable[str]) -> bytes:
    """A push request body: newline-separated lines."""
    return ("\n".join(lines) + "\n").encode()
