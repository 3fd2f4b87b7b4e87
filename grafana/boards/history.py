"""Session channels: the stored history of every catalog channel for chosen laps of a session.

Reads ``channel_windows`` (min, mean and max per window, in display units by CQL arithmetic) for
``$session``, window size ``$window`` and laps ``$lap``; the window partitions of a lap are
enumerated (``part IN``) so every read names whole partition keys. Set the time range to the
session (the Laps table of the Live car and Lap analysis dashboards shows its start).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
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
    session_variable,
)
from grafana.queries import Cql
from p424.catalog import CATALOG, Catalog, Channel, Transport

UID = "p424-session-channels"
MAX_PARTS = 10  # windows per part x 10: 100 minutes of 100 ms (1000 minutes of 1 s) windows in one lap
HEADER_COLUMNS = {"sim_time": "window_start", "lap": "lap", "lap_distance": "lap_distance"}


def _scaled(column: str, multiplier: float, alias: str) -> str:
    return f"{column} AS {alias}" if multiplier == 1 else f"{column} * {multiplier!r} AS {alias}"


def _where() -> str:
    parts = ", ".join(str(p) for p in range(MAX_PARTS))
    return (
        f"WHERE session_id = $session AND window_ms = $window AND lap IN (${{lap:csv}}) AND part IN ({parts}) "
        "AND ts >= $__timeFrom AND ts <= $__timeTo"
    )


def channel_query(c: Channel) -> str | None:
    """The channel's CQL, or None for a channel without window columns (markers: frame level only)."""
    m = c.multiplier
    if c.transport is Transport.PAYLOAD:
        cols = ", ".join(_scaled(f"{c.name}_{s}", m, s) for s in ("min", "mean", "max"))
    elif c.name in HEADER_COLUMNS:
        cols = _scaled(HEADER_COLUMNS[c.name], m, "mean")
    else:
        return None
    # The first column splits the result into one series per lap; as text it is not plotted itself.
    return f"SELECT CAST(lap AS text) AS lap, ts, {cols} FROM channel_windows {_where()}"


def _panel(c: Channel, cql: str) -> PanelBuilder:
    p = channel_panel(c, Cql(cql), live=False)
    # min and max as a thin dashed envelope around the mean
    for stat in ("min", "max"):
        name, props = override(stat, custom__lineStyle={"fill": "dash", "dash": [4, 4]}, custom__fillOpacity=0)
        p = p.override_by_regexp(f"^{name}", props)  # "min 3": Grafana appends the lap (frame name)
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
