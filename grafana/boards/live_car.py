"""Live car: every catalog channel of one car as it drives, from Grafana Live, plus the session's
laps, data quality and predictions.

Channel panels subscribe to ``stream/<stream>/car_$car`` (pushed by ``grafana.live``), so they
update as windows arrive (10 a second) without polling; the Cassandra panels (laps, quality,
markers) refresh with the dashboard. Every Live panel asks for the points its span needs
(``maxDataPoints``): Grafana's Live buffer otherwise keeps as many points as the panel is wide.
The track panel draws the car's last seconds from the same stream.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, VizLegendOptions
from grafana_foundation_sdk.models import common as mcommon
from grafana_foundation_sdk.models import dashboard as mdash

from grafana.boards.common import (
    LIVE_SPAN_S,
    TAGS,
    BoardSettings,
    PanelBuilder,
    car_variable,
    channel_panel,
    cql_variable,
    live_target,
    number_panels,
    session_variable,
    stat_panel,
    table_panel,
    track_fields,
    track_panel,
)
from grafana.boards.laps import lap_table_query
from grafana.queries import Cql, grafana_ref
from grafana.units import channel_unit
from p424.catalog import CATALOG, Catalog, Channel
from p424.storage.schema import FRAME_BUCKET_S

UID = "p424-live-car"
TRAIL_S = 30  # seconds of the car's path on the live track map


def measurement(kind: str) -> str:
    """The car's measurement names (grafana.live.lines.Layout) with the car as a variable."""
    return {"channels": "car_$car", "quality": "car_${car}_quality", "prediction": "car_${car}_prediction"}[kind]


QUALITY_CQL = """
SELECT session_id, frames_received, frames_lost, frames_duplicated, frames_late, frames_out_of_order, first_seq,
       last_seq, updated_at
FROM session_quality WHERE session_id = $session
"""

# Markers are a frame-level bitmask (windows carry no markers): the session's newest minute bucket
# of raw frames, only frames with a marker set (ALLOW FILTERING stays inside one partition).
MARKERS_CQL = """
SELECT session_id, seq, sim_time, lap, lap_distance, markers
FROM frames WHERE session_id = $session AND bucket = $bucket AND markers > 0 ALLOW FILTERING
"""
# The newest frame bucket: p424.storage.schema.frame_bucket of the session's last sim time.
BUCKET_CQL = (
    f"SELECT CAST(CAST(last_sim_time / {FRAME_BUCKET_S:g} AS int) AS text) FROM sessions WHERE session_id = $session"
)


def _live_stat(
    s: BoardSettings,
    title: str,
    field: str,
    unit: str,
    *,
    kind: str = "channels",
    description: str = "",
    decimals: int | None = None,
) -> PanelBuilder:
    target = live_target(s.live_stream, measurement(kind), [field])
    return stat_panel(
        title,
        target,
        unit,
        description=description,
        width=3,
        decimals_=decimals,
        max_points=s.live_points(LIVE_SPAN_S),
    )


def _now_row(s: BoardSettings, c: Catalog) -> list[PanelBuilder]:
    return [
        _live_stat(s, "Speed", "speed", channel_unit(c["speed"]), decimals=0),
        _live_stat(
            s,
            "Power total",
            "power_electrical_total",
            channel_unit(c["power_electrical_total"]),
            decimals=0,
            description="Negative while regenerating",
        ),
        _live_stat(s, "Lap", "lap", "none", decimals=0),
        _live_stat(s, "Lap time", "lap_time", "s", decimals=1),
        _live_stat(s, "Lap distance", "lap_distance", channel_unit(c["lap_distance"]), decimals=2),
        _live_stat(s, "State of charge", "battery_soc", channel_unit(c["battery_soc"]), decimals=1),
        _live_stat(s, "Battery temperature", "battery_temperature", channel_unit(c["battery_temperature"]), decimals=1),
        _live_stat(
            s,
            "Lap energy (net)",
            "lap_energy_net_kwh",
            "kwatth",
            decimals=3,
            description="Drawn minus regenerated since the lap started",
        ),
        _live_stat(s, "Predicted lap time", "predicted_lap_time", "s", kind="prediction", decimals=2),
        _live_stat(
            s,
            "Predicted vs baseline",
            "predicted_delta_s",
            "s",
            kind="prediction",
            decimals=2,
            description="Predicted lap time minus the baseline lap time (negative: faster)",
        ),
        _live_stat(s, "Predicted lap energy", "predicted_energy_kwh", "kwatth", kind="prediction", decimals=2),
        _live_stat(s, "Prediction latency", "latency_ms", "ms", kind="prediction", decimals=1),
        _live_stat(
            s,
            "Frames lost",
            "frames_lost",
            "none",
            kind="quality",
            decimals=0,
            description="Sequence numbers never seen between the first and the last frame",
        ),
        _live_stat(s, "Loss", "loss_pct", "percent", kind="quality", decimals=2),
        _live_stat(
            s,
            "Late frames",
            "frames_late",
            "none",
            kind="quality",
            decimals=0,
            description="Arrived after their window had closed (stored raw, not aggregated)",
        ),
        _live_stat(s, "Out of order", "frames_out_of_order", "none", kind="quality", decimals=0),
    ]


