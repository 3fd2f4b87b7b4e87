"""
### PERRINN 424: train the lap-outcome model

Trains, per track, the model that at any point of a lap predicts the lap's final time and net
energy (kWh) from the lap so far, on the archived sessions' gold laps and 1 s windows recomputed from
silver (`TRAINING_SOURCE=archive`, the default; `cassandra` reads the hot store); scores it on
whole sessions held out for validation (at least three) against every baseline (pace
extrapolation, and the pit wall's reference lap: time so far plus the best earlier lap's time
still to go); logs the run with its model card to MLflow (artifacts in MinIO); registers the
version under the track's model `<MODEL_NAME>__<track>` and moves its `champion` alias only if it
beats every baseline and the track's champion on the same validation laps (else `challenger`).

Tasks: `resolve_settings` (Airflow: connections, variables, params) -> `extract` -> `train` ->
`register`, the last three in the platform's Python environment (`P424_PLATFORM_PYTHON`) through
`@task.external_python`, because Airflow's environment has no scikit-learn, MLflow or Cassandra
driver. They pass typed records as JSON (`p424.ml.steps`); the logic lives in `p424.ml.pipeline`;
this file only orchestrates.

`extract` is **skipped** (and so are the later tasks) when no track has `MIN_TRAINING_LAPS` complete,
valid laps from at least four sessions (three held out, one to train on); its log gives each
track's reason. Tracks without enough data are listed in its result while the others train.

Schedule: `TRAINING_SCHEDULE` in `toolchain-config.env` (Airflow variable `p424_training_schedule`),
hourly by default. Trigger by hand with `./launchcommand.sh train --wait`, or here with params:
`model_name`, `session_ids` (train on these sessions only), `min_laps`, `validation_fraction` and
the model's hyperparameters.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Connection, Param, Variable, dag, get_current_context, task

from p424.config import load_config
from p424.ml.settings import Hyperparameters

SKIP_EXIT_CODE = 99  # extract exits with this when there is too little data: the task is skipped


def _platform_python() -> str:
    """The platform environment's interpreter: set by the launcher, else derived from the state dir."""
    default = load_config().state_dir / "venvs" / "platform" / "bin" / "python"
    return os.environ.get("P424_PLATFORM_PYTHON") or str(default)


def _schedule() -> str | None:
    """TRAINING_SCHEDULE, read at parse time (a schedule is static): the launcher exports it as the
    variable's environment form; ``none`` or ``off`` leaves only manual runs."""
    value = os.environ.get("AIRFLOW_VAR_P424_TRAINING_SCHEDULE") or load_config().training_schedule or "@hourly"
    return None if value.strip().lower() in ("none", "off", "manual") else value.strip()


PLATFORM_PYTHON = _platform_python()
HP = Hyperparameters()  # the model's defaults, offered as params


