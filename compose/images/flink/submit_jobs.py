"""One-shot job submission for compose mode (the `flink-job-submit` service).

Uses launcher/flink_submit.py, the code native mode runs: a job is submitted with
`flink run --detached --python ... -- --job-name NAME --pipeline-jars JARS` only when Flink's REST
API lists no active job of that name, so running `up` again never submits a second copy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from launcher.console import PlatformError
from launcher.flink_submit import FlinkJobs, platform_jobs
from launcher.paths import StatePaths
from p424.config import load_config

CONNECTORS = Path("/opt/flink/connectors")


def main() -> int:
    cfg = load_config()
    paths = StatePaths.of(cfg)
    paths.ensure()
    jars = sorted(CONNECTORS.glob("*.jar"))
    if not jars:
        print(f"no connector jars in {CONNECTORS}: the image is incomplete", file=sys.stderr)
        return 1
    jobs = FlinkJobs(cfg, paths, dict(os.environ), Path(os.environ["FLINK_HOME"]), Path(sys.executable), jars)
    for spec in platform_jobs(cfg):
        if not spec.script.exists():
            # As natively: a job whose program is not in this checkout is skipped, not an error.
            print(f"{spec.name}: {spec.script} not found, skipped")
            continue
        try:
            info, how = jobs.ensure(spec)
        except PlatformError as err:
            print(f"{spec.name}: {err}", file=sys.stderr)
            return 1
        print(f"{spec.name}: {info.state} ({how}, job id {info.job_id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
