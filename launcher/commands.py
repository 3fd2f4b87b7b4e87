"""Data commands of `./launchcommand.sh`: getting sessions in and looking at what is stored."""

from __future__ import annotations

import argparse
import json
import math
from datetime import datetime, timedelta

from launcher import console
from p424.config import load_config
from unity_bridge import cli as bridge_cli


def cmd_replay(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return bridge_cli.run_replay(args, load_config(overrides=overrides))


def cmd_simulate(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return bridge_cli.run_simulate(args, load_config(overrides=overrides))


def _sessions_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_sessions(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from p424.storage.reader import TelemetryStore

    with TelemetryStore(load_config(overrides=overrides)) as store:
        rows = sorted(store.sessions(), key=lambda r: r.get("started_at") or datetime.min, reverse=True)
        quality = {q["session_id"]: q for q in store.all_quality()}
    if args.json:
        print(
            json.dumps(
                [
                    {
                        **r,
                        **{f"quality_{k}": v for k, v in quality.get(r["session_id"], {}).items() if k != "session_id"},
                    }
                    for r in rows
                ],
                default=str,
                indent=2,
            )
        )
        return 0
    table = [
        [
            r["session_id"],
            r.get("car_id"),
            _when(r.get("started_at")),
            r.get("track") or "-",
            r.get("source") or "-",
            r.get("frames"),
            r.get("laps"),
            quality.get(r["session_id"], {}).get("frames_lost", "-"),
            quality.get(r["session_id"], {}).get("frames_late", "-"),
        ]
        for r in rows
    ]
    print(
        console.table(["session", "car", "started (UTC)", "track", "source", "frames", "laps", "lost", "late"], table)
    )
    return 0


def _laps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--session", type=int, default=None, help="session id (default: the most recent session)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_laps(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from p424.analysis import get_session
    from p424.storage.reader import TelemetryStore

    with TelemetryStore(load_config(overrides=overrides)) as store:
        sid = args.session
        if sid is None:
            sessions = sorted(store.sessions(), key=lambda r: r.get("started_at") or datetime.min)
            if not sessions:
                console.error("no session is stored yet: stream one with ./launchcommand.sh simulate or replay")
                return 1
            sid = sessions[-1]["session_id"]
        laps = get_session(sid, store).laps
    if args.json:
        print(laps.drop(columns=["LapTime"], errors="ignore").to_json(orient="records", date_format="iso", indent=2))
        return 0
    print(f"session {sid}")
    rows = [
        [
            int(r.LapNumber),
            _laptime(r.LapTimeSeconds),
            f"{r.Distance / 1000:.3f}",
            _num(r.MaxSpeed, 3.6, 1),
            _num(r.EnergyDrawnKWh, 1, 3),
            _num(r.EnergyRegenKWh, 1, 3),
            _num(r.EnergyNetKWh, 1, 3),
            "yes" if r.Complete else "no" + (" (in progress or cut short)" if not r.Invalidated else ""),
            " ".join(_laptime(s.total_seconds()) for s in _sectors(r)),
        ]
        for r in laps.itertuples()
    ]
    print(
        console.table(
            ["lap", "time", "km", "max km/h", "kWh drawn", "kWh regen", "kWh net", "complete", "sectors"], rows
        )
    )
    return 0


def _laptime(seconds: float) -> str:
    m, s = divmod(float(seconds), 60)
    return f"{int(m)}:{s:06.3f}"


def _num(value: float | None, scale: float, digits: int) -> str:
    return "-" if value is None or math.isnan(value) else f"{value * scale:.{digits}f}"


def _sectors(row: object) -> list[timedelta]:
    return [v for k, v in row._asdict().items() if k.startswith("Sector") and isinstance(v, timedelta)]  # type: ignore[attr-defined]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--laps", type=int, default=3, help="loops of the real lap file to replay (default 3)")
    p.add_argument("--cars", type=int, default=2, help="simulated cars (default 2)")
    p.add_argument("--sim-laps", type=int, default=2, help="laps per simulated car (default 2)")


def cmd_demo(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    """What a new user runs first: everything up, data flowing, results printed."""
    import time

    from launcher.platforms import open_platform, print_status
    from p424.config import REPO_ROOT
    from p424.storage.reader import TelemetryStore
    from unity_bridge.cli import describe_sessions
    from unity_bridge.streams import replay_lap_file, simulate

    platform = open_platform(args.mode, overrides)
    platform.up()
    print_status(platform)
    cfg = load_config(overrides=overrides)
    host, port, cap = cfg.host_of("bridge"), cfg.bridge_udp_port, float(cfg.sender_max_rate) or None
    lap_file = REPO_ROOT / "tests" / "data" / "perrinn424_lap_start_mgu_50hz.csv"
    console.info(f"replaying the first 22 s of a real Nordschleife lap ({lap_file.name}) as a {args.laps}-lap stint")
    replayed = replay_lap_file(lap_file, host, port, None, args.laps, 1, None, cap)
    describe_sessions(cfg, replayed.sessions, "replay", "Nordschleife", f"demo: replay of {lap_file.name} x{args.laps}")
    console.info(f"simulating {args.cars} PERRINN 424 car(s) for {args.sim_laps} lap(s) of the Nordschleife at 50 Hz")
    simulated = simulate(host, port, args.cars, 50.0, args.sim_laps, 0, None, cap)
    describe_sessions(cfg, simulated.sessions, "simulate", "Nordschleife (simulated)", "demo: simulated at 50 Hz")
    sessions = {**replayed.sessions, **simulated.sessions}
    console.info(f"sent {replayed.frames_sent + simulated.frames_sent:,} frames; waiting for Flink to store them ...")
    with TelemetryStore(cfg) as store:
        # Each session's last lap is written once the session has been silent for SESSION_IDLE_TIMEOUT_S.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if all(any(not lap["complete"] for lap in store.laps(sid)) for sid in sessions):
                break
            time.sleep(2)
    for sid in sessions:
        cmd_laps(argparse.Namespace(session=sid, json=False), overrides)
        print()
    console.info("next: ./launchcommand.sh sessions | laps --session ID | train --wait (URLs in the table above)")
    return 0
