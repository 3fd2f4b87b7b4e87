"""The training pipeline's steps, shared by the Airflow DAG (one task each), the hand-run example and tests.

- ``extract`` (the dataset step): qualifying laps and their windows from the training source
  (``p424.ml.source``), grouped by track; each track with enough data gets its feature rows (parquet)
  and ``Lineage`` (JSON) on disk. Returns ``Extracted``; raises ``SkipTrainingError`` when no track
  can be trained, with each track's reason.
- ``train``: per track, fit on the training sessions, score on the held-out ones against every
  baseline, log the MLflow run with its model card. Returns ``Trained``.
- ``register``: per track, register the version under the track's model and move its aliases
  (``p424.ml.promotion``). Returns ``Registered``.
Steps exchange these frozen records (``p424.ml.steps``) as JSON; the datasets stay in files.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from p424.catalog import CATALOG
from p424.ml import card as cards
from p424.ml import dataset as ds
from p424.ml.baseline import PACE, REFERENCE, LapTiming, reference_choices, reference_predictions
from p424.ml.evaluate import EVAL_FROM_PROGRESS, score
from p424.ml.features import SPEC
from p424.ml.model import THREADS, LapOutcomeModel
from p424.ml.promotion import CHAMPION, decide
from p424.ml.settings import Hyperparameters, TrainingSettings
from p424.ml.source import SessionFacts, TrainingSource, open_source
from p424.ml.steps import (
    TRAIN,
    VALIDATION,
    Evaluation,
    Extracted,
    Lineage,
    LineageLap,
    Promotion,
    Registered,
    SkippedTrack,
    TrackDataset,
    Trained,
    TrainedTrack,
    TrainingRun,
)
from p424.ml.tracks import registered_name, resolve, slug
from p424.storage.reader import LapKey

F64 = npt.NDArray[np.float64]
KEEP_DATASETS = 20  # older datasets in the work directory are pruned
MAX_TRAIN_ROWS = 8000  # beyond this, every k-th window of each lap (neighbours 1 s apart add little)
HINT = (
    "stream more sessions, e.g. `./launchcommand.sh simulate --cars 5 --laps 3 --max` "
    "(a session of N laps gives N complete ones)"
)


class SkipTrainingError(Exception):
    """Too little data to train and validate honestly; the message says what is missing and what to do."""


def source_of(settings: TrainingSettings) -> TrainingSource:
    return open_source(
        settings.source,
        cassandra_host=settings.cassandra_host,
        cassandra_port=settings.cassandra_port,
        keyspace=settings.keyspace,
        archive_prefix=settings.archive_prefix,
    )


# ------------------------------------------------------------------------------------------ extract
def catalog_version(catalog_hash: str | None) -> str:
    """The catalog version of a session's stored ``catalog_hash`` (hex)."""
    if not catalog_hash:
        return "not recorded"
    try:
        known = CATALOG.known(int(catalog_hash, 16))
    except ValueError:
        known = None
    return known.version if known is not None else f"unknown ({catalog_hash})"