@dag(  # type: ignore[untyped-decorator]  # Airflow is not installed where mypy runs
    dag_id="p424_train_lap_model",
    schedule=_schedule(),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=45),
    doc_md=__doc__,
    tags=["p424", "ml", "training"],
    default_args={
        "owner": "p424-ml",
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "execution_timeout": timedelta(minutes=20),
    },
    params={
        "model_name": Param("", type="string", description="registered model; empty: MODEL_NAME of the platform"),
        "session_ids": Param(
            [],
            type="array",
            items={"type": ["integer", "string"]},
            description="train on these sessions only; empty: every stored session",
        ),
        "min_laps": Param(
            None,
            type=["null", "integer"],
            minimum=2,
            description="minimum complete laps; empty: MIN_TRAINING_LAPS of the platform",
        ),
        "validation_fraction": Param(
            0.25,
            type="number",
            exclusiveMinimum=0,
            exclusiveMaximum=1,
            description="share of sessions held out for validation (stable by session id; at least three)",
        ),
        "max_iter": Param(HP.max_iter, type="integer", minimum=1, description="boosting iterations per target"),
        "learning_rate": Param(HP.learning_rate, type="number", exclusiveMinimum=0, maximum=1),
        "max_leaf_nodes": Param(HP.max_leaf_nodes, type="integer", minimum=2),
        "min_samples_leaf": Param(HP.min_samples_leaf, type="integer", minimum=1),
        "profile_step_m": Param(
            HP.profile_step_m, type="number", exclusiveMinimum=0, description="resolution of the reference lap, metres"
        ),
        "source": Param(
            "",
            type="string",
            enum=["", "archive", "cassandra"],
            description="where the dataset is read from; empty: TRAINING_SOURCE of the platform",
        ),
        "archive_prefix": Param("", type="string", description="archive keys start here; empty: ARCHIVE_PREFIX"),
        "max_loss_ratio": Param(
            0.01,
            type="number",
            minimum=0,
            maximum=1,
            description="sessions that lost a larger share of frames are left out",
        ),
    },
)
def p424_train_lap_model() -> None:
    @task  # type: ignore[untyped-decorator]
    def resolve_settings() -> dict[str, Any]:
        """Connections, variables and params -> the JSON settings every later task receives."""
        from p424.ml.settings import TrainingSettings

        ctx = get_current_context()
        params = ctx["params"]
        cassandra = Connection.get("p424_cassandra")
        mlflow = Connection.get("p424_mlflow")
        settings = TrainingSettings(
            cassandra_host=str(cassandra.host),
            cassandra_port=int(cassandra.port or 9042),
            keyspace=str(cassandra.schema or "telemetry"),
            mlflow_uri=f"{mlflow.schema or 'http'}://{mlflow.host}:{mlflow.port}",
            model_name=str(
                params.get("model_name") or Variable.get("p424_model_name", default=load_config().model_name)
            ),
            min_laps=int(params.get("min_laps") or Variable.get("p424_min_training_laps", default=6)),
            validation_fraction=float(params.get("validation_fraction") or 0.25),
            session_ids=tuple(int(s) for s in params.get("session_ids") or ()),
            default_track=str(Variable.get("p424_default_track", default=load_config().default_track)),
            work_dir=str(load_config().state_dir / "data" / "ml"),
            source=str(
                params.get("source") or Variable.get("p424_training_source", default=load_config().training_source)
            ),
            archive_prefix=str(params.get("archive_prefix") or load_config().archive_prefix),
            run_label=str(ctx["run_id"]),
            hyperparameters=Hyperparameters(
                max_iter=int(params["max_iter"]),
                learning_rate=float(params["learning_rate"]),
                max_leaf_nodes=int(params["max_leaf_nodes"]),
                min_samples_leaf=int(params["min_samples_leaf"]),
                profile_step_m=float(params["profile_step_m"]),
            ),
            max_loss_ratio=float(params["max_loss_ratio"]),
        )
        return settings.to_dict()

    @task.external_python(python=PLATFORM_PYTHON, expect_airflow=False, skip_on_exit_code=SKIP_EXIT_CODE)  # type: ignore[untyped-decorator]
    def extract(settings: dict[str, Any]) -> dict[str, Any]:
        """Complete, valid laps and their windows -> per-track feature rows (parquet) and lineage: `Extracted`."""
        import sys

        from p424.ml.pipeline import SkipTrainingError
        from p424.ml.pipeline import extract as run_extract
        from p424.ml.settings import TrainingSettings

        try:
            extracted = run_extract(TrainingSettings.from_dict(settings))
        except SkipTrainingError as why:
            print(f"SKIPPED: {why}", flush=True)
            sys.exit(99)  # SKIP_EXIT_CODE (this function runs as a standalone script)
        for skipped in extracted.skipped:
            print(f"track {skipped.track!r} not trained: {skipped.reason}", flush=True)
        print(f"extracted {extracted}", flush=True)
        return extracted.to_dict()

    @task.external_python(python=PLATFORM_PYTHON, expect_airflow=False)  # type: ignore[untyped-decorator]
    def train(settings: dict[str, Any], extracted: dict[str, Any]) -> dict[str, Any]:
        """Per track: fit, score against every baseline on held-out sessions, log the run, card and model."""
        from p424.ml.pipeline import train as run_train
        from p424.ml.settings import TrainingSettings
        from p424.ml.steps import Extracted

        trained = run_train(TrainingSettings.from_dict(settings), Extracted.from_dict(extracted))
        print(f"trained {trained}", flush=True)
        return trained.to_dict()

    @task.external_python(python=PLATFORM_PYTHON, expect_airflow=False)  # type: ignore[untyped-decorator]
    def register(settings: dict[str, Any], extracted: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
        """Per track: register the version; move the track's `champion` only if it wins, else `challenger`."""
        from p424.ml.pipeline import register as run_register
        from p424.ml.settings import TrainingSettings
        from p424.ml.steps import Extracted, Trained

        registered = run_register(
            TrainingSettings.from_dict(settings), Extracted.from_dict(extracted), Trained.from_dict(trained)
        )
        for p in registered.tracks:
            print(f"track {p.track!r}: {p.model_name} v{p.version} -> {p.alias}: {p.reason}", flush=True)
        return registered.to_dict()

    settings = resolve_settings()
    extracted = extract(settings)
    trained = train(settings, extracted)
    register(settings, extracted, trained)


p424_train_lap_model()
