"""MLflow: logging a training run, registering its model and moving the aliases.

The tracking server proxies artifacts to MinIO (``s3://mlflow/artifacts``), so clients here need
the server's URL only, no object-store credentials.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import sklearn
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

import p424
from p424.ml import plots
from p424.ml.card import JSON_ARTIFACT, MARKDOWN_ARTIFACT, ModelCard
from p424.ml.evaluate import metrics
from p424.ml.model import LapOutcomeModel
from p424.ml.steps import Evaluation, Lineage
from p424.ml.tracks import SEPARATOR, track_slug_of

MODEL_ARTIFACT = "model"
LINEAGE_ARTIFACT = "lineage.json"
TRACK_TAG = "p424.track"
SKOPS_TRUSTED_TYPES = [
    f"{LapOutcomeModel.__module__}.{LapOutcomeModel.__qualname__}",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]
REGISTRY_DESCRIPTION = (
    "PERRINN 424 lap outcome on track {track}: from the lap so far (p424.ml.features), predicts the lap's final "
    "time (s) and net electrical energy (kWh), output columns in that order. Alias 'champion' serves live "
    "predictions of sessions on this track; 'challenger' marks the latest version that did not beat it. Each run's "
    "model_card.md says what it learnt from and where it is weak. Loading needs the perrinn424-telemetry package."
)

# MLflow logs at INFO on every run (URLs, "registered model" notes); our steps print their own summary.
logging.getLogger("mlflow").setLevel(logging.WARNING)
# Our environments are made by uv and have no pip, so MLflow warns that conda.yaml's pip is unpinned: not news.
logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)


def connect(tracking_uri: str) -> MlflowClient:
    mlflow.set_tracking_uri(tracking_uri)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    return MlflowClient(tracking_uri)


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    experiment_id: str
    model_uri: str
    artifact_uri: str


def log_training_run(
    *,
    tracking_uri: str,
    experiment: str,
    run_name: str,
    model: LapOutcomeModel,
    params: Mapping[str, Any],
    evaluation: Evaluation,
    lineage: Lineage,
    card: ModelCard,
    x_val: pd.DataFrame,
    y_val: np.ndarray[Any, Any],
    pred_val: np.ndarray[Any, Any],
    progress_val: np.ndarray[Any, Any],
    importances: np.ndarray[Any, Any],
    tags: Mapping[str, str],
) -> LoggedRun:
    """One MLflow run: params, metrics, plots, importances, lineage, the model card, and the model with its
    signature."""
    connect(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({**tags, **card.tags()})
        mlflow.log_params({k: _param(v) for k, v in params.items()})
        mlflow.log_metrics(metrics(evaluation))
        mlflow.log_dict(lineage.to_dict(), LINEAGE_ARTIFACT)
        mlflow.log_dict(evaluation.to_dict(), "evaluation/evaluation.json")
        mlflow.log_text(card.markdown(), MARKDOWN_ARTIFACT)
        mlflow.log_dict(card.to_dict(), JSON_ARTIFACT)
        for fig, name in (
            (plots.predicted_vs_actual(y_val, pred_val, progress_val, evaluation), "predicted_vs_actual.png"),
            (plots.error_by_third(evaluation), "error_by_third.png"),
            (plots.importances(list(x_val.columns), importances), "feature_importances.png"),
        ):
            mlflow.log_figure(fig, f"evaluation/{name}")
            plots.close(fig)
        table = pd.DataFrame({"feature": x_val.columns, "importance": importances}).sort_values(
            "importance", ascending=False
        )
        mlflow.log_text(table.to_csv(index=False), "evaluation/feature_importances.csv")
        example = _input_example(x_val, progress_val)
        signature = infer_signature(example, model.predict(example))
        info = mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=example,
            # Pinned explicitly: inferring them loads the model in a subprocess (~10 s on our machine).
            pip_requirements=[
                f"scikit-learn=={sklearn.__version__}",
                f"numpy=={np.__version__}",
                f"pandas=={pd.__version__}",
                f"perrinn424-telemetry=={p424.__version__}",
            ],
            # MLflow stores scikit-learn models with skops, which loads only types it is told to trust: our
            # estimator and the boosted trees it holds (both written by this code, never from outside).
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
        return LoggedRun(run.info.run_id, run.info.experiment_id, info.model_uri, run.info.artifact_uri)


def log_card(client: MlflowClient, run_id: str, card: ModelCard) -> None:
    """Rewrite a finished run's model card (the register step adds its decision) and its tags."""
    client.log_text(run_id, card.markdown(), MARKDOWN_ARTIFACT)
    client.log_dict(run_id, card.to_dict(), JSON_ARTIFACT)
    for k, v in card.tags().items():
        client.set_tag(run_id, k, v)