def extract(settings: TrainingSettings, source: TrainingSource | None = None) -> Extracted:
    """Qualifying laps -> per-track feature rows and lineage on disk (``source``: the settings' when None)."""
    started = time.monotonic()
    owned = source is None
    src = source_of(settings) if source is None else source
    try:
        sessions = list(settings.session_ids) or src.session_ids()
        facts = {f.session_id: f for f in src.sessions(sessions)}
        tracks = {s: resolve(facts[s].track if s in facts else None, settings.default_track) for s in sessions}
        lossy = {s for s, f in facts.items() if f.loss_ratio > settings.max_loss_ratio}
        selection = ds.select_laps(src.laps(sessions), tracks, exclude=lossy)
        grouped = ds.by_track(selection.laps)
        skipped: list[SkippedTrack] = []
        candidates: dict[str, list[ds.LapLabel]] = {}
        for track, laps in grouped.items():
            if len(laps) < settings.min_laps:  # decided again below; this spares reading their windows
                skipped.append(_skip(track, ds.NotEnoughDataError(_too_few(len(laps), settings)), selection))
            else:
                candidates[track] = laps
        wanted = [
            LapKey(session_id=lap.session_id, lap=lap.lap, seconds=lap.lap_time)
            for laps in candidates.values()
            for lap in laps
        ]
        windows = src.windows(wanted, settings.window_ms, SPEC.window_columns())
        description = src.description
    finally:
        if owned:
            src.close()
    datasets = []
    for track, laps in candidates.items():
        frame = ds.assemble(laps, windows)
        with_windows = set(map(tuple, frame[["session_id", "lap"]].drop_duplicates().to_numpy().tolist()))
        kept = [lap for lap in laps if lap.key in with_windows]
        rejected = selection.rejected_of(track)
        if len(kept) < len(laps):
            rejected["no windows"] = len(laps) - len(kept)
        try:
            folds = ds.plan_track(kept, settings.min_laps, settings.validation_fraction)
        except ds.NotEnoughDataError as why:
            skipped.append(_skip(track, why, selection))
            continue
        frame = frame[frame["session_id"].isin([lap.session_id for lap in kept])]
        datasets.append(
            _write_dataset(settings, track, kept, frame, folds, rejected, facts, len(sessions), description)
        )
    skipped.sort(key=lambda x: x.track)
    if not datasets:
        left_out = _left_out(selection.rejected_total)
        lines = [f"track {s.track!r}: {s.reason}" for s in skipped] or [
            f"no complete, valid laps in {len(sessions)} session(s) (laps left out: {left_out})"
        ]
        absent = [s for s in sessions if s not in facts]
        if absent:  # e.g. sessions the archive does not hold yet (the p424_archive DAG writes closed ones)
            shown = ", ".join(map(str, absent[:5])) + (" ..." if len(absent) > 5 else "")
            lines.append(f"{len(absent)} session(s) not in the {description}: {shown}")
        raise SkipTrainingError(
            f"too little data: {'; '.join(lines)}. Each track needs MIN_TRAINING_LAPS={settings.min_laps} complete, "
            f"valid laps from at least {ds.MIN_VALIDATION_SESSIONS + 1} sessions. {HINT}"
        )
    _prune(settings.dataset_dir)
    return Extracted(
        source=description,
        sessions_scanned=len(sessions),
        tracks=tuple(datasets),
        skipped=tuple(skipped),
        rejected=selection.rejected_total,
        catalog_hash=CATALOG.hash_hex,
        seconds=round(time.monotonic() - started, 1),
    )


def _too_few(n: int, settings: TrainingSettings) -> str:
    return f"{n} complete, valid laps; training needs MIN_TRAINING_LAPS={settings.min_laps}"


def _left_out(reasons: dict[str, int]) -> str:
    return ", ".join(f"{why} {n}" for why, n in sorted(reasons.items())) or "none"


def _skip(track: str, why: Exception, selection: ds.LapSelection) -> SkippedTrack:
    left_out = selection.rejected_of(track)
    extra = f" (laps left out: {_left_out(left_out)})" if left_out else ""
    return SkippedTrack(track=track, reason=f"{why}{extra}")


