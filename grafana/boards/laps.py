"""Lap analysis: a session's lap table, lap times and energies, sector times, two laps overlaid
by distance with the time delta (from ``lap_distance_profile``, one row every ``PROFILE_STEP_M``
metres), the racing line of both laps coloured by speed (the stored windows' last position), and
the live predictions made during a lap with the model's errors per lap (``predictions``,
``prediction_errors``).

The overlay joins lap A and lap B on ``distance`` and computes ``delta_s = elapsed_b - elapsed_a``
with Grafana transformations, so Cassandra serves two single-partition reads.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, trend
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders.common import VizLegendOptions
from grafana_foundation_sdk.models import common as mcommon
from grafana_foundation_sdk.models import dashboard as mdash

from grafana.boards.common import (
    TAGS,
    BoardSettings,
    PanelBuilder,
    car_variable,
    cql_variable,
    lap_variable,
    number_panels,
    override,
    scaled,
    session_variable,
    table_panel,
    track_fields,
    track_panel,
    transformation,
    window_keys,
)
from grafana.queries import Cql, cassandra_ref
from grafana.units import channel_unit
from p424.catalog import CATALOG, Catalog
from p424.config import Config

UID = "p424-lap-analysis"
KMH = CATALOG["speed"].multiplier
PCT = CATALOG["throttle"].multiplier


def lap_table_query(catalog: Catalog = CATALOG) -> str:
    """The laps of $session: timing, energies, speeds in km/h, key-channel extremes in display units."""
    extremes = []
    for name, stat in (
        ("battery_soc", "min"),
        ("battery_temperature", "max"),
        ("power_electrical_total", "max"),
        ("power_electrical_total", "min"),
    ):
        if name in catalog.by_name and catalog[name].key:
            m = catalog[name].multiplier
            col = f"{name}_{stat}"
            extremes.append(col if m == 1 else f"{col} * {m!r} AS {col}")
    speed = catalog["speed"].multiplier
    return " ".join(
        f"""
        SELECT session_id, lap, lap_time, distance, complete, invalidated,
               max_speed * {speed!r} AS max_speed_kmh, mean_speed * {speed!r} AS mean_speed_kmh,
               energy_drawn_kwh, energy_regen_kwh, energy_net_kwh, {", ".join(extremes)}, start_ts
        FROM laps WHERE session_id = $session
    """.split()
    )


def _lap_table(catalog: Catalog) -> PanelBuilder:
    units = {
        "lap_time": ("s", 3),
        "distance": ("lengthm", 0),
        "max_speed_kmh": ("velocitykmh", 1),
        "mean_speed_kmh": ("velocitykmh", 1),
        "energy_drawn_kwh": ("kwatth", 3),
        "energy_regen_kwh": ("kwatth", 3),
        "energy_net_kwh": ("kwatth", 3),
        "battery_soc_min": (channel_unit(catalog["battery_soc"]), 1),
        "battery_temperature_max": (channel_unit(catalog["battery_temperature"]), 1),
        "power_electrical_total_max": (channel_unit(catalog["power_electrical_total"]), 0),
        "power_electrical_total_min": (channel_unit(catalog["power_electrical_total"]), 0),
    }
    p = table_panel(
        "Laps",
        Cql(lap_table_query(catalog)),
        height=9,
        description="One row per lap; the running lap is provisional until it completes",
    )
    for field, (unit, dec) in units.items():
        name, props = override(field, unit=unit, decimals=dec)
        p = p.override_by_name(name, props)
    # session_id is selected first so the plugin keeps the laps in one frame; it is not shown.
    # (An organize transformation: Grafana 12.2.1's table field config has no "hidden".)
    return p.with_transformation(transformation("organize", {"excludeByName": {"session_id": True}}))


def _per_lap_bars(title: str, cql: str, unit: str) -> PanelBuilder:
    return (
        barchart.Panel()
        .title(title)
        .datasource(cassandra_ref())
        .with_target(Cql(cql))
        .x_field("lap")
        .unit(unit)
        .height(8)
        .span(12)
        .legend(
            VizLegendOptions()
            .show_legend(True)
            .display_mode(mcommon.LegendDisplayMode.LIST)
            .placement(mcommon.LegendPlacement.BOTTOM)
        )
        .with_transformation(transformation("organize", {"excludeByName": {"session_id": True}}))
    )


SECTORS_CQL = "SELECT session_id, lap, lap_time, toJson(sector_times) AS sectors FROM laps WHERE session_id = $session"


def _sectors() -> PanelBuilder:
    # The plugin cannot return CQL lists: the list travels as JSON text and Grafana splits it.
    rename = {str(i): f"S{i + 1}" for i in range(10)}
    p = (
        table_panel(
            "Sector times",
            Cql(SECTORS_CQL),
            height=8,
            description="Sector times per lap (from the sector line markers), seconds",
        )
        .with_transformation(transformation("extractFields", {"source": "sectors", "format": "json", "replace": False}))
        .with_transformation(
            transformation("organize", {"excludeByName": {"session_id": True, "sectors": True}, "renameByName": rename})
        )
        .unit("s")
        .decimals(3)
    )
    name, props = override("lap", unit="none", decimals=0)
    return p.override_by_name(name, props)


def profile_query(lap_var: str, suffix: str) -> str:
    return " ".join(
        f"""
        SELECT lap, distance, elapsed AS elapsed_{suffix}, speed * {KMH!r} AS speed_{suffix},
               throttle * {PCT!r} AS throttle_{suffix}, brake_pressure AS brake_{suffix},
               power_electrical_total AS power_{suffix}
        FROM lap_distance_profile WHERE session_id = $session AND lap = ${lap_var}
    """.split()
    )


def _overlay(title: str, quantity: str, unit: str, *, delta: bool = False) -> PanelBuilder:
    fields = ["distance", "delta_s"] if delta else ["distance", f"{quantity}_a", f"{quantity}_b"]
    p = (
        trend.Panel()
        .title(title)
        .datasource(cassandra_ref())
        .with_target(Cql(profile_query("lap_a", "a")).ref_id("A"))
        .with_target(Cql(profile_query("lap_b", "b")).ref_id("B"))
        .x_field("distance")
        .unit(unit)
        .height(8)
        .span(24 if delta else 12)
        .fill_opacity(0 if not delta else 15)
        .legend(
            VizLegendOptions()
            .show_legend(True)
            .display_mode(mcommon.LegendDisplayMode.LIST)
            .placement(mcommon.LegendPlacement.BOTTOM)
        )
        .with_transformation(transformation("joinByField", {"byField": "distance", "mode": "outer"}))
    )
    if delta:
        p = p.description("Elapsed time of lap B minus lap A at the same distance: above zero, B is behind")
        p = p.with_transformation(
            transformation(
                "calculateField",
                {
                    "mode": "binary",
                    "alias": "delta_s",
                    "replaceFields": False,
                    "binary": {
                        "left": {"matcher": {"id": "byName", "options": "elapsed_b"}},
                        "operator": "-",
                        "right": {"matcher": {"id": "byName", "options": "elapsed_a"}},
                    },
                },
            )
        )
    p = p.with_transformation(transformation("filterFieldsByName", {"include": {"names": fields}}))
    for suffix, label in (("a", "lap A"), ("b", "lap B")):
        name, props = override(f"{quantity}_{suffix}", displayName=label)
        p = p.override_by_name(name, props)
    return p


# ---------------------------------------------------------------- racing line
def racing_line_query(lap_var: str, window_ms: int, catalog: Catalog = CATALOG) -> str:
    """Where the car was at the end of each stored window of one lap (``<channel>_last``), with the
    window's mean speed. Only window sizes stored with per-channel columns can be read."""
    x, z, speed = track_fields(catalog)
    cols = [scaled(f"{c.name}_last", c.multiplier, c.name) for c in (x, z)]
    cols.append(scaled(f"{speed.name}_mean", speed.multiplier, speed.name))
    return (
        f"SELECT CAST(lap AS text) AS lap, ts, {', '.join(cols)} FROM channel_windows "
        f"WHERE {window_keys(f'= ${lap_var}', str(window_ms))}"
    )


