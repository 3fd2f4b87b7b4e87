"""Data commands of `./launchcommand.sh`: getting sessions in and looking at what is stored."""

from __future__ import annotations

import argparse

from launcher.cli import command
from p424.config import load_config
from unity_bridge import cli as bridge_cli


@command("replay", "send a simulator lap CSV through the bridge as protocol-v1 frames", bridge_cli.add_replay_args)
def cmd_replay(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return bridge_cli.run_replay(args, load_config(overrides=overrides))


@command("simulate", "stream simulated PERRINN 424 cars through the bridge (load generator)", bridge_cli.add_simulate_args)
def cmd_simulate(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return bridge_cli.run_simulate(args, load_config(overrides=overrides))
