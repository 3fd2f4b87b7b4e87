"""
### PERRINN 424: telemetry data quality

Checks every session updated in the last `lookback_hours` (all sessions with 0, or the listed
`session_ids`) against thresholds and **fails** when one is crossed, naming each session and figure:

- frame loss ratio (frames never seen between the first and last sequence number / frames sent),
- late-frame ratio (frames that arrived after their window closed / frames received),
- incomplete laps between a session's first and last lap (its first lap may start mid-lap and its
  last may still be running, so those two do not count).

Tasks: `resolve_settings` (Airflow: connection and params) -> `collect` (platform environment via
`@task.external_python`: reads `session_quality` and `laps` from Cassandra) -> `enforce` (Airflow:
raises `AirflowFailException` with the violations, so the run fails without pointless retries).
The rules live in `p424.ml.quality`. Schedule: hourly (`p424_quality_schedule` variable to change it).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Connection, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from p424.config import load_config


def _platform_python() -> str:
    default = load_config().state_dir / "venvs" / "platform" / "bin" / "python"
    return os.environ.get("P424_PLATFORM_PYTHON") or str(default)


def _schedule() -> str | None:
    value = os.environ.get("AIRFLOW_VAR_P424_QUALITY_SCHEDULE") or "@hourly"
    return None if value.strip().lower() in ("none", "off", "manual") else value.strip()


@dag(  # type: ignore[untyped-decorator]  # Airflow is not installed where mypy runs
    dag_id="p424_data_quality",
    schedule=_schedule(),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=20),
    doc_md=__doc__,
    tags=["p424", "data-quality"],
    default_args={
        "owner": "p424-data",
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "execution_timeout": timedelta(minutes=10),
    },
    params={
        "lookback_hours": Param(24, type="number", minimum=0, description="sessions updated this recently; 0: all"),
        "session_ids": Param(
            [], type="array", items={"type": ["integer", "string"]}, description="check only these sessions"
        ),
        "max_loss_ratio": Param(0.01, type="number", minimum=0, maximum=1),
        "max_late_ratio": Param(0.01, type="number", minimum=0, maximum=1),
        "max_incomplete_laps": Param(0, type="integer", minimum=0),
        "min_frames": Param(50, type="integer", minimum=0, description="smaller sessions are not judged"),
    },
)
def p424_data_quality() -> None:
    @task  # type: ignore[untyped-decorator]
    def resolve_settings() -> dict[str, Any]:
        params = get_current_context()["params"]
        cassandra = Connection.get("p424_cassandra")
        return {
            "host": str(cassandra.host),
            "port": int(cassandra.port or 9042),
            "keyspace": str(cassandra.schema or "telemetry"),
            "lookback_hours": float(params["lookback_hours"]),
            "session_ids": [int(s) for s in params.get("session_ids") or ()],
            "thresholds": {
                "max_loss_ratio": float(params["max_loss_ratio"]),
                "max_late_ratio": float(params["max_late_ratio"]),
                "max_incomplete_laps": int(params["max_incomplete_laps"]),
                "min_frames": int(params["min_frames"]),
            },
        }

    @task.external_python(python=_platform_python(), expect_airflow=False)  # type: ignore[untyped-decorator]
    def collect(settings: dict[str, Any]) -> dict[str, Any]:
        """Quality rows and laps of the sessions in scope, judged against the thresholds."""
        from p424.ml.quality import Thresholds, collect, report

        sessions = collect(
            settings["host"],
            settings["port"],
            settings["keyspace"],
            settings["lookback_hours"],
            settings["session_ids"],
        )
        rep = report(sessions, Thresholds(**settings["thresholds"]))
        print(
            f"checked {rep['checked_sessions']} sessions; worst {rep['worst']}; {len(rep['violations'])} violation(s)",
            flush=True,
        )
        return rep

    @task  # type: ignore[untyped-decorator]
    def enforce(rep: dict[str, Any]) -> dict[str, Any]:
        """Fail the run, loudly and without retries, when any threshold is crossed."""
        from p424.ml.quality import failure_message

        if rep["violations"]:
            raise AirflowFailException(failure_message(rep))
        return {"checked_sessions": rep["checked_sessions"], "worst": rep["worst"]}

    enforce(collect(resolve_settings()))


p424_data_quality()
