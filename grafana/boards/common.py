"""Shared pieces of the dashboards: variables, channel panels, small panel helpers."""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, table, timeseries, xychart
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as mcommon
from grafana_foundation_sdk.models import dashboard as mdash
from grafana_foundation_sdk.models import xychart as mxychart

from grafana.queries import Cql, Live, cassandra_ref, grafana_ref
from grafana.units import channel_unit, decimals, display_range
from p424.catalog import Catalog, Channel, Kind

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
    # Size of the windows pushed to Grafana Live (LIVE_WINDOW_MS): one point per window per field
    live_window_ms: int = 100

    def live_points(self, span_s: float) -> int:
        """Points a Live panel keeps to show ``span_s`` seconds of windows.

        Grafana's datasource for Live panels sizes the panel's stream buffer as
        ``maxLength: request.maxDataPoints ?? 500`` (grafana/grafana
        ``public/app/plugins/datasource/grafana/datasource.ts``), and a panel without
        ``maxDataPoints`` asks for as many points as it is wide in pixels (grafana/scenes
        ``SceneQueryRunner.getMaxDataPoints``): a 400 px panel would keep 40 s of 10 windows a second.
        """
        return int(span_s * 1000 // self.live_window_ms) + 1

    @property
    def finest_window_ms(self) -> int:
        """The finest window size stored with per-channel columns."""
        return min(self.window_columns_ms)


# The Live car dashboard shows the last two minutes; its Live panels keep that many points.
LIVE_SPAN_S = 120
# channel_windows partitions enumerated per lap: windows per part x 10 (100 minutes of 100 ms,
# 1000 minutes of 1 s windows in one lap), so every read names whole partition keys.
MAX_PARTS = 10


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


def window_keys(lap: str, window_ms: str) -> str:
    """The ``channel_windows`` partition keys of ``$session``: laps ``lap`` (``= $lap_a``,
    ``IN (...)``) at one window size, every part."""
    parts = ", ".join(str(p) for p in range(MAX_PARTS))
    return f"session_id = $session AND window_ms = {window_ms} AND lap {lap} AND part IN ({parts})"


def scaled(column: str, multiplier: float, alias: str) -> str:
    """A select item in display units (stored value x the catalog multiplier)."""
    return f"{column} AS {alias}" if multiplier == 1 else f"{column} * {multiplier!r} AS {alias}"


def channel_panel(
    c: Channel,
    target: Target,
    *,
    height: int = 6,
    width: int = 8,
    live: bool = True,
    max_points: int | None = None,
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
    if max_points is not None:
        p = p.max_data_points(max_points)
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
    max_points: int | None = None,
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
    if max_points is not None:
        p = p.max_data_points(max_points)
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


# ---------------------------------------------------------------- track map
TRACK_X, TRACK_Y, TRACK_COLOUR = "position_x", "position_z", "speed"


def track_fields(catalog: Catalog) -> tuple[Channel, Channel, Channel]:
    """The channels a track map draws: Unity's x and z (y is up, so x against z is the map seen
    from above, +z up the screen) coloured by speed. A catalog without them cannot draw one."""
    missing = [n for n in (TRACK_X, TRACK_Y, TRACK_COLOUR) if n not in catalog.by_name]
    if missing:
        raise ValueError(f"a track map needs the catalog channels {missing}")
    return catalog[TRACK_X], catalog[TRACK_Y], catalog[TRACK_COLOUR]


def _by_name(name: str) -> xychart.MatcherConfig:
    return xychart.MatcherConfig().id("byName").options(name)


def track_panel(
    title: str,
    target: Target,
    catalog: Catalog,
    *,
    live: bool,
    description: str,
    width: int = 12,
    height: int = 12,
    size_by: str | None = None,
    max_points: int | None = None,
) -> xychart.Panel:
    """An XY chart of the car's position (x right, z up) with each point coloured by speed.

    Options as Grafana 12.2.1's XY chart reads them (@grafana/schema 12.2.1
    ``raw/composable/xychart/panelcfg``; ``public/app/plugins/panel/xychart/utils.ts`` ``prepSeries``):
    manual mapping of frame 0, x and y by field name, ``color`` by a numeric field drawn with that
    field's continuous colour scheme over the values shown, ``size`` by a numeric field scaled
    between its ``pointSize.min`` and ``.max``. The chart does not keep x and z at one scale: the
    map's proportions follow the panel's.
    """
    x, z, speed = track_fields(catalog)
    series = (
        xychart.XYSeriesConfig()
        .frame(xychart.XychartXYSeriesConfigFrame().matcher(xychart.MatcherConfig().id("byIndex").options(0)))
        .x(xychart.XychartXYSeriesConfigX().matcher(_by_name(x.name)))
        .y(xychart.XychartXYSeriesConfigY().matcher(_by_name(z.name)))
        .color(xychart.XychartXYSeriesConfigColor().matcher(_by_name(speed.name)))
    )
    if size_by is not None:
        series = series.size(xychart.XychartXYSeriesConfigSize().matcher(_by_name(size_by)))
    p = (
        xychart.Panel()
        .title(title)
        .description(description)
        .datasource(grafana_ref() if live else cassandra_ref())
        .with_target(target)
        .height(height)
        .span(width)
        .mapping(mxychart.SeriesMapping.MANUAL)
        .series([series])
        .show(mxychart.XYShowMode.POINTS)
        .point_size(xychart.XychartFieldConfigPointSize().fixed(4))
        .fill_opacity(90)
        .legend(VizLegendOptions().show_legend(False))
    )
    for c in (x, z):
        name, props = override(c.name, unit=channel_unit(c), decimals=0, custom__axisLabel=f"{c.name} [{c.shown_unit}]")
        p = p.override_by_name(name, props)
    name, props = override(
        speed.name,
        unit=channel_unit(speed),
        decimals=0,
        color={"mode": mdash.FieldColorModeId.CONTINUOUS_BL_YL_RD.value},
    )
    p = p.override_by_name(name, props)
    if size_by is not None:
        name, props = override(size_by, custom__pointSize={"min": 2, "max": 14})
        p = p.override_by_name(name, props)
    if max_points is not None:
        p = p.max_data_points(max_points)
    return p


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
