"""Platform smoke DAG: one task in Airflow's own environment, one in the platform environment.

Triggered by the platform tests (and by hand) to prove the scheduler, the LocalExecutor, task
logging and the `@task.external_python` hand-over to the platform virtualenv all work.
"""

# mypy: disable-error-code="untyped-decorator"
# (Airflow lives in its own virtualenv, not the one mypy runs from, so its decorators are untyped there.)
from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

PLATFORM_PYTHON = os.environ.get("P424_PLATFORM_PYTHON", "python3")


@dag(
    dag_id="p424_platform_smoke",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["p424", "smoke"],
    default_args={"retries": 0},
    doc_md=__doc__,
)
def platform_smoke() -> None:
    @task
    def from_airflow() -> str:
        return "airflow"

    @task.external_python(python=PLATFORM_PYTHON, expect_airflow=False)
    def from_platform_env(upstream: str) -> str:
        import sklearn

        import p424

        return f"{upstream} -> p424 {p424.__version__}, scikit-learn {sklearn.__version__}"

    from_platform_env(from_airflow())


platform_smoke()
