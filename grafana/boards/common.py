"""Shared pieces of the dashboards: variables, channel panels, small panel helpers."""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as mcommon
from grafana_foundation_sdk.models import dashboard as mdash

from grafana.queries import Cql, Live, cassandra_ref, grafana_ref
from grafana.units import channel_unit, decimals, display_range
from p424.catalog import Channel, Kind

Target = cogbuilder.Builder[cogvariants.Dataquery]
PanelBuilder = cogbuilder.Builder[mdash.Panel]
TAGS = ["p424", "generated"]
FOLDER_TITLE = "PERRINN 424"
FOLDER_UID = "p424"


@dataclass(frozen=True)
class BoardSettings:
    """What the generated JSON depends on besides the catalog (defaults: the committed files)."""

    live_stream: str = "p424"
    # Window sizes stored with per-channel columns (WINDOW_COLUMNS_MS): the ones CQL panels can read
    window_columns_ms: tuple[int, ...] = (1000,)


# ---------------------------------------------------------------- variables
def cql_variable(
    name: str,
    label: str,
    cql: str,
    *,
    sort: mdash.VariableSort = mdash.VariableSort.NUMERICAL_ASC,
    refresh: mdash.VariableRefresh = mdash.VariableRefresh.ON_DASHBOARD_LOAD,
    hide: mdash.VariableHide = mdash.VariableHide.DONT_HIDE,
) -> dash.QueryVariable:
    # The plugin's variable editor stores {"query": ...}: first column the value, second the label.
    cql = " ".join(cql.split())
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(cassandra_ref())
        .query({"query": cql})
        .definition(cql)
        .refresh(refresh)
        .sort(sort)
        .hide(hide)
    )


def car_variable() -> dash.QueryVariable:
    return cql_variable("car", "Car", "SELECT CAST(car_id AS text) FROM sessions")


def session_variable() -> dash.QueryVariable:
    # Labelled with the start time so the newest session sorts first.
    return cql_variable(
        "session",
        "Session",
        "SELECT CAST(session_id AS text), CAST(started_at AS text) FROM sessions WHERE car_id = $car ALLOW FILTERING",
        sort=mdash.VariableSort.ALPHABETICAL_DESC,
    )


def lap_variable(name: str, label: str) -> dash.QueryVariable:
    return cql_variable(name, label, "SELECT CAST(lap AS text) FROM laps WHERE session_id = $session")


# ---------------------------------------------------------------- panels
def live_channel(stream: str, measurement: str) -> str:
    return f"stream/{stream}/{measurement}"


def channel_panel(
    c: Channel, target: Target, *, height: int = 6, width: int = 8, live: bool = True
) -> timeseries.Panel:
    """A time series of one catalog channel in display units, ranged by the catalog."""
    lo, hi = display_range(c)
    unit = c.shown_unit or "-"
    p = (
        timeseries.Panel()
        .title(c.name.replace("_", " "))
        .description(f"{c.description} [{unit}]")
        .datasource(grafana_ref() if live else cassandra_ref())
        .with_target(target)
        .unit(channel_unit(c))
        .min(lo)
        .max(hi)
        .decimals(decimals(c))
        .height(height)
        .span(width)
        .legend(VizLegendOptions().show_legend(False))
        .line_width(1)
        .fill_opacity(10)
        .show_points(mcommon.VisibilityMode.NEVER)
    )
    if c.kind is Kind.DISCRETE:
        p = p.line_interpolation(mcommon.LineInterpolation.STEP_AFTER)
    if lo < 0 < hi:
        p = p.axis_centered_zero(True)
    return p


def live_target(stream: str, measurement: str, fields: list[str], ref: str = "A") -> Live:
    return Live(live_channel(stream, measurement)).fields(fields).ref_id(ref)


def stat_panel(
    title: str,
    target: Target,
    unit: str,
    *,
    description: str = "",
    live: bool = True,
    width: int = 4,
    height: int = 4,
    decimals_: int | None = None,
) -> stat.Panel:
    p = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(grafana_ref() if live else cassandra_ref())
        .with_target(target)
        .unit(unit)
        .height(height)
        .span(width)
        .graph_mode(mcommon.BigValueGraphMode.AREA)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if decimals_ is not None:
        p = p.decimals(decimals_)
    return p


def table_panel(title: str, target: Cql, *, description: str = "", width: int = 24, height: int = 8) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(cassandra_ref())
        .with_target(target)
        .height(height)
        .span(width)
    )


def override(name: str, **props: object) -> tuple[str, list[mdash.DynamicConfigValue]]:
    return name, [mdash.DynamicConfigValue(id_val=k.replace("__", "."), value=v) for k, v in props.items()]


def transformation(id_: str, options: dict[str, object]) -> mdash.DataTransformerConfig:
    return mdash.DataTransformerConfig(id_val=id_, options=options)


def number_panels(board: mdash.Dashboard) -> mdash.Dashboard:
    """Stable panel ids in layout order (Grafana needs them unique; the builder leaves them unset)."""
    n = 0
    for p in board.panels or []:
        n += 1
        p.id_val = n
        for child in getattr(p, "panels", None) or []:
            n += 1
            child.id_val = n
    return board
