"""ML commands of `./launchcommand.sh`: `train [--wait]` triggers the training DAG through Airflow's REST API.

``AirflowClient`` (REST API v2 with a JWT from the generated admin credentials) is shared by the
command, the ML tests and ``bench/bench_training.py``. A run's outcome holds the steps' typed results
(``p424.ml.steps``), read back from the tasks' XComs.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from launcher import console
from launcher.console import PlatformError
from launcher.services.airflow import api_token, quote_id
from p424.config import Config, load_config
from p424.ml.steps import TARGET_TITLES, TARGETS, THIRDS, Extracted, Registered, Trained
from p424.ml.typed import JsonRecord

TRAINING_DAG = "p424_train_lap_model"
FINAL_STATES = ("success", "failed")
TASKS = ("resolve_settings", "extract", "train", "register")


@dataclass(frozen=True, kw_only=True)
class RunOutcome(JsonRecord):
    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, str] = field(default_factory=dict)  # task id -> state
    extracted: Extracted | None = None
    trained: Trained | None = None
    registered: Registered | None = None
    skip_reason: str | None = None
    failure: str | None = None
    seconds: float = 0.0


class AirflowClient:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.base = f"{cfg.airflow_url}/api/v2"
        self._token = api_token(cfg)

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        r = requests.request(
            method, f"{self.base}{path}", headers={"Authorization": f"Bearer {self._token}"}, timeout=30, **kw
        )
        if r.status_code == 401:  # token expired during a long wait
            self._token = api_token(self.cfg)
            r = requests.request(
                method, f"{self.base}{path}", headers={"Authorization": f"Bearer {self._token}"}, timeout=30, **kw
            )
        if not r.ok:
            raise PlatformError(f"Airflow API {method} {path} answered {r.status_code}: {r.text[:300]}")
        return r.json() if r.content else None

    def wait_for_dag(self, dag_id: str, timeout_s: float = 90.0) -> dict[str, Any]:
        """The DAG's record, once the dag-processor has parsed it (it re-reads the folder every 30 s)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                dag: dict[str, Any] = self._request("GET", f"/dags/{quote_id(dag_id)}")
                return dag
            except PlatformError as err:
                if "404" not in str(err) or time.monotonic() > deadline:
                    errors = self._request("GET", "/importErrors").get("import_errors", [])
                    mine = [e for e in errors if dag_id in e.get("filename", "") or dag_id in e.get("stack_trace", "")]
                    detail = f"; import errors: {mine[0]['stack_trace'][-800:]}" if mine else ""
                    raise PlatformError(
                        f"Airflow does not know DAG {dag_id} (is airflow/dags/ its DAG folder?){detail}"
                    ) from err
            time.sleep(2)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, note: str = "") -> str:
        dag = self.wait_for_dag(dag_id)
        if dag.get("is_paused"):
            self._request("PATCH", f"/dags/{quote_id(dag_id)}", json={"is_paused": False})
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if note:
            body["note"] = note
        run = self._request("POST", f"/dags/{quote_id(dag_id)}/dagRuns", json=body)
        return str(run["dag_run_id"])

    @staticmethod
    def _ti(dag_id: str, run_id: str, task_id: str) -> str:
        return f"/dags/{quote_id(dag_id)}/dagRuns/{quote_id(run_id)}/taskInstances/{quote_id(task_id)}"

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self._request("GET", f"/dags/{quote_id(dag_id)}/dagRuns/{quote_id(run_id)}")["state"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self._request("GET", f"/dags/{quote_id(dag_id)}/dagRuns/{quote_id(run_id)}/taskInstances")
        return {t["task_id"]: str(t["state"]) for t in tis.get("task_instances", [])}

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        try:
            entry = self._request(
                "GET", f"{self._ti(dag_id, run_id, task_id)}/xcomEntries/return_value", params={"deserialize": "true"}
            )
        except PlatformError:
            return None
        value = entry.get("value")
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """The task's last try's log as plain text."""
        tries = int(self._request("GET", self._ti(dag_id, run_id, task_id)).get("try_number") or 1)
        log = self._request(
            "GET", f"{self._ti(dag_id, run_id, task_id)}/logs/{max(tries, 1)}", params={"full_content": "true"}
        )
        content = log.get("content") if isinstance(log, dict) else log
        if isinstance(content, list):
            return "\n".join(_log_line(e) for e in content)
        return str(content)

    def wait(self, dag_id: str, run_id: str, timeout_s: float, on_change: Any = None) -> str:
        deadline = time.monotonic() + timeout_s
        seen: dict[str, str] = {}
        while True:
            state = self.run_state(dag_id, run_id)
            if on_change is not None:
                states = self.task_states(dag_id, run_id)
                for task, s in states.items():
                    if seen.get(task) != s:
                        on_change(task, s)
                seen = states
            if state in FINAL_STATES:
                return state
            if time.monotonic() > deadline:
                raise PlatformError(
                    f"DAG run {run_id} still {state} after {timeout_s:.0f} s; follow it in the "
                    f"Airflow UI ({self.cfg.airflow_url}/dags/{dag_id}/runs/{run_id})"
                )
            time.sleep(1.0)

    def outcome(self, dag_id: str, run_id: str, seconds: float = 0.0) -> RunOutcome:
        tasks = self.task_states(dag_id, run_id)
        extracted, trained, registered = (self.xcom(dag_id, run_id, t) for t in ("extract", "train", "register"))
        skip_reason = failure = None
        if tasks.get("extract") == "skipped":
            skip_reason = _line_with(self.task_log(dag_id, run_id, "extract"), "SKIPPED:") or "extract skipped"
        failed = [t for t, s in tasks.items() if s == "failed"]
        if failed:
            failure = f"task {failed[0]} failed:\n" + _tail(self.task_log(dag_id, run_id, failed[0]), 25)
        return RunOutcome(
            dag_id=dag_id,
            run_id=run_id,
            state=self.run_state(dag_id, run_id),
            tasks=tasks,
            extracted=Extracted.from_dict(extracted) if isinstance(extracted, dict) else None,
            trained=Trained.from_dict(trained) if isinstance(trained, dict) else None,
            registered=Registered.from_dict(registered) if isinstance(registered, dict) else None,
            skip_reason=skip_reason,
            failure=failure,
            seconds=seconds,
        )


def _log_line(event: Any) -> str:
    """A structured Airflow 3 log event as text, with the exception of an error event."""
    if not isinstance(event, dict):
        return str(event)
    line = str(event.get("event", ""))
    for err in event.get("error_detail") or []:
        line += f"\n{err.get('exc_type')}: {err.get('exc_value')}"
    return line


def _line_with(text: str, marker: str) -> str | None:
    for line in text.splitlines():
        if marker in line:
            return line[line.index(marker) + len(marker) :].strip()
    return None


def _tail(text: str, n: int) -> str:
    return "\n".join(text.splitlines()[-n:])


def train_conf(args: argparse.Namespace) -> dict[str, Any]:
    conf: dict[str, Any] = {}
    if args.model_name:
        conf["model_name"] = args.model_name
    if args.session:
        conf["session_ids"] = [int(s) for s in args.session]
    if args.min_laps is not None:
        conf["min_laps"] = args.min_laps
    if args.max_iter is not None:
        conf["max_iter"] = args.max_iter
    if args.source:
        conf["source"] = args.source
    if args.archive_prefix:
        conf["archive_prefix"] = args.archive_prefix
    return conf


def trigger_training(
    cfg: Config, conf: dict[str, Any], wait: bool, timeout_s: float = 900.0, quiet: bool = False
) -> RunOutcome:
    client = AirflowClient(cfg)
    started = time.monotonic()
    run_id = client.trigger(TRAINING_DAG, conf, note="./launchcommand.sh train")
    if not quiet:
        console.info(f"triggered {TRAINING_DAG} run {run_id} ({cfg.airflow_url}/dags/{TRAINING_DAG}/runs/{run_id})")
    if not wait:
        return RunOutcome(dag_id=TRAINING_DAG, run_id=run_id, state=client.run_state(TRAINING_DAG, run_id))

    def progress(task: str, state: str) -> None:
        if not quiet and state not in ("None", "scheduled", "queued"):
            console.info(f"  {task}: {state} ({time.monotonic() - started:.0f} s)")

    client.wait(TRAINING_DAG, run_id, timeout_s, progress)
    return client.outcome(TRAINING_DAG, run_id, time.monotonic() - started)


def outcome_lines(out: RunOutcome, cfg: Config) -> list[str]:
    """What `train --wait` prints: the run, then per track its data, errors against each baseline (overall
    and by third of the lap) and what became of the model version."""
    lines = [f"run id:  {out.run_id}", f"state:   {out.state} ({out.seconds:.0f} s)"]
    if out.skip_reason:
        lines.append(f"skipped: {out.skip_reason}")
    trained = {t.track: t for t in (out.trained.tracks if out.trained else ())}
    registered = {p.track: p for p in (out.registered.tracks if out.registered else ())}
    for d in out.extracted.tracks if out.extracted else ():
        lines += ["", f"track:   {d.track} (registered model {d.model_name})"]
        lines.append(
            f"data:    {d.laps} laps ({d.train_laps} train / {d.validation_laps} validation, "
            f"{d.train_sessions} / {d.validation_sessions} sessions; {d.validation_laps_with_reference} validation "
            f"laps had an earlier lap as reference), {d.windows} windows"
        )
        t = trained.get(d.track)
        if t is not None:
            e = t.evaluation
            for target in TARGETS:
                title, unit = TARGET_TITLES[target]
                lines.append(f"{title}: MAE (overall; {' / '.join(THIRDS)} third), {unit}")
                m = e.model[target]
                lines.append(f"  model                {_errors(m.mae, m.thirds)}")
                for c in e.comparisons:
                    if c.target == target:
                        lines.append(
                            f"  {c.baseline + ' baseline':<20} {_errors(c.other.mae, c.other.thirds)}"
                            f"   (model on its {c.laps} laps: {_errors(c.model.mae, c.model.thirds)})"
                            if c.other.windows
                            else f"  {c.baseline + ' baseline':<20} no held-out lap to compare on"
                        )
            lines.append(f"mlflow:  {cfg.mlflow_url}/#/experiments/{t.experiment_id}/runs/{t.run_id} (model_card.md)")
        p = registered.get(d.track)
        if p is not None:
            champion = f"v{p.champion}" if p.champion else "none"
            lines.append(f"model:   {p.model_name} v{p.version} -> alias '{p.alias}' (champion is {champion})")
            lines.append(f"reason:  {p.reason}")
    for s in out.extracted.skipped if out.extracted else ():
        lines.append(f"not trained: track {s.track!r}: {s.reason}")
    if out.failure:
        lines.append(out.failure)
    return lines


def _errors(mae: float, thirds: tuple[float | None, ...]) -> str:
    return f"{mae:.3g} ({' / '.join('-' if v is None else f'{v:.3g}' for v in thirds)})"


def print_outcome(out: RunOutcome, cfg: Config) -> None:
    print("\n".join(outcome_lines(out, cfg)))


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true", help="follow the run to the end and print its outcome")
    p.add_argument(
        "--model-name", default="", help="model name; each track registers <NAME>__<track> (default: MODEL_NAME)"
    )
    p.add_argument(
        "--session", action="append", default=[], metavar="ID", help="train on this session only (repeatable)"
    )
    p.add_argument("--min-laps", type=int, default=None, help="minimum complete laps (default: MIN_TRAINING_LAPS)")
    p.add_argument("--max-iter", type=int, default=None, help="boosting iterations per target")
    p.add_argument(
        "--source",
        choices=["archive", "cassandra"],
        default="",
        help="read the dataset from the session archive (closed sessions) or the hot store (default: TRAINING_SOURCE)",
    )
    p.add_argument("--archive-prefix", default="", help="the archive's keys start here (default: ARCHIVE_PREFIX)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait with --wait")
    p.add_argument("--json", action="store_true", help="with --wait: print the outcome as JSON")


def cmd_train(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    cfg = load_config(overrides=overrides)
    out = trigger_training(cfg, train_conf(args), args.wait, args.timeout, quiet=args.json)
    if not args.wait:
        print(f"run id: {out.run_id} ({out.state}); follow with the Airflow UI at {cfg.airflow_url}")
        return 0
    if args.json:
        print(json.dumps(out.to_dict(), indent=2))
    else:
        print_outcome(out, cfg)
    return 0 if out.state == "success" else 1
