"""Bring-up figures of the native platform: cold install, `up`, `down`, idle memory.

    .platform/venvs/platform/bin/python bench/bench_platform.py [--cold] [--idle-seconds 30]

--cold   installs everything into a fresh state directory with empty pip/uv/Maven/Go caches (as
         on a new machine; downloads and builds, minutes) without starting anything.
Then, on the real state directory: `down` (timed), `up` with installs cached (timed, target
<= 120 s to all healthy), and after an idle period the resident memory of the whole stack
(target <= 6 GB), per service.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from p424.config import REPO_ROOT

LAUNCH = REPO_ROOT / "launchcommand.sh"


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.monotonic()
    subprocess.run(argv, check=True, env={**os.environ, **(env or {})}, cwd=REPO_ROOT)
    return time.monotonic() - t0


def cold_install() -> float:
    with tempfile.TemporaryDirectory(prefix="p424-cold-") as tmp:
        t = Path(tmp)
        env = {
            "PLATFORM_STATE_DIR": str(t / "state"),
            "UV_CACHE_DIR": str(t / "uv-cache"),
            "PIP_NO_CACHE_DIR": "1",
            "MAVEN_OPTS": f"-Dmaven.repo.local={t / 'm2'}",
            "GOMODCACHE": str(t / "gomod"),
            "GOCACHE": str(t / "gocache"),
            "GOFLAGS": "-modcacherw",
        }
        return timed([str(LAUNCH), "install"], env)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cold", action="store_true")
    p.add_argument("--idle-seconds", type=float, default=30.0)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    figures: dict[str, object] = {}
    if a.cold:
        figures["cold_install_s"] = cold_install()
        print(f"cold install (empty state and caches): {figures['cold_install_s']:.0f} s", flush=True)
    figures["down_s"] = timed([str(LAUNCH), "down"])
    print(f"down: {figures['down_s']:.1f} s (target <= 30 s)", flush=True)
    figures["up_s"] = timed([str(LAUNCH), "up"])
    print(
        f"up with installs cached, to all healthy with the Flink job running: {figures['up_s']:.1f} s "
        "(target <= 120 s)",
        flush=True,
    )
    time.sleep(a.idle_seconds)
    status = json.loads(
        subprocess.run([str(LAUNCH), "status", "--json"], capture_output=True, text=True, cwd=REPO_ROOT).stdout
    )
    per = {s["name"]: s["rss_mb"] for s in status["services"] if s["rss_mb"]}
    figures["rss_mb"] = per
    figures["rss_total_gb"] = sum(per.values()) / 1024
    print(f"idle resident memory after {a.idle_seconds:.0f} s: {figures['rss_total_gb']:.2f} GiB (target <= 6 GB)")
    for name, mb in per.items():
        print(f"  {name:<10} {mb:>6} MB")
    if a.json:
        a.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
