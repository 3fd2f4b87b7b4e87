"""`./launchcommand.sh grafana-sync`: provision the Grafana at GRAFANA_URL (folder, datasources,
dashboards, the Live pusher's service account and token), idempotently. The logic is grafana.sync."""

from __future__ import annotations

import argparse

from launcher import console
from launcher.console import PlatformError
from launcher.credentials import config_as, set_credential
from launcher.paths import StatePaths
from p424.config import load_config


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cassandra-url",
        default="",
        help="host:port[;host:port...] of Cassandra as Grafana reaches it (default: every node, CASSANDRA_PORT)",
    )
    p.add_argument(
        "--prometheus-url",
        default=None,
        help="Prometheus for the health dashboard (default PROMETHEUS_URL; none: skipped)",
    )


def cmd_grafana_sync(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from grafana.sync import SyncSettings, sync

    cfg = load_config(overrides=overrides)
    if cfg.auth_enabled and not cfg.cassandra_username:  # compose hands grafana-init the reader's login
        cfg = config_as("reader", overrides)
    if not cfg.grafana_url:
        raise PlatformError("GRAFANA_URL is not set: point it at a Grafana (--set GRAFANA_URL=http://host:3000)")
    if not cfg.grafana_admin_password:
        raise PlatformError("GRAFANA_ADMIN_PASSWORD is not set (generated credentials, or --set it)")
    settings = SyncSettings(
        # The Cassandra datasource splits its URL into contact points at ';'.
        cassandra_url=args.cassandra_url or ";".join(f"{h}:{cfg.cassandra_port}" for h in cfg.cassandra_nodes),
        keyspace=cfg.cassandra_keyspace,
        prometheus_url=cfg.prometheus_url if args.prometheus_url is None else args.prometheus_url,
        live_stream=cfg.grafana_live_stream,
        window_columns_ms=tuple(sorted(cfg.window_column_sizes, reverse=True)),
        live_window_ms=cfg.live_window_ms,
        existing_token=cfg.grafana_token,
        cassandra_login=(cfg.cassandra_username, cfg.cassandra_password) if cfg.auth_enabled else None,
    )
    with console.step(f"sync Grafana at {cfg.grafana_url}"):
        result = sync(cfg.grafana_url, (cfg.grafana_admin_user, cfg.grafana_admin_password), settings)
    for change in result.changes or ["nothing to change"]:
        console.info(f"  {change}")
    if result.token:
        path = StatePaths.of(cfg).credentials
        set_credential(path, "GRAFANA_TOKEN", result.token)
        console.info(f"  stored the Live pusher's token as GRAFANA_TOKEN in {path}")
    return 0