def _write_dataset(
    settings: TrainingSettings,
    track: str,
    laps: list[ds.LapLabel],
    frame: pd.DataFrame,
    folds: ds.Folds,
    rejected: dict[str, int],
    facts: dict[int, SessionFacts],
    sessions_scanned: int,
    source: str,
) -> TrackDataset:
    choices = reference_choices(
        [
            LapTiming(session_id=lap.session_id, lap=lap.lap, start_ms=lap.start_ms, lap_time=lap.lap_time)
            for lap in laps
            if lap.start_ms is not None
        ]
    )
    model_name = registered_name(settings.model_name, track)
    lineage = Lineage(
        track=track,
        model_name=model_name,
        source=source,
        catalog_version=CATALOG.version,
        catalog_hash=CATALOG.hash_hex,
        session_catalogs={
            str(s): catalog_version(facts[s].catalog_hash if s in facts else None)
            for s in sorted({lap.session_id for lap in laps})
        },
        feature_fingerprint=SPEC.fingerprint,
        features=SPEC.names,
        window_ms=settings.window_ms,
        train_sessions=folds.train,
        validation_sessions=folds.validation,
        laps=tuple(
            LineageLap(
                session_id=lap.session_id,
                lap=lap.lap,
                car_id=lap.car_id,
                start_ms=lap.start_ms,
                lap_time=lap.lap_time,
                energy_net_kwh=lap.energy_net_kwh,
                distance=lap.distance,
                fold=folds.fold_of(lap.session_id),
                reference=choices.get(lap.key),
            )
            for lap in laps
        ),
        rejected=rejected,
        sessions_scanned=sessions_scanned,
    )
    settings.dataset_dir.mkdir(parents=True, exist_ok=True)
    stem = f"laps-{time.strftime('%Y%m%dT%H%M%S')}-{slug(track)}-{uuid.uuid4().hex[:8]}"
    path = settings.dataset_dir / f"{stem}.parquet"
    frame.to_parquet(path, index=False)
    lineage_path = path.with_suffix(".lineage.json")
    lineage_path.write_text(json.dumps(lineage.to_dict(), indent=1))
    in_fold = {TRAIN: 0, VALIDATION: 0}
    for lap in lineage.laps:
        in_fold[lap.fold] += 1
    return TrackDataset(
        track=track,
        model_name=model_name,
        dataset=str(path),
        lineage=str(lineage_path),
        laps=len(laps),
        windows=len(frame),
        train_sessions=len(folds.train),
        validation_sessions=len(folds.validation),
        train_laps=in_fold[TRAIN],
        validation_laps=in_fold[VALIDATION],
        validation_laps_with_reference=sum(
            1 for lap in lineage.laps if lap.fold == VALIDATION and lap.reference is not None
        ),
    )


def _prune(directory: Path) -> None:
    files = sorted(directory.glob("laps-*.parquet"))
    for old in files[:-KEEP_DATASETS]:
        old.unlink(missing_ok=True)
        old.with_suffix(".lineage.json").unlink(missing_ok=True)


@dataclass(frozen=True, kw_only=True)
class Split:
    """A track's dataset: every lap (reference laps come from either fold) and the two folds."""

    laps: pd.DataFrame
    train: pd.DataFrame
    validation: pd.DataFrame
    lineage: Lineage


def load_split(dataset: TrackDataset) -> Split:
    path = Path(dataset.dataset)
    if not path.exists():
        raise FileNotFoundError(f"dataset {path} is gone (pruned or another machine); re-run the extract step")
    frame = pd.read_parquet(path)
    lineage = Lineage.from_dict(json.loads(Path(dataset.lineage).read_text()))
    val = frame["session_id"].isin(lineage.validation_sessions)
    return Split(
        laps=frame,
        train=frame[~val].reset_index(drop=True),
        validation=frame[val].reset_index(drop=True),
        lineage=lineage,
    )


# -------------------------------------------------------------------------------------------- train
def lap_length(frame: pd.DataFrame) -> float:
    """Median length of the laps in ``frame`` (one value per lap, not per window)."""
    per_lap = frame.groupby(["session_id", "lap"])[ds.LAP_LENGTH_COLUMN].first()
    return float(per_lap.median())


