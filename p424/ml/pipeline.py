"""The training pipeline's steps, shared by the Airflow DAG (one task each) and the hand-run example.

``extract`` reads qualifying laps and their windows from Cassandra and writes the feature rows to a
parquet file (raises ``SkipTrainingError`` when there is too little data); ``train`` fits and scores the
model and logs the MLflow run; ``register`` registers the model version and moves the aliases.
Steps exchange small JSON-able dicts (Airflow XComs); the dataset itself stays in the file.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from p424.catalog import CATALOG
from p424.config import load_config
from p424.ml import dataset as ds
from p424.ml.evaluate import EVAL_FROM_PROGRESS, Scores, score
from p424.ml.features import SPEC
from p424.ml.model import THREADS, LapOutcomeModel
from p424.ml.promotion import CHAMPION, decide
from p424.ml.settings import TrainingSettings
from p424.storage.reader import TelemetryStore

KEEP_DATASETS = 10  # older datasets in the work directory are pruned
MAX_TRAIN_ROWS = 8000  # beyond this, every k-th window of each lap (neighbours 1 s apart add little)


class SkipTrainingError(Exception):
    """Too little data to train and validate honestly; the message says what is missing and what to do."""


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame
    lineage: dict[str, Any]


def _store(settings: TrainingSettings) -> TelemetryStore:
    cfg = load_config().replace(
        cassandra_host=settings.cassandra_host,
        cassandra_port=settings.cassandra_port,
        cassandra_keyspace=settings.keyspace,
    )
    return TelemetryStore(cfg)


# ------------------------------------------------------------------------------------------ extract
def extract(settings: TrainingSettings) -> dict[str, Any]:
    """Qualifying laps -> feature rows on disk; returns a summary (path, counts, folds)."""
    started = time.monotonic()
    with _store(settings) as store:
        sessions = list(settings.session_ids) or ds.session_ids(store.session, settings.keyspace)
        lossy = ds.lossy_sessions(store.session, settings.keyspace, sessions, settings.max_loss_ratio)
        selection = ds.select_laps(ds.read_laps(store.session, settings.keyspace, sessions), exclude=lossy)
        laps = selection.laps
        hint = (
            "stream more sessions, e.g. `./launchcommand.sh simulate --cars 4 --laps 3 --max` "
            "(a session of N laps gives N complete ones)"
        )
        if len(laps) < settings.min_laps:
            raise SkipTrainingError(
                f"too little data: {len(laps)} complete, valid laps in {len(sessions)} session(s) "
                f"(left out: {selection.rejected or 'none'}); training needs MIN_TRAINING_LAPS={settings.min_laps}. "
                f"{hint}"
            )
        lap_sessions = sorted({lap.session_id for lap in laps})
        if len(lap_sessions) < 2:
            raise SkipTrainingError(
                f"all {len(laps)} usable laps come from one session; validation holds laps out by "
                f"session, so at least two sessions are needed. {hint}"
            )
        _, val_s = ds.holdout(lap_sessions, settings.validation_fraction)
        windows = ds.read_windows(store.session, settings.keyspace, laps, settings.window_ms)
    frame = ds.assemble(laps, windows)
    with_windows = {(int(s), int(lap)) for s, lap in frame[["session_id", "lap"]].drop_duplicates().to_numpy()}
    missing = [lap for lap in laps if (lap.session_id, lap.lap) not in with_windows]
    if missing:
        selection.rejected["no windows"] = len(missing)
        laps = [lap for lap in laps if (lap.session_id, lap.lap) in with_windows]
    val_set = set(val_s)
    folds = {
        "train": [lap for lap in laps if lap.session_id not in val_set],
        "validation": [lap for lap in laps if lap.session_id in val_set],
    }
    if not folds["train"] or not folds["validation"]:
        raise SkipTrainingError(
            f"after holding out sessions {val_s}, a fold has no laps with windows "
            f"(train {len(folds['train'])}, validation {len(folds['validation'])}). {hint}"
        )
    train_sessions = sorted({lap.session_id for lap in folds["train"]})
    validation_sessions = sorted({lap.session_id for lap in folds["validation"]})
    settings.dataset_dir.mkdir(parents=True, exist_ok=True)
    stem = f"laps-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    path = settings.dataset_dir / f"{stem}.parquet"
    frame.to_parquet(path, index=False)
    lineage = {
        "catalog_version": CATALOG.version,
        "catalog_hash": CATALOG.hash_hex,
        "feature_fingerprint": SPEC.fingerprint,
        "features": list(SPEC.names),
        "window_ms": settings.window_ms,
        "keyspace": settings.keyspace,
        "train_sessions": train_sessions,
        "validation_sessions": validation_sessions,
        "laps": [
            {
                "session_id": lap.session_id,
                "lap": lap.lap,
                "car_id": lap.car_id,
                "lap_time": lap.lap_time,
                "energy_net_kwh": lap.energy_net_kwh,
                "distance": lap.distance,
                "fold": "validation" if lap.session_id in val_set else "train",
            }
            for lap in laps
        ],
        "rejected": selection.rejected,
        "sessions_scanned": len(sessions),
    }
    lineage_path = path.with_suffix(".lineage.json")
    lineage_path.write_text(json.dumps(lineage, indent=1))
    _prune(settings.dataset_dir)
    return {
        "dataset": str(path),
        "lineage": str(lineage_path),
        "laps": len(laps),
        "windows": len(frame),
        "train_laps": len(folds["train"]),
        "validation_laps": len(folds["validation"]),
        "train_sessions": len(train_sessions),
        "validation_sessions": len(validation_sessions),
        "rejected": selection.rejected,
        "catalog_hash": CATALOG.hash_hex,
        "seconds": round(time.monotonic() - started, 1),
    }


def _prune(directory: Path) -> None:
    files = sorted(directory.glob("laps-*.parquet"))
    for old in files[:-KEEP_DATASETS]:
        old.unlink(missing_ok=True)
        old.with_suffix(".lineage.json").unlink(missing_ok=True)


def load_split(extracted: dict[str, Any]) -> Split:
    path = Path(extracted["dataset"])
    if not path.exists():
        raise FileNotFoundError(f"dataset {path} is gone (pruned or another machine); re-run the extract step")
    frame = pd.read_parquet(path)
    lineage: dict[str, Any] = json.loads(Path(extracted["lineage"]).read_text())
    val = frame["session_id"].isin(lineage["validation_sessions"])
    return Split(frame[~val].reset_index(drop=True), frame[val].reset_index(drop=True), lineage)


# -------------------------------------------------------------------------------------------- train
def lap_length(frame: pd.DataFrame) -> float:
    """Median length of the laps in ``frame`` (one value per lap, not per window)."""
    per_lap = frame.groupby(["session_id", "lap"])["lap_distance_total"].first()
    return float(per_lap.median())


def thin(frame: pd.DataFrame, max_rows: int = MAX_TRAIN_ROWS) -> pd.DataFrame:
    """Every k-th window of each lap so that at most ``max_rows`` remain (all of them if fewer)."""
    stride = -(-len(frame) // max_rows)
    return frame if stride <= 1 else frame[frame["window"] % stride == 0]


def evaluate(model: Any, frame: pd.DataFrame, lap_length_m: float) -> tuple[Scores, np.ndarray[Any, Any]]:
    """Scores of ``model`` and of the extrapolation baseline on the same windows."""
    x = ds.features_of(frame)
    pred = np.asarray(model.predict(x), dtype=np.float64)
    base = LapOutcomeModel(lap_length_m=lap_length_m).baseline(x)
    laps = frame.groupby(["session_id", "lap"]).ngroups
    return score(ds.targets_of(frame), pred, base, x["distance_m"].to_numpy() / lap_length_m, laps), pred


def train(settings: TrainingSettings, extracted: dict[str, Any]) -> dict[str, Any]:
    """Fit on the training sessions, score on the held-out ones, log everything to MLflow."""
    with threadpool_limits(THREADS):
        return _train(settings, extracted)


def _train(settings: TrainingSettings, extracted: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    split = load_split(extracted)
    length = lap_length(split.train)
    hp = settings.hyperparameters
    model = LapOutcomeModel(
        lap_length_m=length,
        max_iter=hp.max_iter,
        learning_rate=hp.learning_rate,
        max_leaf_nodes=hp.max_leaf_nodes,
        min_samples_leaf=hp.min_samples_leaf,
        profile_step_m=hp.profile_step_m,
    )
    from p424.ml import tracking  # MLflow takes seconds to import: only the steps that log pay for it

    rows = thin(split.train)
    model.fit(ds.features_of(rows), ds.targets_of(rows))
    fitted = time.monotonic()
    scores, pred = evaluate(model, split.validation, length)
    x_val = ds.features_of(split.validation)
    y_val = ds.targets_of(split.validation)
    progress = x_val["distance_m"].to_numpy() / length
    lineage = {**split.lineage, "lap_length_m": length}
    params = {
        **model.get_params(),
        "train_laps": extracted["train_laps"],
        "validation_laps": extracted["validation_laps"],
        "train_sessions": len(split.lineage["train_sessions"]),
        "validation_sessions": len(split.lineage["validation_sessions"]),
        "train_windows": len(split.train),
        "train_rows_used": len(rows),
        "window_ms": settings.window_ms,
        "validation_fraction": settings.validation_fraction,
        "max_loss_ratio": settings.max_loss_ratio,
        "catalog_hash": split.lineage["catalog_hash"],
        "feature_fingerprint": split.lineage["feature_fingerprint"],
        "n_features": len(x_val.columns),
        "eval_from_progress": EVAL_FROM_PROGRESS,
    }
    tags = {
        "p424.catalog_hash": str(split.lineage["catalog_hash"]),
        "p424.run_label": settings.run_label,
        "p424.dataset": Path(extracted["dataset"]).name,
    }
    logged = tracking.log_training_run(
        tracking_uri=settings.mlflow_uri,
        experiment=settings.experiment,
        run_name=settings.run_label or time.strftime("train-%Y%m%dT%H%M%S"),
        model=model,
        params=params,
        scores=scores,
        lineage=lineage,
        x_val=x_val,
        y_val=y_val,
        pred_val=pred,
        progress_val=progress,
        importances=model.feature_importances_,
        tags=tags,
    )
    return {
        "run_id": logged.run_id,
        "experiment_id": logged.experiment_id,
        "model_uri": logged.model_uri,
        "artifact_uri": logged.artifact_uri,
        "metrics": _headline(scores),
        "beats_baseline": scores.beats_baseline,
        "lap_length_m": length,
        "fit_seconds": round(fitted - started, 1),
        "seconds": round(time.monotonic() - started, 1),
    }


def _headline(s: Scores) -> dict[str, float]:
    return {k: round(v, 5) for k, v in s.metrics().items() if "_p" not in k and "_all_" not in k}


# ----------------------------------------------------------------------------------------- register
def register(settings: TrainingSettings, extracted: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
    """Register the run's model; ``champion`` moves only if it beats the baseline and the champion."""
    with threadpool_limits(THREADS):
        return _register(settings, extracted, trained)


