"""Data commands of `./launchcommand.sh`: getting sessions in and looking at what is stored."""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from launcher import console
from launcher.console import PlatformError
from launcher.credentials import config_as
from unity_bridge import cli as bridge_cli


def cmd_replay(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return bridge_cli.run_replay(args, config_as("reader", overrides))


def cmd_simulate(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    return bridge_cli.run_simulate(args, config_as("reader", overrides))


def _sessions_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_sessions(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from p424.storage.reader import TelemetryStore

    with TelemetryStore(config_as("reader", overrides)) as store:
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
    p.add_argument(
        "--mini-sectors",
        action="store_true",
        help="print every lap's mini-sector times (MINI_SECTORS / MINI_SECTOR_LENGTH_M set how laps are cut)",
    )


# Timing-screen letters for mini-sector classes, with their terminal colours (purple, green, yellow, grey).
STATUS_MARK = {
    "session_best": ("P", "35"),
    "personal_best": ("G", "32"),
    "slower": ("Y", "33"),
    "invalidated": ("x", "90"),
}


def cmd_laps(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from p424.analysis import get_session, session_events
    from p424.analysis.events import event_counts
    from p424.analysis.minisectors import MiniSectorSettings, status_counts, theoretical_best
    from p424.storage.reader import TelemetryStore

    cfg = config_as("reader", overrides)
    settings = MiniSectorSettings.from_config(cfg)
    with TelemetryStore(cfg) as store:
        sid = args.session
        if sid is None:
            sessions = sorted(store.sessions(), key=lambda r: r.get("started_at") or datetime.min)
            if not sessions:
                console.error("no session is stored yet: stream one with ./launchcommand.sh simulate or replay")
                return 1
            sid = sessions[-1]["session_id"]
        session = get_session(sid, store)
        laps = session.laps
        mini = laps.mini_sectors(settings)
        events = session_events(session)
    counts = status_counts(mini).droplevel("SessionId") if not mini.empty else None
    try:
        best = theoretical_best(mini) if not mini.empty else None
    except ValueError:  # complete laps without a stored distance profile
        best = None
    if args.json:
        listed = {
            lap: group.drop(columns=["LapNumber"]).to_dict(orient="records")
            for lap, group in events.groupby("LapNumber")
        }
        table = laps.drop(columns=["LapTime"], errors="ignore")
        records = json.loads(table.to_json(orient="records", date_format="iso"))
        for rec in records:
            timed = counts.loc[rec["LapNumber"]] if counts is not None and rec["LapNumber"] in counts.index else None
            for status in STATUS_MARK:
                rec[f"MiniSectors_{status}"] = int(timed[status]) if timed is not None else 0
            rec["Events"] = listed.get(rec["LapNumber"], [])
        if not args.mini_sectors:
            print(json.dumps(records, default=str, indent=2))
            return 0
        doc = {
            "laps": records,
            "mini_sectors": json.loads(mini.to_json(orient="records")),
            "theoretical_best": None
            if best is None
            else {"lap_time": best.lap_time, "fastest_lap": best.fastest[1], "fastest_lap_time": best.fastest_lap_time},
        }
        print(json.dumps(doc, default=str, indent=2))
        return 0
    event_count = event_counts(events)
    print(f"session {sid}" + (f" ({session.track})" if session.track else ""))
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
            _counts(counts, int(r.LapNumber)),
            event_count.get(int(r.LapNumber), "-"),
        ]
        for r in laps.itertuples()
    ]
    header = ["lap", "time", "km", "max km/h", "kWh drawn", "kWh regen", "kWh net", "complete", "sectors"]
    print(console.table([*header, "mini P/G/Y", "events"], rows))
    if best is None:
        print(f"\nmini-sectors ({settings.describe()}): no complete lap yet")
        return 0
    print(
        f"\ntheoretical best {_laptime(best.lap_time)}: the best of each of {int(mini['MiniSector'].max())} "
        f"mini-sectors ({settings.describe()}); fastest lap {best.fastest[1]} {_laptime(best.fastest_lap_time)}, "
        f"{best.gain:.3f} s slower. P session best, G personal best, Y slower"
    )
    if args.mini_sectors:
        print()
        print(_mini_sector_table(mini))
    return 0


def _counts(counts: object, lap: int) -> str:
    import pandas as pd

    if not isinstance(counts, pd.DataFrame) or lap not in counts.index:
        return "-"
    c = counts.loc[lap]
    text = f"{c['session_best']}/{c['personal_best']}/{c['slower']}"
    return text + (f" ({c['invalidated']} invalidated)" if c["invalidated"] else "")


def _mini_sector_table(mini: object) -> str:
    """Rows are mini-sectors, columns laps: each cell the time and its timing-screen letter."""
    import pandas as pd

    assert isinstance(mini, pd.DataFrame)
    colour = sys.stdout.isatty()
    laps = sorted(mini["LapNumber"].unique())
    rows = []
    for n, sector in mini.groupby("MiniSector"):
        by_lap = sector.set_index("LapNumber")
        first = sector.iloc[0]
        cells = [int(n), f"{first.StartDistance / 1000:.2f}-{first.EndDistance / 1000:.2f}"]
        for lap in laps:
            r = by_lap.loc[lap]
            letter, code = STATUS_MARK.get(str(r.Status), ("?", "0"))
            text = f"{r.Time:.3f} {letter}" if math.isfinite(r.Time) else "-"
            cells.append(f"\033[{code}m{text}\033[0m" if colour and math.isfinite(r.Time) else text)
        rows.append(cells)
    return console.table(["mini", "km", *[f"lap {lap}" for lap in laps]], rows)


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--laps", nargs="+", required=True, metavar="SESSION:LAP", help="the laps to compare (any sessions)")
    p.add_argument(
        "--reference", default=None, metavar="SESSION:LAP", help="default: the fastest lap of the first lap's session"
    )
    p.add_argument(
        "--channels",
        nargs="+",
        default=None,
        metavar="CHANNEL",
        help="catalog channels to align by distance, or 'all' (default: the catalog's key channels)",
    )
    p.add_argument("--source", choices=["windows", "raw"], default="windows", help="100 ms windows or every frame")
    p.add_argument("--out", type=Path, default=None, help="write a plot (PNG, SVG or PDF by the file suffix)")
    p.add_argument("--force", action="store_true", help="compare laps even when their sessions' tracks differ")


def cmd_compare(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from p424.analysis import LapRef, compare, get_session
    from p424.analysis.minisectors import MiniSectorSettings
    from p424.catalog import CATALOG
    from p424.storage.reader import TelemetryStore

    try:
        wanted = [LapRef.parse(t) for t in args.laps]
        ref_key = LapRef.parse(args.reference) if args.reference else None
    except ValueError as err:
        raise PlatformError(str(err)) from None
    channels = list(CATALOG.payload_names) if args.channels == ["all"] else args.channels
    cfg = config_as("reader", overrides)
    with TelemetryStore(cfg) as store:
        sessions: dict[int, Any] = {}

        def lap(key: LapRef) -> Any:
            if key.session_id not in sessions:
                try:
                    sessions[key.session_id] = get_session(key.session_id, store)
                except KeyError as err:
                    raise PlatformError(str(err.args[0])) from None
            try:
                return sessions[key.session_id].laps.pick_lap(key.lap)
            except KeyError as err:
                raise PlatformError(f"session {key.session_id}: {err.args[0]}") from None

        laps = [lap(k) for k in wanted]
        reference = lap(ref_key) if ref_key else None
        try:
            cmp = compare(
                laps,
                reference,
                channels,
                source=args.source,
                settings=MiniSectorSettings.from_config(cfg),
                force=args.force,
            )
        except ValueError as err:  # unknown channel, other track, no complete lap to refer to
            raise PlatformError(str(err)) from None
    print(_comparison_text(cmp))
    if args.out:
        from p424.analysis.plotting import plot_comparison

        drawn = plot_comparison(cmp, args.out)
        more = len(cmp.channels) - len(drawn)
        console.info(
            f"plot written to {args.out}"
            + (f" (the first {len(drawn)} channels; {more} more not drawn)" if more else "")
        )
    return 0


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--session", type=int, required=True, help="session id")
    p.add_argument("--laps", type=int, nargs="+", default=[], metavar="LAP", help="lap numbers (default: every lap)")
    p.add_argument(
        "--channels", nargs="+", default=[], metavar="CHANNEL", help="catalog channels (default: those with a value)"
    )
    p.add_argument("--format", choices=["csv", "parquet"], required=True, dest="fmt")
    p.add_argument(
        "--source", choices=["raw", "windows"], default="raw", help="every frame (default) or the 100 ms windows"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="csv: a directory (default session-ID-laps); parquet: a file (default session-ID.parquet)",
    )


def cmd_export(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from p424.analysis import get_session
    from p424.export.session import ExportRequest, export_session
    from p424.storage.reader import TelemetryStore

    try:
        request = ExportRequest(
            session_id=args.session,
            fmt=args.fmt,
            source=args.source,
            laps=tuple(args.laps),
            channels=tuple(args.channels),
            out=args.out,
        )
    except ValueError as err:
        raise PlatformError(str(err)) from None
    with TelemetryStore(config_as("reader", overrides)) as store:
        try:
            session = get_session(args.session, store)
            written = export_session(session, request, progress=console.info)
        except (KeyError, ValueError) as err:
            raise PlatformError(str(err.args[0] if isinstance(err, KeyError) else err)) from None
    rows = sum(w.rows for w in written)
    console.info(f"exported {len(written)} file(s), {rows:,} rows, from session {args.session}")
    if args.fmt == "csv" and written:
        console.info(f"replay one: ./launchcommand.sh replay '{written[0].path}' --laps 1")
    return 0


def _comparison_text(cmp: Any) -> str:
    """The laps' times and final deltas, then the running delta at the end of each mini-sector."""
    ref = str(cmp.reference)
    others = [str(r) for r in cmp.laps if str(r) != ref]
    ref_time = cmp.lap_times[cmp.reference]
    head = [[ref, _laptime(ref_time), "reference"]]
    head += [[str(r), _laptime(t), f"{t - ref_time:+.3f}"] for r, t in cmp.lap_times.items() if str(r) != ref]
    lines = [console.table(["lap", "time", "delta (s)"], head), ""]
    ms = cmp.mini_sectors
    rows = []
    for n, sector in ms.groupby("MiniSector"):
        by_lap = sector.set_index("Lap")
        first = sector.iloc[0]
        cells = [int(n), f"{first.EndDistance / 1000:.2f}", _num(first.ReferenceTime, 1, 3)]
        for lap in others:
            r = by_lap.loc[lap]
            cells.append(f"{r.CumulativeDelta:+.3f} ({r.Delta:+.3f})" if math.isfinite(r.Delta) else "-")
        rows.append(cells)
    lines.append("delta to the reference at the end of each mini-sector, s: running total (this mini-sector)")
    lines.append(console.table(["mini", "to km", f"{ref} s", *others], rows))
    return "\n".join(lines)


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
    cfg = config_as("reader", overrides)
    host, port, cap = cfg.host_of("bridge"), cfg.bridge_udp_port, float(cfg.sender_max_rate) or None
    lap_file = REPO_ROOT / "tests" / "data" / "perrinn424_lap_start_mgu_50hz.csv"
    console.info(f"replaying the first 22 s of a real Nordschleife lap ({lap_file.name}) as a {args.laps}-lap stint")
    replayed = replay_lap_file(lap_file, host, port, None, args.laps, 1, None, cap)
    describe_sessions(cfg, replayed.sessions, "replay", "Nordschleife", f"demo: replay of {lap_file.name} x{args.laps}")
    console.info(f"simulating {args.cars} PERRINN 424 car(s) for {args.sim_laps} lap(s) of the Nordschleife at 50 Hz")
    simulated = simulate(host, port, args.cars, 50.0, args.sim_laps, 0, None, cap)
    describe_sessions(cfg, simulated.sessions, "simulate", "Nordschleife (simulated)", "demo: simulated at 50 Hz")
    sessions = {**replayed.sessions, **simulated.sessions}
    # a replayed or simulated stint ends with the line crossing that closes its last lap: all its laps complete
    want = {**dict.fromkeys(replayed.sessions, args.laps), **dict.fromkeys(simulated.sessions, args.sim_laps)}
    console.info(f"sent {replayed.frames_sent + simulated.frames_sent:,} frames; waiting for Flink to store them ...")
    with TelemetryStore(cfg) as store:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if all(sum(bool(lap["complete"]) for lap in store.laps(sid)) >= want[sid] for sid in sessions):
                break
            time.sleep(2)
    for sid in sessions:
        cmd_laps(argparse.Namespace(session=sid, json=False, mini_sectors=False), overrides)
        print()
    console.info("next: ./launchcommand.sh sessions | laps --session ID | train --wait (URLs in the table above)")
    return 0
