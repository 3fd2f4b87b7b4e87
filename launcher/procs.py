"""Native process supervision by PID file.

Each service process runs in its own session (process group), so stopping it also stops the
children it spawned (Flink's Python workers, Airflow's task processes, MLflow's web workers).
A PID file records the PID and the process start time, so a recycled PID is never mistaken for
ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from p424.security.identities import SECRET_VARIABLES


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    stop_timeout: float = 30.0


def inherited_environment() -> dict[str, str]:
    """The launcher's environment as a started process inherits it: without any secret variable."""
    return {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}


def _start_time(pid: int) -> str | None:
    """Process start time in clock ticks since boot (field 22 of /proc/PID/stat), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after the closing parenthesis are safe.
    rest = stat[stat.rindex(")") + 2 :].split()
    if rest[0] == "Z":  # zombie: exited, not yet reaped
        return None
    return rest[19]


# Popen handles of processes started by this interpreter. Services outlive the launcher by design;
# keeping the handle stops Python from warning that a still-running child was garbage-collected.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


class Supervisor:
    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def pid(self, name: str) -> int | None:
        """PID of the running process started under ``name``, or None."""
        try:
            pid_text, started = self.pid_file(name).read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        return pid if _start_time(pid) == started else None

    def running(self, name: str) -> bool:
        return self.pid(name) is not None

    def start(self, spec: ProcessSpec) -> int:
        existing = self.pid(spec.name)
        if existing is not None:
            return existing
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**inherited_environment(), **spec.env}
        with self.log_path(spec.name).open("ab") as log:
            log.write(
                f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {spec.name}: {' '.join(spec.argv)}\n".encode()
            )
            log.flush()
            proc = subprocess.Popen(
                spec.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=spec.cwd,
                env=env,
                start_new_session=True,
            )
        _STARTED[proc.pid] = proc
        started = _start_time(proc.pid)
        self.pid_file(spec.name).write_text(f"{proc.pid} {started}\n")
        return proc.pid

    def exited_early(self, name: str) -> bool:
        """True when a PID file exists but its process is gone (it crashed during start-up)."""
        return self.pid_file(name).exists() and self.pid(name) is None

    def stop(self, name: str, timeout: float = 30.0) -> bool:
        """SIGTERM the process group, wait, then SIGKILL. Returns True if it had been running."""
        pid = self.pid(name)
        if pid is None:
            self.pid_file(name).unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if _start_time(pid) is None:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        # Children that outlived the leader (same process group) get the same treatment.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        proc = _STARTED.pop(pid, None)
        if proc is not None:
            proc.wait(timeout=5)
        self.pid_file(name).unlink(missing_ok=True)
        return True

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_path(name)
        if not path.exists():
            return f"(no log at {path})"
        with path.open("rb") as f:
            return b"".join(deque(f, maxlen=lines)).decode(errors="replace")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    stack = [pid]
    while stack:
        for c in children.get(stack.pop(), []):
            out.append(c)
            stack.append(c)
    return out