def _register(settings: TrainingSettings, extracted: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
    from p424.ml import tracking

    started = time.monotonic()
    client = tracking.connect(settings.mlflow_uri)
    name = settings.model_name
    previous = tracking.version_by_alias(client, name, CHAMPION)
    mv = tracking.register(client, name, trained["model_uri"])
    split = load_split(extracted)
    length = float(trained["lap_length_m"])
    candidate = tracking.load_version(name, str(mv.version))
    frame, note = split.validation, ""
    champion_scores: Scores | None = None
    if previous is not None:
        champion = tracking.load_version(name, str(previous.version))
        wanted = [str(f) for f in getattr(champion, "feature_names_in_", [])]
        if not wanted or not set(wanted) <= set(frame.columns):
            note = f"champion v{previous.version} uses other features (catalog changed?) and cannot be scored here"
        else:
            # Compare on laps neither model trained on: drop sessions the champion learnt from.
            seen = tracking.training_sessions(str(previous.run_id)) if previous.run_id else set()
            unseen = frame[~frame["session_id"].isin(seen)]
            if unseen.empty:
                note = (
                    f"champion v{previous.version} trained on every validation session; compared on them anyway "
                    "(this favours the champion)"
                )
            else:
                if len(unseen) < len(frame):
                    note = f"compared on {unseen.groupby(['session_id', 'lap']).ngroups} laps the champion never saw"
                frame = unseen
            champion_scores, _ = evaluate(champion, frame, length)
    candidate_scores, _ = evaluate(candidate, frame, length)
    decision = decide(candidate_scores, champion_scores, str(previous.version) if previous else None, note=note)
    tags = {
        "p424.decision": decision.alias,
        "p424.relative_error": f"{candidate_scores.relative_error:.6f}",
        "p424.beats_baseline": str(candidate_scores.beats_baseline).lower(),
        "p424.compared_with": f"v{previous.version}" if previous else "none",
        "p424.lap_length_m": f"{length:.1f}",
        "p424.catalog_hash": str(split.lineage["catalog_hash"]),
    }
    tracking.set_alias(client, name, decision.alias, str(mv.version), tags=tags, description=decision.reason)
    client.set_tag(trained["run_id"], "p424.registered_version", str(mv.version))
    client.set_tag(trained["run_id"], "p424.alias", decision.alias)
    champion_now = tracking.version_by_alias(client, name, CHAMPION)
    return {
        "model_name": name,
        "version": str(mv.version),
        "alias": decision.alias,
        "reason": decision.reason,
        "previous_champion": str(previous.version) if previous else None,
        "champion": str(champion_now.version) if champion_now else None,
        "run_id": trained["run_id"],
        "metrics": trained["metrics"],
        "candidate_relative_error": candidate_scores.relative_error,
        "champion_relative_error": champion_scores.relative_error if champion_scores else None,
        "seconds": round(time.monotonic() - started, 1),
    }


def run(settings: TrainingSettings) -> dict[str, Any]:
    """All three steps in this process (the example; the DAG runs them as separate tasks)."""
    extracted = extract(settings)
    trained = train(settings, extracted)
    return {"extract": extracted, "train": trained, "register": register(settings, extracted, trained)}
