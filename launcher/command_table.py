"""Every command of `./launchcommand.sh`, in one table: name -> handler, help text, arguments.

The handlers and their argument definitions are plain functions in the commands* modules, which
know nothing of this table or of the command line (launcher.cli builds the parser from the table).
A new command is a function and one entry here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from launcher import commands, commands_grafana, commands_ml, commands_platform
from unity_bridge import cli as bridge_cli

Handler = Callable[[argparse.Namespace, dict[str, str]], int]
Arguments = Callable[[argparse.ArgumentParser], object]


def no_arguments(p: argparse.ArgumentParser) -> None:
    """A command without arguments of its own."""


@dataclass(frozen=True, kw_only=True)
class Command:
    run: Handler
    help: str
    arguments: Arguments = no_arguments


COMMANDS: dict[str, Command] = {
    # ---- bring-up (commands_platform)
    "up": Command(
        run=commands_platform.cmd_up,
        help="install what is missing, start every service, provision, submit jobs (default)",
    ),
    "install": Command(
        run=commands_platform.cmd_install, help="install or update every component without starting anything"
    ),
    "down": Command(
        run=commands_platform.cmd_down,
        help="stop everything this platform started (data kept; --wipe deletes it)",
        arguments=commands_platform.down_args,
    ),
    "status": Command(
        run=commands_platform.cmd_status,
        help="one row per service (per node in a cluster): state, PID, port, health, URL",
        arguments=commands_platform.json_args,
    ),
    "logs": Command(run=commands_platform.cmd_logs, help="show a service's log", arguments=commands_platform.logs_args),
    "provision": Command(
        run=commands_platform.cmd_provision,
        help="create topics, buckets and the Cassandra schema in already-running services (idempotent)",
    ),
    "test": Command(
        run=commands_platform.cmd_test,
        help="install what is missing, bring the native stack up if needed, run checks and the test suite",
        arguments=commands_platform.test_args,
    ),
    # ---- data (commands)
    "replay": Command(
        run=commands.cmd_replay,
        help="send a simulator lap CSV through the bridge as protocol-v1 frames",
        arguments=bridge_cli.add_replay_args,
    ),
    "simulate": Command(
        run=commands.cmd_simulate,
        help="stream simulated PERRINN 424 cars through the bridge (load generator)",
        arguments=bridge_cli.add_simulate_args,
    ),
    "sessions": Command(run=commands.cmd_sessions, help="list the stored sessions", arguments=commands._sessions_args),
    "laps": Command(
        run=commands.cmd_laps,
        help="print the lap table of a session (time, distance, max speed, energies, mini-sectors, events)",
        arguments=commands._laps_args,
    ),
    "compare": Command(
        run=commands.cmd_compare,
        help="compare laps against a reference by distance: time delta per mini-sector, channels, plot",
        arguments=commands._compare_args,
    ),
    "export": Command(
        run=commands.cmd_export,
        help="write a session's laps as simulator lap files (CSV, replayable) or Parquet",
        arguments=commands._export_args,
    ),
    "demo": Command(
        run=commands.cmd_demo,
        help="bring the platform up and stream sessions through it (a real lap, simulated cars)",
        arguments=commands._demo_args,
    ),
    # ---- ML (commands_ml)
    "train": Command(
        run=commands_ml.cmd_train,
        help="trigger the lap-model training DAG in Airflow (--wait follows it and prints the outcome)",
        arguments=commands_ml._train_args,
    ),
    # ---- Grafana (commands_grafana)
    "grafana-sync": Command(
        run=commands_grafana.cmd_grafana_sync,
        help="create or update the folder, datasources, dashboards and Live token in GRAFANA_URL",
        arguments=commands_grafana._args,
    ),
}
