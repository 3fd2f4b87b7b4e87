"""What the platform looked like when a test that talks to it failed.

CI keeps only pytest's output, not the services' logs, so a failing platform test reports the Flink
jobs and their latest failures (Flink's REST API: /jobs/overview, /jobs/:id/exceptions), the
TaskManagers' slots, which processes are up, and the last errors the TaskManagers logged.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests

from launcher.native import NativePlatform

LOG_LINES = 12  # error lines kept from each TaskManager log
EXCEPTIONS = 3  # latest failures kept per job


def _get(platform: NativePlatform, path: str) -> Any:
    r = requests.get(f"{platform.cfg.flink_url}{path}", timeout=5)
    r.raise_for_status()
    return r.json()


def flink_jobs(platform: NativePlatform) -> list[str]:
    lines = []
    for job in _get(platform, "/jobs/overview").get("jobs", []):
        if job["state"] in ("FINISHED", "CANCELED") and job.get("end-time", 0) > 0:
            continue
        lines.append(f"job {job['name']} {job['jid'][:8]}: {job['state']} for {job.get('duration', 0) / 1000:.0f} s")
        history = _get(platform, f"/jobs/{job['jid']}/exceptions").get("exceptionHistory", {}).get("entries", [])
        for entry in history[:EXCEPTIONS]:
            when = time.strftime("%H:%M:%S", time.localtime(entry.get("timestamp", 0) / 1000))
            trace = (entry.get("stacktrace") or entry.get("exceptionName") or "").strip().splitlines()
            lines.append(f"  failed {when}: {_cause(trace)[:400]}")
    return lines


def _cause(trace: list[str]) -> str:
    """The exception's first line, its innermost Java cause and the Python error a worker raised (the
    unindented line closing a traceback Beam quotes)."""
    causes = [t.strip() for t in trace if t.startswith("Caused by:")]
    python = [t for t in trace[1:] if t and not t[0].isspace() and not t.startswith(("Caused by:", "..."))]
    return " ... ".join(dict.fromkeys([*trace[:1], *causes[-1:], *python[-1:]]))


def taskmanagers(platform: NativePlatform) -> list[str]:
    return [
        f"taskmanager {tm['id']}: {tm['freeSlots']} of {tm['slotsNumber']} slots free"
        for tm in _get(platform, "/taskmanagers").get("taskmanagers", [])
    ]


def services(platform: NativePlatform) -> list[str]:
    rows = platform.status()
    disk = shutil.disk_usage(platform.paths.root)
    return [
        "services: " + ", ".join(f"{r.name} {r.state}{'' if r.healthy else ' (unhealthy)'}" for r in rows),
        f"disk free under {platform.paths.root}: {disk.free / 2**30:.1f} GiB of {disk.total / 2**30:.0f} GiB",
    ]


def _errors(log: Path) -> Iterable[str]:
    try:
        with log.open(errors="replace") as f:
            tail = f.readlines()[-5000:]
    except OSError:
        return []
    return [line.rstrip()[:300] for line in tail
            if (" ERROR " in line or "Exception" in line) and not line.lstrip().startswith("at ")][-LOG_LINES:]


def taskmanager_errors(platform: NativePlatform) -> list[str]:
    lines = []
    for log in sorted((platform.paths.logs / "flink").glob("flink--taskexecutor-*.log")):
        errors = list(_errors(log))
        if errors:
            lines += [f"last errors in {log.name}:", *(f"  {e}" for e in errors)]
    return lines


def report(platform: NativePlatform) -> str:
    """The platform's state, each part on its own so one unreachable service does not hide the rest."""
    out = [f"at {time.strftime('%H:%M:%S')}"]
    for part in (services, taskmanagers, flink_jobs, taskmanager_errors):
        try:
            out += part(platform)
        except Exception as err:  # a diagnosis must never mask the failure itself
            out.append(f"{part.__name__}: unavailable ({err!r})")
    return "\n".join(out)