def read_card(run_id: str) -> ModelCard:
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=JSON_ARTIFACT, dst_path=tmp)
        return ModelCard.from_dict(json.loads(Path(path).read_text()))


def _param(v: object) -> object:
    return json.dumps(v) if isinstance(v, (list, tuple, dict)) else v


def _input_example(features: pd.DataFrame, progress: np.ndarray[Any, Any]) -> pd.DataFrame:
    """A few windows from mid-lap, where every feature is defined (no NaN pace at the line)."""
    order = np.argsort(np.abs(progress - 0.5))[:3]
    return features.iloc[np.sort(order)].reset_index(drop=True)


# --------------------------------------------------------------------------------------- registry
def register(client: MlflowClient, name: str, model_uri: str, track: str) -> ModelVersion:
    """A new version of ``name`` (the registered model of ``track``) from a logged model (``models:/m-...``),
    once it is READY."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, tags={TRACK_TAG: track}, description=REGISTRY_DESCRIPTION.format(track=track)
        )
    # register_model resolves the logged model's id and run (MLflow 3 needs both for a models:/ source).
    mv = mlflow.register_model(model_uri, name, await_registration_for=0)
    return wait_ready(client, name, str(mv.version))


def wait_ready(client: MlflowClient, name: str, version: str, timeout_s: float = 120.0) -> ModelVersion:
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        mv = client.get_model_version(name, version)
        if mv.status == "READY":
            return mv
        if mv.status == "FAILED_REGISTRATION" or time.monotonic() > deadline:
            raise RuntimeError(
                f"model {name} v{version} did not become READY (status {mv.status}): {mv.status_message}"
            )
        time.sleep(0.5)


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version ``alias`` points at, or None when the model or the alias does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as err:
        if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        # MLflow's basic-auth app answers 403 for a model that does not exist: it finds no model to check
        # a permission on (mlflow/server/auth/__init__.py, validate_can_read_model_or_prompt_version).
        if err.error_code == "PERMISSION_DENIED" and not registered_model_exists(client, name):
            return None
        raise


def registered_model_exists(client: MlflowClient, name: str) -> bool:
    """Whether ``name`` is a registered model this user can see (with auth, READ is everyone's default)."""
    if "'" in name:
        raise ValueError(f"registered model name {name!r} contains a quote")
    return bool(client.search_registered_models(filter_string=f"name = '{name}'", max_results=1))


def load_version(name: str, version: str) -> Any:
    return mlflow.sklearn.load_model(f"models:/{name}/{version}")


def training_sessions(run_id: str) -> set[int] | None:
    """Session ids a run trained on, from its lineage artifact (None if it has none this code can read)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=LINEAGE_ARTIFACT, dst_path=tmp)
            lineage = Lineage.from_dict(json.loads(Path(path).read_text()))
        except (MlflowException, OSError, ValueError):
            return None
        return set(lineage.train_sessions)


def track_models(client: MlflowClient, model_name: str) -> dict[str, str]:
    """The registered models of ``model_name``'s tracks: track slug -> registered name."""
    out: dict[str, str] = {}
    token = None
    while True:
        # (LIKE's "_" matches any character: track_slug_of keeps the names that really start with the prefix.)
        page = client.search_registered_models(filter_string=f"name LIKE '{model_name}{SEPARATOR}%'", page_token=token)
        for rm in page:
            track = track_slug_of(rm.name, model_name)
            if track is not None:
                out[track] = rm.name
        token = page.token
        if not token:
            return out


def track_of(client: MlflowClient, registered: str) -> str | None:
    """The full track name of a registered model (its ``p424.track`` tag)."""
    try:
        track = client.get_registered_model(registered).tags.get(TRACK_TAG)
    except MlflowException:
        return None
    return str(track) if track else None


def set_alias(
    client: MlflowClient, name: str, alias: str, version: str, *, tags: Mapping[str, str], description: str
) -> None:
    client.set_registered_model_alias(name, alias, version)
    for k, v in tags.items():
        client.set_model_version_tag(name, version, k, v)
    client.update_model_version(name, version, description=description)