def _power_panel(s: BoardSettings, c: Catalog) -> timeseries.Panel:
    names = ["power_electrical_front", "power_electrical_rear", "power_electrical_total"]
    # Regeneration (negative power) is shaded by a threshold area below zero.
    return (
        timeseries.Panel()
        .title("Power front / rear / total (regeneration < 0)")
        .datasource(grafana_ref())
        .with_target(live_target(s.live_stream, measurement("channels"), names))
        .unit(channel_unit(c["power_electrical_total"]))
        .height(8)
        .span(16)
        .max_data_points(s.live_points(LIVE_SPAN_S))
        .fill_opacity(0)
        .thresholds(
            dash.ThresholdsConfig()
            .mode(mdash.ThresholdsMode.ABSOLUTE)
            .steps([mdash.Threshold(value=None, color="green"), mdash.Threshold(value=0, color="transparent")])
        )
        .thresholds_style(GraphThresholdsStyleConfig().mode(mcommon.GraphThresholdsStyleMode.AREA))
        .legend(
            VizLegendOptions()
            .show_legend(True)
            .display_mode(mcommon.LegendDisplayMode.LIST)
            .placement(mcommon.LegendPlacement.BOTTOM)
        )
    )


def _energy_panel(s: BoardSettings) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Lap energy drawn / regenerated")
        .datasource(grafana_ref())
        .with_target(
            live_target(s.live_stream, measurement("channels"), ["lap_energy_drawn_kwh", "lap_energy_regen_kwh"])
        )
        .unit("kwatth")
        .decimals(3)
        .height(8)
        .span(8)
        .max_data_points(s.live_points(LIVE_SPAN_S))
        .legend(
            VizLegendOptions()
            .show_legend(True)
            .display_mode(mcommon.LegendDisplayMode.LIST)
            .placement(mcommon.LegendPlacement.BOTTOM)
        )
    )


def _prediction_panels(s: BoardSettings) -> list[PanelBuilder]:
    def pair(title: str, fields: list[str], unit: str) -> timeseries.Panel:
        return (
            timeseries.Panel()
            .title(title)
            .datasource(grafana_ref())
            .with_target(live_target(s.live_stream, measurement("prediction"), fields))
            .unit(unit)
            .height(7)
            .span(12)
            .max_data_points(s.live_points(LIVE_SPAN_S))
            .legend(
                VizLegendOptions()
                .show_legend(True)
                .display_mode(mcommon.LegendDisplayMode.LIST)
                .placement(mcommon.LegendPlacement.BOTTOM)
            )
        )

    return [
        pair("Predicted lap time vs baseline", ["predicted_lap_time", "baseline_lap_time"], "s"),
        pair("Predicted lap energy vs baseline", ["predicted_energy_kwh", "baseline_energy_kwh"], "kwatth"),
    ]


def _channel_panel(s: BoardSettings, ch: Channel) -> PanelBuilder:
    if ch.name == "markers":
        return table_panel(
            "markers (newest minute of frames)", Cql(MARKERS_CQL), width=8, height=6, description=ch.description
        )
    return channel_panel(
        ch, live_target(s.live_stream, measurement("channels"), [ch.name]), max_points=s.live_points(LIVE_SPAN_S)
    )


def _track(s: BoardSettings, c: Catalog) -> PanelBuilder:
    """The car's last TRAIL_S seconds on the track map; the newest point is the largest (point size
    by the session clock ``sim_time``, which grows with every window)."""
    x, z, speed = track_fields(c)
    clock = c["sim_time"].name
    fields = [x.name, z.name, speed.name, clock]
    target = live_target(s.live_stream, measurement("channels"), fields).buffer_ms(TRAIL_S * 1000)
    return track_panel(
        f"Car on track (last {TRAIL_S} s)",
        target,
        c,
        live=True,
        description=f"Where the car has been in the last {TRAIL_S} s, seen from above (world x across, z up): "
        "the largest point is the newest, colours go from the slowest (blue) to the fastest (red) speed shown",
        size_by=clock,
        # with a buffer, Grafana keeps maxDelta = buffer and twice maxDataPoints (datasource.ts)
        max_points=s.live_points(TRAIL_S),
    )


def build(s: BoardSettings | None = None, catalog: Catalog = CATALOG) -> mdash.Dashboard:
    s = s or BoardSettings()
    d = (
        dash.Dashboard("PERRINN 424 · Live car")
        .uid(UID)
        .tags([*TAGS, "live"])
        .description(
            "Every catalog channel of one car in real time (Grafana Live), with its session's laps, "
            "data quality and live predictions."
        )
        .time(f"now-{LIVE_SPAN_S // 60}m", "now")
        .refresh("1s")
        .live_now(True)
        .timezone("browser")
        .tooltip(mdash.DashboardCursorSync.CROSSHAIR)
        .timepicker(dash.TimePicker().refresh_intervals(["1s", "5s", "10s", "30s", "1m"]))
        .with_variable(car_variable())
        .with_variable(session_variable())
        .with_variable(
            cql_variable(
                "bucket",
                "Frame bucket",
                BUCKET_CQL,
                hide=mdash.VariableHide.HIDE_VARIABLE,
                refresh=mdash.VariableRefresh.ON_TIME_RANGE_CHANGED,
            )
        )
    )
    d = d.with_row(dash.Row("Now"))
    for p in _now_row(s, catalog):
        d = d.with_panel(p)
    d = d.with_row(dash.Row("Track position")).with_panel(_track(s, catalog))
    d = d.with_row(dash.Row("Power and energy")).with_panel(_power_panel(s, catalog)).with_panel(_energy_panel(s))
    d = d.with_row(dash.Row("Live prediction"))
    for p in _prediction_panels(s):
        d = d.with_panel(p)
    for group, channels in catalog.groups().items():
        d = d.with_row(dash.Row(f"Channels: {group}"))
        for ch in channels:
            d = d.with_panel(_channel_panel(s, ch))
    d = (
        d.with_row(dash.Row("Session (Cassandra)"))
        .with_panel(table_panel("Laps of the session", Cql(lap_table_query()), width=24, height=8))
        .with_panel(table_panel("Session data quality", Cql(QUALITY_CQL), width=24, height=4))
    )
    return number_panels(d.build())