def _racing_line(lap_var: str, label: str, settings: BoardSettings, catalog: Catalog) -> PanelBuilder:
    window_ms = settings.finest_window_ms
    return track_panel(
        f"Racing line · {label}",
        Cql(racing_line_query(lap_var, window_ms, catalog)),
        catalog,
        live=False,
        description=f"Position of the car at the end of every {window_ms} ms window of {label}, seen from above "
        "(world x across, z up), coloured by the window's mean speed from the lap's slowest (blue) to its "
        "fastest (red)",
    )


# ---------------------------------------------------------------- predictions (p424.ml.live)
PREDICTION_ERRORS_CQL = """
SELECT model_name, completed_at, session_id, lap, model_version, windows, actual_lap_time, mae_lap_time,
       baseline_mae_lap_time, error_lap_time_at_25, error_lap_time_at_50, error_lap_time_at_75, actual_energy_kwh,
       mae_energy_kwh, baseline_mae_energy_kwh
FROM prediction_errors WHERE model_name = '${model}' AND month IN (${month:singlequote})
"""
MONTHS_CQL = (
    "SELECT DISTINCT month, month AS label, model_name FROM prediction_errors WHERE model_name = '${model}' "
    "ALLOW FILTERING"
)


def prediction_trace_query(lap_var: str) -> str:
    km = CATALOG["lap_distance"].multiplier
    return " ".join(
        f"""
        SELECT lap, lap_distance * {km!r} AS lap_distance_km, predicted_lap_time, baseline_lap_time,
               predicted_energy_kwh, baseline_energy_kwh, energy_so_far_kwh
        FROM predictions WHERE session_id = $session AND lap = ${lap_var}
    """.split()
    )