def thin(frame: pd.DataFrame, max_rows: int = MAX_TRAIN_ROWS) -> pd.DataFrame:
    """Every k-th window of each lap so that at most ``max_rows`` remain (all of them if fewer)."""
    stride = -(-len(frame) // max_rows)
    return frame if stride <= 1 else frame[frame["window"] % stride == 0]


def evaluate(model: Any, rows: pd.DataFrame, split: Split, lap_length_m: float) -> tuple[Evaluation, F64]:
    """``model`` and every baseline scored on the same ``rows`` (held-out windows); the model's predictions."""
    x = ds.features_of(rows)
    pred = np.asarray(model.predict(x), dtype=np.float64)
    baselines = {
        PACE: LapOutcomeModel(lap_length_m=lap_length_m).baseline(x),
        REFERENCE: reference_predictions(rows, split.laps, split.lineage.references),
    }
    progress = x["distance_m"].to_numpy() / lap_length_m
    lap_ids = rows[["session_id", "lap"]].to_numpy()
    return score(ds.targets_of(rows), pred, baselines, progress, lap_ids), pred


def train(settings: TrainingSettings, extracted: Extracted) -> Trained:
    """Per track: fit on the training sessions, score on the held-out ones, log everything to MLflow."""
    started = time.monotonic()
    with threadpool_limits(THREADS):
        tracks = tuple(_train_track(settings, dataset) for dataset in extracted.tracks)
    return Trained(tracks=tracks, seconds=round(time.monotonic() - started, 1))


def fit(split: Split, hp: Hyperparameters) -> tuple[LapOutcomeModel, int]:
    """The model fitted on the training fold (thinned to MAX_TRAIN_ROWS windows); the rows it used."""
    model = LapOutcomeModel(
        lap_length_m=lap_length(split.train),
        max_iter=hp.max_iter,
        learning_rate=hp.learning_rate,
        max_leaf_nodes=hp.max_leaf_nodes,
        min_samples_leaf=hp.min_samples_leaf,
        profile_step_m=hp.profile_step_m,
    )
    rows = thin(split.train)
    return model.fit(ds.features_of(rows), ds.targets_of(rows)), len(rows)


def _train_track(settings: TrainingSettings, dataset: TrackDataset) -> TrainedTrack:
    started = time.monotonic()
    split = load_split(dataset)
    from p424.ml import tracking  # MLflow takes seconds to import: only the steps that log pay for it

    model, rows_used = fit(split, settings.hyperparameters)
    length = model.lap_length_m
    fitted = time.monotonic()
    evaluation, pred = evaluate(model, split.validation, split, length)
    x_val = ds.features_of(split.validation)
    lineage = split.lineage
    card = cards.build(
        model_name=dataset.model_name,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        lineage=lineage,
        evaluation=evaluation,
        train_windows=len(split.train),
        validation_windows=len(split.validation),
    )
    params = {
        **model.get_params(),
        "track": dataset.track,
        "registered_model": dataset.model_name,
        "train_laps": dataset.train_laps,
        "validation_laps": dataset.validation_laps,
        "train_sessions": dataset.train_sessions,
        "validation_sessions": dataset.validation_sessions,
        "train_windows": len(split.train),
        "train_rows_used": rows_used,
        "window_ms": settings.window_ms,
        "validation_fraction": settings.validation_fraction,
        "max_loss_ratio": settings.max_loss_ratio,
        "catalog_hash": lineage.catalog_hash,
        "feature_fingerprint": lineage.feature_fingerprint,
        "n_features": len(x_val.columns),
        "eval_from_progress": EVAL_FROM_PROGRESS,
        "source": lineage.source,
    }
    tags = {
        "p424.track": dataset.track,
        "p424.registered_model": dataset.model_name,
        "p424.catalog_hash": lineage.catalog_hash,
        "p424.run_label": settings.run_label,
        "p424.dataset": Path(dataset.dataset).name,
    }
    logged = tracking.log_training_run(
        tracking_uri=settings.mlflow_uri,
        experiment=settings.experiment,
        run_name=f"{slug(dataset.track)} {settings.run_label or time.strftime('%Y%m%dT%H%M%S')}",
        model=model,
        params=params,
        evaluation=evaluation,
        lineage=lineage,
        card=card,
        x_val=x_val,
        y_val=ds.targets_of(split.validation),
        pred_val=pred,
        progress_val=x_val["distance_m"].to_numpy() / length,
        importances=model.feature_importances_,
        tags=tags,
    )
    return TrainedTrack(
        track=dataset.track,
        model_name=dataset.model_name,
        run_id=logged.run_id,
        experiment_id=logged.experiment_id,
        model_uri=logged.model_uri,
        artifact_uri=logged.artifact_uri,
        evaluation=evaluation,
        lap_length_m=length,
        fit_seconds=round(fitted - started, 1),
        seconds=round(time.monotonic() - started, 1),
    )


# ----------------------------------------------------------------------------------------- register
def register(settings: TrainingSettings, extracted: Extracted, trained: Trained) -> Registered:
    """Per track: register the run's model; ``champion`` moves only if it beats every baseline and the
    track's champion."""
    started = time.monotonic()
    datasets = {d.track: d for d in extracted.tracks}
    with threadpool_limits(THREADS):
        outcomes = tuple(_register_track(settings, datasets[t.track], t) for t in trained.tracks)
    return Registered(tracks=outcomes, seconds=round(time.monotonic() - started, 1))


def _register_track(settings: TrainingSettings, dataset: TrackDataset, trained: TrainedTrack) -> Promotion:
    from p424.ml import tracking

    client = tracking.connect(settings.mlflow_uri)
    name = trained.model_name
    previous = tracking.version_by_alias(client, name, CHAMPION)
    mv = tracking.register(client, name, trained.model_uri, trained.track)
    split = load_split(dataset)
    length = trained.lap_length_m
    candidate = tracking.load_version(name, str(mv.version))
    rows, note = split.validation, ""
    champion_eval: Evaluation | None = None
    if previous is not None:
        champion = tracking.load_version(name, str(previous.version))
        wanted = [str(f) for f in getattr(champion, "feature_names_in_", [])]
        if not wanted or not set(wanted) <= set(rows.columns):
            note = f"champion v{previous.version} uses other features (catalog changed?) and cannot be scored here"
        else:
            # Compare on laps neither model trained on: drop sessions the champion learnt from.
            seen = tracking.training_sessions(str(previous.run_id)) if previous.run_id else None
            unseen = rows if seen is None else rows[~rows["session_id"].isin(seen)]
            if seen is None:
                note = f"champion v{previous.version}'s training sessions are unknown; compared on every validation lap"
            elif unseen.empty:
                note = (
                    f"champion v{previous.version} trained on every validation session; compared on them anyway "
                    "(this favours the champion)"
                )
            else:
                if len(unseen) < len(rows):
                    note = f"compared on {unseen.groupby(['session_id', 'lap']).ngroups} laps the champion never saw"
                rows = unseen
            champion_eval, _ = evaluate(champion, rows, split, length)
    candidate_eval, _ = evaluate(candidate, rows, split, length)
    decision = decide(candidate_eval, champion_eval, str(previous.version) if previous else None, note=note)
    tags = {
        "p424.track": trained.track,
        "p424.decision": decision.alias,
        "p424.relative_error": f"{candidate_eval.relative_error:.6f}",
        "p424.beats_every_baseline": str(candidate_eval.beats_every_baseline).lower(),
        "p424.compared_with": f"v{previous.version}" if previous else "none",
        "p424.lap_length_m": f"{length:.1f}",
        "p424.catalog_hash": split.lineage.catalog_hash,
    }
    tracking.set_alias(client, name, decision.alias, str(mv.version), tags=tags, description=decision.reason)
    client.set_tag(trained.run_id, "p424.registered_version", str(mv.version))
    client.set_tag(trained.run_id, "p424.alias", decision.alias)
    card = tracking.read_card(trained.run_id).with_decision(decision.alias, str(mv.version), decision.reason)
    tracking.log_card(client, trained.run_id, card)
    champion_now = tracking.version_by_alias(client, name, CHAMPION)
    return Promotion(
        track=trained.track,
        model_name=name,
        version=str(mv.version),
        alias=decision.alias,
        reason=decision.reason,
        previous_champion=str(previous.version) if previous else None,
        champion=str(champion_now.version) if champion_now else None,
        run_id=trained.run_id,
        candidate_relative_error=candidate_eval.relative_error,
        champion_relative_error=champion_eval.relative_error if champion_eval else None,
    )


def run(settings: TrainingSettings, source: TrainingSource | None = None) -> TrainingRun:
    """All three steps in this process (the example, the tests; the DAG runs them as separate tasks)."""
    extracted = extract(settings, source)
    trained = train(settings, extracted)
    return TrainingRun(extracted=extracted, trained=trained, registered=register(settings, extracted, trained))
