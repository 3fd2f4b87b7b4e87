"""Training in this process against the platform's Cassandra and MLflow, on data of this module's own.

Simulated cars are run through the real session processor in memory (``tests/ml_fleet.py``) and their
session, quality, lap and 1 s window rows written to Cassandra with the platform's own statements
(``p424.storage.writes``), under fresh session ids and a track of their own; one more session names no
track. The ids are drawn so that the stable hash holds out the same cars as in tests/test_ml_unit.py,
where the same laps give a model that beats every baseline and a weak one that does not beat the
reference lap: the outcome here does not hang on which cars the hash happens to hold out. Then ``p424.ml.pipeline`` reads them back through ``CassandraSource`` (``TelemetryStore``),
trains, logs to MLflow and registers under a model name of its own. Nothing here needs the Flink job,
Airflow or the predictor, so it runs on whichever code the stack runs; afterwards the rows and the
registered models are deleted (the runs stay in their experiment, for a look at what happened).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import mlflow
import pytest
from cassandra.concurrent import execute_concurrent_with_args

from p424.ml import pipeline, tracking, tracks
from p424.ml.card import JSON_ARTIFACT, MARKDOWN_ARTIFACT, ModelCard
from p424.ml.features import SPEC
from p424.ml.promotion import CHALLENGER, CHAMPION
from p424.ml.settings import Hyperparameters, TrainingSettings
from p424.ml.source import CassandraSource
from p424.ml.steps import TrainingRun
from p424.storage import writes
from p424.storage.reader import LapKey
from tests.helpers import Stack, unique_session_id
from tests.ml_fleet import HELD_OUT_CARS, TRACK_CARS, Processed, process, session_ids_holding_out

with warnings.catch_warnings():
    # MLflow 3 warns about its own type hints when mlflow.pyfunc is first imported (mlflow/types/responses.py);
    # logging a model imports it, so it is imported here with that one warning silenced.
    warnings.filterwarnings("ignore", message=".*Any type hint is inferred as AnyType", category=UserWarning)
    import mlflow.pyfunc

pytestmark = pytest.mark.platform

CARS, LAPS = TRACK_CARS + 1, 2  # 2 complete laps per car (a stint ends with the closing crossing); car 6 names no track
WINDOW_MS = 1000


@pytest.fixture(scope="module")
def track() -> str:
    return f"p424 test track {uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def model_name(stack: Stack) -> Iterator[str]:
    name = f"p424_lap_outcome_mltest_{uuid.uuid4().hex[:8]}"
    yield name
    client = tracking.connect(stack.cfg.mlflow_url)
    for registered in tracking.track_models(client, name).values():
        with contextlib.suppress(mlflow.exceptions.MlflowException):
            client.delete_registered_model(registered)


def write(stack: Stack, fleet: Processed) -> None:
    """The fleet's rows, as the Flink job's sink writes them (the 1 s windows only: training reads those)."""
    st = writes.Statements(stack.cfg.cassandra_keyspace)
    session = stack.store.session
    now = int(time.time() * 1000)
    for cql, params in (
        (st.window, [writes.window_params(w) for w in fleet.windows if w.window_ms == WINDOW_MS]),
        (st.lap, [writes.lap_params(lap) for lap in fleet.laps]),
        (st.session, [writes.session_params(r, now) for r in fleet.sessions.values()]),
        (st.quality, [writes.quality_params(r, now) for r in fleet.quality.values()]),
    ):
        execute_concurrent_with_args(session, session.prepare(cql), params, concurrency=32, raise_on_first_error=True)


def delete(stack: Stack, fleet: Processed) -> None:
    ks, session = stack.cfg.cassandra_keyspace, stack.store.session
    for table in ("sessions", "session_quality", "laps"):
        for sid in fleet.sessions:
            session.execute(f"DELETE FROM {ks}.{table} WHERE session_id = %s", (sid,))
    for w in {(w.session_id, w.lap, w.part) for w in fleet.windows if w.window_ms == WINDOW_MS}:
        session.execute(
            f"DELETE FROM {ks}.channel_windows WHERE session_id = %s AND window_ms = %s AND lap = %s AND part = %s",
            (w[0], WINDOW_MS, w[1], w[2]),
        )


@pytest.fixture(scope="module")
def fleet(stack: Stack, track: str) -> Iterator[Processed]:
    ids = session_ids_holding_out(HELD_OUT_CARS, CARS, unique_session_id)
    fleet = process(cars=CARS, laps=LAPS, session_ids=ids)
    write(stack, fleet)
    for sid in ids[:TRACK_CARS]:
        stack.store.describe_session(sid, track=track, source="test", description=__name__)
    try:
        yield fleet
    finally:
        delete(stack, fleet)


def settings(stack: Stack, model_name: str, fleet: Processed, work: Path, **kw: object) -> TrainingSettings:
    return TrainingSettings.from_config(
        stack.cfg,
        model_name=model_name,
        session_ids=tuple(fleet.sessions),
        work_dir=str(work),
        run_label=__name__,
        source="cassandra",  # the rows this module wrote (the archive is tested in tests/test_archive_platform.py)
        **kw,
    )


@pytest.fixture(scope="module")
def runs(
    stack: Stack, fleet: Processed, model_name: str, tmp_path_factory: pytest.TempPathFactory
) -> list[TrainingRun]:
    """A good model, then one that beats pace extrapolation but not the reference lap."""
    work = tmp_path_factory.mktemp("ml")
    out = []
    for hp in (Hyperparameters(), Hyperparameters(max_iter=1, profile_step_m=2000)):
        started = time.monotonic()
        run = pipeline.run(settings(stack, model_name, fleet, work, hyperparameters=hp))
        print(f"in-process training ({hp}): {time.monotonic() - started:.1f} s", flush=True)
        out.append(run)
    return out


def test_the_cassandra_source_reads_what_the_sink_wrote(stack: Stack, fleet: Processed, track: str) -> None:
    source = CassandraSource(stack.store)
    ids = list(fleet.sessions)  # car order
    facts = {f.session_id: f for f in source.sessions(ids)}
    assert [facts[s].track for s in ids] == [track] * TRACK_CARS + [None]
    assert all(
        f.loss_ratio == 0 and f.catalog_hash == fleet.sessions[f.session_id].catalog_hash for f in facts.values()
    )
    laps = source.laps(ids)
    assert sorted((lap.session_id, lap.lap) for lap in laps) == sorted((lap.session_id, lap.lap) for lap in fleet.laps)
    complete = [lap for lap in laps if lap.complete]
    windows = source.windows(
        [LapKey(session_id=lap.session_id, lap=lap.lap, seconds=lap.lap_time) for lap in complete],
        WINDOW_MS,
        SPEC.window_columns(),
    )
    written = fleet.rows(WINDOW_MS)
    for lap in complete:
        got, want = windows[(lap.session_id, lap.lap)], written[(lap.session_id, lap.lap)]
        assert [r["lap_time"] for r in got] == [r["lap_time"] for r in want]
        assert [r["speed_mean"] for r in got] == pytest.approx([r["speed_mean"] for r in want], rel=1e-6)


def test_training_registers_a_champion_for_the_track(
    stack: Stack, runs: list[TrainingRun], track: str, model_name: str
) -> None:
    first = runs[0]
    (dataset,) = first.extracted.tracks
    registered = tracks.registered_name(model_name, track)
    assert (dataset.track, dataset.model_name) == (track, registered)
    assert dataset.laps == TRACK_CARS * LAPS and dataset.validation_sessions == len(HELD_OUT_CARS)
    (skipped,) = first.extracted.skipped  # the session that named no track ran on DEFAULT_TRACK
    assert skipped.track == stack.cfg.default_track and "MIN_TRAINING_LAPS" in skipped.reason
    (trained,) = first.trained.tracks
    assert trained.evaluation.beats_every_baseline, trained.evaluation.unbeaten
    (promotion,) = first.registered.tracks
    assert (promotion.model_name, promotion.version, promotion.alias, promotion.champion) == (
        registered,
        "1",
        CHAMPION,
        "1",
    )
    client = tracking.connect(stack.cfg.mlflow_url)
    assert client.get_registered_model(registered).tags[tracking.TRACK_TAG] == track
    assert client.get_model_version_by_alias(registered, CHAMPION).run_id == trained.run_id
    assert tracking.track_models(client, model_name) == {tracks.slug(track): registered}
    run = client.get_run(trained.run_id)
    assert run.data.tags["p424.card.track"] == track and "p424.card.weakness" in run.data.tags
    assert run.data.tags["p424.card.decision"].startswith("v1 -> champion: beats every baseline")
    assert run.data.metrics["reference_mae_lap_time_s"] > run.data.metrics["model_on_reference_mae_lap_time_s"]
    with tempfile.TemporaryDirectory() as tmp:
        md = Path(
            mlflow.artifacts.download_artifacts(run_id=trained.run_id, artifact_path=MARKDOWN_ARTIFACT, dst_path=tmp)
        )
        card = ModelCard.from_dict(
            json.loads(
                Path(
                    mlflow.artifacts.download_artifacts(
                        run_id=trained.run_id, artifact_path=JSON_ARTIFACT, dst_path=tmp
                    )
                ).read_text()
            )
        )
        text = md.read_text()
    assert card.evaluation == trained.evaluation and card.track == track
    assert card.data.source == f"cassandra keyspace {stack.cfg.cassandra_keyspace}"
    assert f"Track **{track}**" in text and "|  | reference-lap baseline |" in text
    assert "## Where it is weak" in text and "## Registry\n- v1 -> champion: beats every baseline" in text


def test_a_model_that_does_not_beat_the_reference_lap_does_not_become_champion(
    stack: Stack, runs: list[TrainingRun], track: str, model_name: str
) -> None:
    (trained,) = runs[1].trained.tracks
    assert {c.baseline for c in trained.evaluation.unbeaten} == {"reference"}
    (promotion,) = runs[1].registered.tracks
    assert (promotion.version, promotion.alias, promotion.champion, promotion.previous_champion) == (
        "2",
        CHALLENGER,
        "1",
        "1",
    )
    assert promotion.reason.startswith("does not beat every baseline on held-out sessions: lap time MAE")
    assert "reference-lap baseline" in promotion.reason
    client = tracking.connect(stack.cfg.mlflow_url)
    registered = tracks.registered_name(model_name, track)
    assert client.get_model_version_by_alias(registered, CHAMPION).version == "1"
    assert client.get_model_version_by_alias(registered, CHALLENGER).version == "2"


def test_too_little_data_names_the_track_and_what_is_missing(
    stack: Stack, fleet: Processed, model_name: str, track: str, tmp_path: Path
) -> None:
    s = replace(settings(stack, model_name, fleet, tmp_path), session_ids=(next(iter(fleet.sessions)),))
    with pytest.raises(pipeline.SkipTrainingError, match=rf"too little data: track '{track}': 2 complete, valid laps"):
        pipeline.extract(s)