def _prediction_trace(title: str, fields: list[str], unit: str) -> PanelBuilder:
    return (
        trend.Panel()
        .title(title)
        .datasource(cassandra_ref())
        .description("What the serving model and the baseline predicted as lap A went on, by lap distance")
        .with_target(Cql(prediction_trace_query("lap_a")))
        .x_field("lap_distance_km")
        .unit(unit)
        .height(8)
        .span(12)
        .legend(
            VizLegendOptions()
            .show_legend(True)
            .display_mode(mcommon.LegendDisplayMode.LIST)
            .placement(mcommon.LegendPlacement.BOTTOM)
        )
        .with_transformation(transformation("filterFieldsByName", {"include": {"names": ["lap_distance_km", *fields]}}))
    )


def _prediction_errors() -> PanelBuilder:
    p = table_panel(
        "Prediction errors per lap",
        Cql(PREDICTION_ERRORS_CQL),
        height=8,
        description="Per completed lap: mean absolute error of the live predictions (from 5 % of the "
        "lap on) against the baseline's, and the signed error at 25/50/75 % of the lap",
    )
    for field in (
        "actual_lap_time",
        "mae_lap_time",
        "baseline_mae_lap_time",
        "error_lap_time_at_25",
        "error_lap_time_at_50",
        "error_lap_time_at_75",
    ):
        name, props = override(field, unit="s", decimals=2)
        p = p.override_by_name(name, props)
    for field in ("actual_energy_kwh", "mae_energy_kwh", "baseline_mae_energy_kwh"):
        name, props = override(field, unit="kwatth", decimals=3)
        p = p.override_by_name(name, props)
    return p


def build(settings: BoardSettings | None = None, catalog: Catalog = CATALOG) -> mdash.Dashboard:
    settings = settings or BoardSettings()
    d = (
        dash.Dashboard("PERRINN 424 · Lap analysis")
        .uid(UID)
        .tags([*TAGS, "laps"])
        .description(
            "Lap table, lap times and energies, sector times, two laps overlaid by distance and their racing lines."
        )
        .time("now-24h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(mdash.DashboardCursorSync.CROSSHAIR)
        .with_variable(car_variable())
        .with_variable(session_variable())
        .with_variable(lap_variable("lap_a", "Lap A"))
        .with_variable(lap_variable("lap_b", "Lap B"))
        .with_variable(
            dash.CustomVariable("model")
            .label("Model")
            .values(Config().model_name)
            .current(mdash.VariableOption(selected=True, text=Config().model_name, value=Config().model_name))
        )
        .with_variable(
            cql_variable("month", "Months", MONTHS_CQL, sort=mdash.VariableSort.ALPHABETICAL_DESC)
            .multi(True)
            .include_all(True)
        )
    )
    d = d.with_row(dash.Row("Laps")).with_panel(_lap_table(catalog))
    d = d.with_panel(
        _per_lap_bars(
            "Lap time per lap",
            "SELECT session_id, CAST(lap AS text) AS lap, lap_time FROM laps WHERE session_id = $session",
            "s",
        )
    )
    d = d.with_panel(
        _per_lap_bars(
            "Energy per lap",
            "SELECT session_id, CAST(lap AS text) AS lap, energy_drawn_kwh AS drawn, energy_regen_kwh AS regenerated, "
            "energy_net_kwh AS net FROM laps WHERE session_id = $session",
            "kwatth",
        )
    )
    d = d.with_panel(_sectors())
    km = channel_unit(catalog["speed"])
    d = (
        d.with_row(dash.Row("Lap A vs lap B by distance"))
        .with_panel(_overlay("Time delta (B - A)", "delta", "s", delta=True))
        .with_panel(_overlay("Speed", "speed", km))
        .with_panel(_overlay("Throttle", "throttle", channel_unit(catalog["throttle"])))
        .with_panel(_overlay("Brake pressure", "brake", channel_unit(catalog["brake_pressure"])))
        .with_panel(_overlay("Power total", "power", channel_unit(catalog["power_electrical_total"])))
    )
    d = (
        d.with_row(dash.Row("Racing line"))
        .with_panel(_racing_line("lap_a", "lap A", settings, catalog))
        .with_panel(_racing_line("lap_b", "lap B", settings, catalog))
    )
    d = (
        d.with_row(dash.Row("Live predictions"))
        .with_panel(
            _prediction_trace("Predicted lap time along lap A", ["predicted_lap_time", "baseline_lap_time"], "s")
        )
        .with_panel(
            _prediction_trace(
                "Predicted lap energy along lap A",
                ["predicted_energy_kwh", "baseline_energy_kwh", "energy_so_far_kwh"],
                "kwatth",
            )
        )
        .with_panel(_prediction_errors())
    )
    return number_panels(d.build())
