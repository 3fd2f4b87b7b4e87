"""Command line of the bridge: `unity-bridge serve | replay | simulate`.

The same argument sets back `./launchcommand.sh replay` and `./launchcommand.sh simulate`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from p424.config import Config, load_config


def add_replay_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        type=Path,
        help="a simulator lap CSV: upper-case headers, or mixed case with a units row; CR+LF or LF; "
        "its .metadata (lap.csv.metadata or lap.metadata) is used when present",
    )
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="real time multiplied by this factor (default 1)")
    pace.add_argument("--max", action="store_true", help="send as fast as possible")
    p.add_argument("--laps", type=int, default=1, help="loop the lap N times as one stint")
    p.add_argument("--car", type=int, default=1, help="car id")
    p.add_argument("--session", type=int, default=None, help="session id (default: a new random id)")
    p.add_argument(
        "--max-rate",
        type=float,
        default=None,
        help="with --max: cap in frames/s (default SENDER_MAX_RATE; 0 means unlimited)",
    )


def max_rate(args: argparse.Namespace, cfg: Config) -> float | None:
    if not args.max:
        return None
    rate = cfg.sender_max_rate if args.max_rate is None else args.max_rate
    return float(rate) if rate > 0 else None


def add_simulate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cars", type=int, default=1)
    p.add_argument("--rate", type=float, default=50.0, help="samples per second per car (50-1000)")
    p.add_argument("--laps", type=int, default=1, help="complete laps per car (ends on the line closing the last)")
    p.add_argument("--seed", type=int, default=0)
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="real time multiplied by this factor (default 1)")
    pace.add_argument("--max", action="store_true", help="send as fast as possible")
    p.add_argument(
        "--max-rate",
        type=float,
        default=None,
        help="with --max: cap in frames/s (default SENDER_MAX_RATE; 0 means unlimited)",
    )


def describe_sessions(cfg: Config, sessions: dict[int, int], source: str, track: str, description: str) -> None:
    """Record where the sessions came from (best effort: streaming does not depend on Cassandra)."""
    try:
        from p424.storage.reader import TelemetryStore

        with TelemetryStore(cfg) as store:
            for sid, car in sessions.items():
                store.describe_session(sid, car_id=car, source=source, track=track, description=description)
    except Exception as err:
        print(f"note: could not record the session description in Cassandra ({err.__class__.__name__}: {err})")


def run_replay(args: argparse.Namespace, cfg: Config) -> int:
    from unity_bridge.lapfile import LapFileError, read_lap_file
    from unity_bridge.streams import replay_lap

    if args.laps < 1:
        raise SystemExit("--laps must be at least 1")
    try:
        lap = read_lap_file(args.file)
    except LapFileError as err:
        raise SystemExit(f"replay: nothing sent: {err}") from None
    for line in lap.report():
        print(line)
    result = replay_lap(
        lap,
        cfg.host_of("bridge"),
        cfg.bridge_udp_port,
        None if args.max else args.speed,
        args.laps,
        args.car,
        args.session,
        max_rate(args, cfg),
    )
    ((sid, car),) = result.sessions.items()
    describe_sessions(
        cfg, result.sessions, "replay", result.track or "unknown", f"replay of {args.file.name} x{args.laps}"
    )
    print(
        f"sent {result.frames_sent} frames in {result.seconds:.1f} s ({result.rate:,.0f} frames/s); car "
        f"{car}, session {sid}"
    )
    return 0


def run_simulate(args: argparse.Namespace, cfg: Config) -> int:
    from unity_bridge.streams import simulate

    if not 1 <= args.rate <= 10_000 or args.cars < 1 or args.laps < 1:
        raise SystemExit("--rate must be within 1-10000 Hz, --cars and --laps at least 1")
    result = simulate(
        cfg.host_of("bridge"),
        cfg.bridge_udp_port,
        args.cars,
        args.rate,
        args.laps,
        args.seed,
        None if args.max else args.speed,
        max_rate(args, cfg),
    )
    print(f"sent {result.frames_sent} frames in {result.seconds:.1f} s ({result.rate:,.0f} frames/s)")
    describe_sessions(
        cfg,
        result.sessions,
        "simulate",
        "Nordschleife (simulated)",
        f"simulated, {args.rate:g} Hz, {args.laps} lap(s), seed {args.seed}",
    )
    for sid, car in result.sessions.items():
        print(f"  car {car}: session {sid}")
    return 0


def run_serve(args: argparse.Namespace, cfg: Config) -> int:
    from unity_bridge.server import Bridge, setup_logging

    setup_logging(args.log_level)
    bridge = Bridge(cfg)
    bridge.install_signal_handlers()
    bridge.run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="unity-bridge", description="PERRINN 424 UDP bridge into Kafka")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="receive UDP frames and forward them to Kafka")
    serve.add_argument("--log-level", default="INFO")
    add_replay_args(sub.add_parser("replay", help="send a simulator lap file as frames"))
    add_simulate_args(sub.add_parser("simulate", help="send simulated cars as frames"))
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    cfg = load_config(overrides={k.upper(): v for k, v in overrides.items()})
    handler = {"serve": run_serve, "replay": run_replay, "simulate": run_simulate}[args.command]
    return handler(args, cfg)
