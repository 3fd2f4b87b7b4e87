"""Job submission for compose mode (the `flink-job-submit` service), and the savepoint `down` takes.

Uses launcher/flink_submit.py, the code native mode runs: a job is submitted with
`flink run --detached --python ... -- --job-name NAME --pipeline-jars JARS` only when Flink's REST
API lists no active job of that name, so running `up` again never submits a second copy; it is
restored from the savepoint `down` took. `submit_jobs.py --stop` (run by `down` in this service's
container) stops each job with a savepoint in s3://<MINIO_BUCKET_FLINK>/savepoints. The registry of
job ids and savepoints lives in PLATFORM_STATE_DIR, a named volume, so it outlives the containers.
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


def flink_jobs() -> FlinkJobs:
    cfg = load_config()
    paths = StatePaths.of(cfg)
    paths.ensure()
    jars = sorted(CONNECTORS.glob("*.jar"))
    if not jars:
        raise PlatformError(f"no connector jars in {CONNECTORS}: the image is incomplete")
    return FlinkJobs(cfg, paths, dict(os.environ), Path(os.environ["FLINK_HOME"]), Path(sys.executable), jars)


def submit(jobs: FlinkJobs) -> int:
    for spec in platform_jobs(jobs.cfg):
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


def stop(jobs: FlinkJobs) -> int:
    """Each running job stopped with a savepoint, as native `down` does."""
    for spec in platform_jobs(jobs.cfg):
        location = jobs.stop_with_savepoint(spec.name)
        print(f"{spec.name}: " + (f"stopped with savepoint {location}" if location else "no savepoint (not running)"))
    return 0


def main(argv: list[str]) -> int:
    if argv not in ([], ["--stop"]):
        print(f"usage: {sys.argv[0]} [--stop]", file=sys.stderr)
        return 2
    try:
        jobs = flink_jobs()
    except PlatformError as err:
        print(err, file=sys.stderr)
        return 1
    return stop(jobs) if argv == ["--stop"] else submit(jobs)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
