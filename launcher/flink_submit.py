"""Submitting, finding and stopping the platform's PyFlink jobs on the session cluster.

A job is identified by its name. `up` submits a job only when no job of that name is running,
restoring from the savepoint `down` took, or else from the newest retained checkpoint, so state
and Kafka offsets carry over and nothing is processed twice or skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from launcher import console
from launcher.console import PlatformError
from launcher.paths import StatePaths
from p424.config import REPO_ROOT, Config

ACTIVE_STATES = {"CREATED", "RUNNING", "RESTARTING", "INITIALIZING", "RECONCILING", "FAILING", "CANCELLING"}


@dataclass(frozen=True)
class JobSpec:
    name: str
    script: Path  # a PyFlink program under flink_jobs/
    args: tuple[str, ...] = ()


# What the telemetry job imports: a change here means the running job is stale.
JOB_CODE = (
    "flink_jobs",
    "p424/processing",
    "p424/storage",
    "p424/kafka",
    "p424/codec",
    "p424/derived",  # maths channels, events, alarms (the definition files are the settings' paths)
    "p424/catalog",  # the channel list and every registered version (versions/*.json)
    "p424/ml/live/records.py",  # the predictor's rows, whose statements p424/storage/writes.py derives
    "p424/config.py",
    "p424/security/kafka.py",  # the SASL mechanism its Kafka clients log in with
    "p424/markers.py",
    "p424/records.py",
    "p424/sequence.py",
    "p424/units.py",
    "requirements/flink.lock",  # the environment it runs in
)


JOB_FILES = ("*.py", "*.json")  # in the directories above: code, and the catalog versions it reads


def code_digest(cfg: Config) -> str:
    """Hash of the Python code the job runs, the environment it runs in and the settings it reads."""
    h = hashlib.sha256(json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str).encode())
    for entry in JOB_CODE:
        root = REPO_ROOT / entry
        found = [p for pattern in JOB_FILES for p in root.rglob(pattern)] if root.is_dir() else [root]
        for path in sorted(found):  # the job's code and its environment
            h.update(str(path.relative_to(REPO_ROOT)).encode())
            h.update(path.read_bytes())
    from p424.derived import sources  # numpy and the catalog: only when a digest is wanted

    for source in sources(cfg):  # an edited maths, events or alarms file redeploys the job
        h.update(source.path.encode())
        h.update(source.text.encode())
    return h.hexdigest()[:16]


def platform_jobs(cfg: Config) -> list[JobSpec]:
    return [JobSpec(cfg.flink_job_name, REPO_ROOT / "flink_jobs" / "telemetry_job.py")]


@dataclass(frozen=True)
class JobInfo:
    job_id: str
    name: str
    state: str
    start_time_ms: int


class FlinkJobs:
    def __init__(
        self,
        cfg: Config,
        paths: StatePaths,
        flink_env: dict[str, str],
        flink_home: Path,
        python: Path,
        connector_jars: list[Path],
    ) -> None:
        self.cfg = cfg
        self.paths = paths
        self.env = flink_env
        self.home = flink_home
        self.python = python
        self.jars = connector_jars
        self.registry = paths.run / "flink-jobs.json"

    # ---------- REST ----------
    def _get(self, path: str) -> Any:
        r = requests.get(f"{self.cfg.flink_url}{path}", timeout=5)
        r.raise_for_status()
        return r.json()

    def jobs(self) -> list[JobInfo]:
        try:
            data = self._get("/jobs/overview")
        except (requests.RequestException, ValueError):
            return []
        return [JobInfo(j["jid"], j["name"], j["state"], j.get("start-time", 0)) for j in data.get("jobs", [])]

    def active(self, name: str) -> JobInfo | None:
        live = [j for j in self.jobs() if j.name == name and j.state in ACTIVE_STATES]
        return max(live, key=lambda j: j.start_time_ms) if live else None

    def subtask_taskmanagers(self, job_id: str) -> dict[str, int]:
        """TaskManager resource id -> how many of the job's running subtasks it hosts."""
        out: dict[str, int] = {}
        try:
            for vertex in self._get(f"/jobs/{job_id}").get("vertices", []):
                for sub in self._get(f"/jobs/{job_id}/vertices/{vertex['id']}").get("subtasks", []):
                    if sub.get("status") == "RUNNING":
                        tm = str(sub.get("taskmanager-id", sub.get("host", "?")))
                        out[tm] = out.get(tm, 0) + 1
        except (requests.RequestException, ValueError):
            return {}
        return out

    def checkpoint_age_s(self, job_id: str) -> float | None:
        try:
            latest = self._get(f"/jobs/{job_id}/checkpoints").get("latest", {}).get("completed")
        except (requests.RequestException, ValueError):
            return None
        if not latest:
            return None
        return max(0.0, time.time() - float(latest["latest_ack_timestamp"]) / 1000)

    # ---------- registry of the job ids we started (to find their checkpoints) ----------
    def _registry(self) -> dict[str, dict[str, str]]:
        return json.loads(self.registry.read_text()) if self.registry.exists() else {}

    def _remember(self, name: str, **fields: str) -> None:
        reg = self._registry()
        reg.setdefault(name, {}).update(fields)
        self.registry.write_text(json.dumps(reg, indent=2))

    def restore_point(self, name: str) -> str | None:
        """The savepoint taken by `down`, else the newest retained checkpoint of the last run.

        A savepoint on a remote filesystem (compose's s3://) is trusted as Flink reported it
        complete; a local one must still exist.
        """
        entry = self._registry().get(name, {})
        savepoint = entry.get("savepoint")
        if savepoint and "://" in savepoint and not savepoint.startswith("file:"):
            return savepoint
        if savepoint and Path(savepoint.removeprefix("file:")).exists():
            return savepoint.removeprefix("file:")
        job_id = entry.get("job_id")
        if not job_id:
            return None
        chk_root = self.paths.data / "flink" / "checkpoints" / job_id
        done = [p for p in chk_root.glob("chk-*") if (p / "_metadata").exists()]
        return str(max(done, key=lambda p: int(p.name.split("-")[1]))) if done else None

    # ---------- submit / stop ----------
    def submit(self, job: JobSpec, restore: str | None = None, wait_running_s: float = 120) -> JobInfo:
        jars = ";".join(f"file://{j}" for j in self.jars)
        argv = [
            str(self.home / "bin" / "flink"),
            "run",
            "--detached",
            "--python",
            str(job.script),
            "--pyExecutable",
            str(self.python),
            "--pyClientExecutable",
            str(self.python),
        ]
        if restore is not None:
            argv += ["--fromSavepoint", restore, "--allowNonRestoredState"]
        argv += ["--", "--job-name", job.name, "--pipeline-jars", jars, *job.args]
        log = self.paths.logs / f"flink-submit-{job.name}.log"
        with log.open("ab") as out:
            out.write(f"\n$ {' '.join(argv)}\n".encode())
            out.flush()
            result = subprocess.run(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                # The job resolves its settings in this client process: give it the launcher's.
                env={**self.cfg.environment(), **self.env},
                cwd=REPO_ROOT,
                timeout=300,
            )
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise PlatformError(f"submitting Flink job {job.name} failed. Last lines of {log}:\n{tail}")
        deadline = time.monotonic() + wait_running_s
        while time.monotonic() < deadline:
            info = self.active(job.name)
            if info and info.state == "RUNNING":
                self._remember(job.name, job_id=info.job_id, savepoint="")
                return info
            time.sleep(1)
        raise PlatformError(
            f"Flink job {job.name} did not reach RUNNING within {wait_running_s:.0f} s; see {self.cfg.flink_url}"
        )

    def ensure(self, job: JobSpec) -> tuple[JobInfo, str]:
        """Submit the job unless it runs; redeploy it (through a savepoint) when its code changed."""
        if self.cfg.flink_parallelism > self.cfg.flink_taskmanager_slots:
            raise PlatformError(
                f"FLINK_PARALLELISM={self.cfg.flink_parallelism} needs as many task slots, but "
                f"FLINK_TASKMANAGER_SLOTS={self.cfg.flink_taskmanager_slots}: raise the slots or lower the parallelism"
            )
        running = self.active(job.name)
        digest = code_digest(self.cfg)
        if running is not None:
            deployed = self._registry().get(job.name, {}).get("code")
            if deployed in (None, digest) or running.state != "RUNNING":
                self._remember(job.name, job_id=running.job_id, code=deployed or digest)
                return running, "already running"
            console.info(f"  the code or settings of {job.name} changed since its submission: redeploying")
            self.stop_with_savepoint(job.name)
        restore = self.restore_point(job.name)
        info = self.submit(job, restore)
        self._remember(job.name, code=digest)
        return info, f"submitted, restored from {restore}" if restore else "submitted (fresh state)"

    def stop_with_savepoint(self, name: str, timeout_s: float = 120) -> str | None:
        """Stop the job with a savepoint in the cluster's configured savepoint directory.

        That is `execution.checkpointing.savepoint-dir`: <data>/flink/savepoints natively,
        s3://<MINIO_BUCKET_FLINK>/savepoints in compose mode. The location is remembered for `up`.
        """
        job = self.active(name)
        if job is None:
            return None
        r = requests.post(f"{self.cfg.flink_url}/jobs/{job.job_id}/stop", json={"drain": False}, timeout=10)
        r.raise_for_status()
        trigger = r.json()["request-id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self._get(f"/jobs/{job.job_id}/savepoints/{trigger}")
            if status["status"]["id"] == "COMPLETED":
                op = status.get("operation", {})
                if "failure-cause" in op:
                    cause = op["failure-cause"].get("class")
                    console.warn(f"savepoint of {name} failed ({cause}); the retained checkpoint will be used")
                    return None
                location = str(op["location"])
                self._remember(name, job_id=job.job_id, savepoint=location)
                return location
            time.sleep(1)
        console.warn(f"savepoint of {name} did not finish in {timeout_s:.0f} s; the retained checkpoint will be used")
        return None
