"""Session channels: the stored history of every catalog channel for chosen laps of a session.

Reads ``channel_windows`` (min, mean and max per window, in display units by CQL arithmetic) for
``$session``, window size ``$window`` and laps ``$lap``; the window partitions of a lap are
enumerated (``part IN``) so every read names whole partition keys. Set the time range to the
session (the Laps table of the Live car and Lap analysis dashboards shows its start).

How the Cassandra plugin and Grafana name and colour the series (checked against their sources,
see ``grafana.queries`` and tests/test_grafana_js.py): the plugin returns one frame per lap,
named by the lap, in random order. The query's alias ``lap {{lap}}`` makes ``lap 3`` the display
name of the lap's mean, min and max, and ``palette-classic-by-name`` colours by that name (a hash
of it, ``fieldColor.ts``), so a lap keeps one colour in every panel and on every refresh, where
``palette-classic`` would colour by frame position. The dashed envelope is found by field name
(``byName`` also matches ``field.name``, ``nameMatcher.ts``): display names carry the lap
(``3 min`` with two laps and no alias, ``fieldState.ts``), which a ``^min`` pattern missed.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders.common import VizTooltipOptions
from grafana_foundation_sdk.models import common as mcommon
from grafana_foundation_sdk.models import dashboard as mdash

from grafana.boards.common import (
    TAGS,
    BoardSettings,
    PanelBuilder,
    car_variable,
    channel_panel,
    cql_variable,
    number_panels,
    override,
    scaled,
    session_variable,
    window_keys,
)
from grafana.queries import Cql
from p424.catalog import CATALOG, Catalog, Channel, Transport

UID = "p424-session-channels"
HEADER_COLUMNS = {"sim_time": "window_start", "lap": "lap", "lap_distance": "lap_distance"}
LAP_ALIAS = "lap {{lap}}"  # the plugin fills {{lap}} from the frame's lap column
ENVELOPE = ("min", "max")  # drawn dashed around the mean


def _where() -> str:
    return f"WHERE {window_keys('IN (${lap:csv})', '$window')} AND ts >= $__timeFrom AND ts <= $__timeTo"


def channel_query(c: Channel) -> str | None:
    """The channel's CQL, or None for a channel without window columns (markers: frame level only)."""
    m = c.multiplier
    if c.transport is Transport.PAYLOAD:
        cols = ", ".join(scaled(f"{c.name}_{s}", m, s) for s in (ENVELOPE[0], "mean", ENVELOPE[1]))
    elif c.name in HEADER_COLUMNS:
        cols = scaled(HEADER_COLUMNS[c.name], m, "mean")
    else:
        return None
    # The first column splits the result into one series per lap; as text it is not plotted itself.
    return f"SELECT CAST(lap AS text) AS lap, ts, {cols} FROM channel_windows {_where()}"


def _panel(c: Channel, cql: str) -> PanelBuilder:
    p = (
        channel_panel(c, Cql(cql).alias(LAP_ALIAS), live=False)
        .color_scheme(dash.FieldColor().mode(mdash.FieldColorModeId.PALETTE_CLASSIC_BY_NAME))
        .tooltip(VizTooltipOptions().mode(mcommon.TooltipDisplayMode.MULTI).sort(mcommon.SortOrder.DESCENDING))
    )
    if c.transport is not Transport.PAYLOAD:  # header channels: the mean alone
        return p
    # min and max: a thin dashed envelope in the lap's colour, out of the tooltip (it reads "lap 3"
    # for all three lines) and the legend
    for stat in ENVELOPE:
        name, props = override(
            stat,
            custom__lineStyle={"fill": "dash", "dash": [4, 4]},
            custom__fillOpacity=0,
            custom__hideFrom={"legend": True, "tooltip": True, "viz": False},
        )
        p = p.override_by_name(name, props)
    return p


def build(settings: BoardSettings | None = None, catalog: Catalog = CATALOG) -> mdash.Dashboard:
    # Only window sizes stored with per-channel columns can be read by CQL (the others are packed).
    sizes = [str(w) for w in (settings or BoardSettings()).window_columns_ms]
    window = (
        dash.CustomVariable("window")
        .label("Window (ms)")
        .values(",".join(sizes))
        .current(mdash.VariableOption(selected=True, text=sizes[0], value=sizes[0]))
    )
    lap = (
        cql_variable("lap", "Laps", "SELECT CAST(lap AS text) FROM laps WHERE session_id = $session")
        .multi(True)
        .include_all(True)
    )
    d = (
        dash.Dashboard("PERRINN 424 · Session channels")
        .uid(UID)
        .tags([*TAGS, "history"])
        .description("Stored windows (min, mean, max) of every catalog channel for chosen laps of a session.")
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(mdash.DashboardCursorSync.CROSSHAIR)
        .with_variable(car_variable())
        .with_variable(session_variable())
        .with_variable(window)
        .with_variable(lap)
    )
    for group, channels in catalog.groups().items():
        d = d.with_row(dash.Row(f"Channels: {group}"))
        for c in channels:
            cql = channel_query(c)
            if cql is not None:
                d = d.with_panel(_panel(c, cql))
    return number_panels(d.build())
