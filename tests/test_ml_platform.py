"""The ML loop on the real stack: Airflow trains on what Flink stored, MLflow registers, MinIO keeps the
artifacts, the live predictor serves each track's champion.

One module-wide story, to stay within a few minutes on two cores: five simulated cars stream two
complete laps each on a track of this module's own, the training DAG runs on those
sessions under a model name of its own (registered per track: `<name>__<track>`), a second run whose
model beats pace extrapolation but not the reference lap must not take `champion`, a third run on one
session must be skipped with its reason, a live session on the track gets predictions from the
champion meanwhile, and a live session on a track without a champion gets none, and /health says why.

"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
import requests

from launcher.cli import main as launch
from launcher.commands_ml import TRAINING_DAG, AirflowClient, RunOutcome
from launcher.provision import ensure_schema, minio_client
from p424.archive.store import ArchiveStore
from p424.archive.writer import archive_session, smallest_window_ms
from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder
from p424.config import REPO_ROOT, parse_env_file
from p424.kafka.access import grant
from p424.ml import pipeline, tracking, tracks
from p424.ml.card import JSON_ARTIFACT, MARKDOWN_ARTIFACT
from p424.ml.promotion import CHALLENGER, CHAMPION
from p424.ml.settings import TrainingSettings
from p424.security.http import bearer_headers
from p424.security.identities import identity_env
from p424.security.kafka import kafka_principals
from p424.sim import CarSimulator
from tests.helpers import Stack, wait_for
from tests.ml_fleet import HELD_OUT_CARS, RATE_HZ, TRACK_CARS, car_simulator, session_ids_holding_out
from unity_bridge.intake import new_session_id
from unity_bridge.sender import FrameSender
from unity_bridge.streams import interleave

pytestmark = pytest.mark.platform

# Each session ends with the line crossing that closes its last lap: 2 complete laps per car. 5 Hz
# (RATE_HZ) keeps the load small (~16,000 frames, 313 s of session time per lap) while every 1 s window
# still holds five frames. Five sessions: three held out for validation, two to train on.
CARS, LAPS = TRACK_CARS, 2
LIVE_WINDOWS_LAP1 = 1400  # 100 ms windows with a frame in lap 1 at 5 Hz: ~1,565
DAG_TIMEOUT_S = 420.0


@pytest.fixture(scope="module")
def track() -> str:
    """This module's track: its sessions are the only ones on it."""
    return f"p424 test track {uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def model_name(stack: Stack) -> Iterator[str]:
    """A model name of this module's own; every track's registered model is removed afterwards (the runs stay
    in the experiment of the same name, for a look at what happened)."""
    name = f"p424_lap_outcome_test_{uuid.uuid4().hex[:8]}"
    yield name
    client = tracking.connect(stack.cfg.mlflow_url)
    for registered in tracking.track_models(client, name).values():
        with contextlib.suppress(mlflow.exceptions.MlflowException):
            client.delete_registered_model(registered)


def send_cars(stack: Stack, sims: list[CarSimulator], track: str, stop: float | None = None) -> None:
    """Simulated cars through the bridge, interleaved by session time as a grid of simulators sends them, each
    session's track recorded first (as a sender that names its track does); channels the simulator does not
    model are sent absent. ``stop``: session seconds to send (all when None)."""
    for sim in sims:
        stack.store.describe_session(
            sim.session_id, car_id=sim.car_id, track=track, source="test", description=__name__
        )
    first = next(sims[0].samples())
    enc = FrameEncoder(present=~np.isnan(first[1]))
    with FrameSender(stack.cfg.host_of("bridge"), stack.cfg.bridge_udp_port) as sender:
        for i, (header, values) in enumerate(interleave(sims)):
            if stop is not None and header.sim_time > stop:
                break
            sender.send(enc.encode(header, values))
            if i % 500 == 499:
                time.sleep(0.1)  # ~5,000 frames/s at most: no kernel drops on a busy machine


@pytest.fixture(scope="module")
def lossy_session(stack: Stack) -> tuple[int, int]:
    """(session id, frames sent) of one lap with every 10th frame never sent, for the data-quality DAG."""
    ensure_schema(stack.cfg)  # applies 0002_predictions.cql if this stack predates it (idempotent)
    return stream_lossy_session(stack, drop_every=10)


@pytest.fixture(scope="module")
def sessions(stack: Stack, lossy_session: tuple[int, int], track: str, archive: ArchiveStore) -> list[int]:
    """Simulated sessions on this module's track, streamed through the bridge, once their complete laps are
    in Cassandra. (The lossy session went first, so Flink processes it meanwhile.)

    The cars and their laps are those of tests/test_ml_unit.py, and the session ids are drawn so that the
    stable hash holds out the same cars: the first run's model then beats every baseline and the weak run's
    does not beat the reference lap, as there, whichever ids the bridge sees."""
    ids = session_ids_holding_out(HELD_OUT_CARS, CARS, new_session_id)
    send_cars(stack, [car_simulator(car, sid, LAPS) for car, sid in enumerate(ids, 1)], track)
    ids.sort()

    def complete_laps() -> int:
        return sum(1 for s in ids for lap in stack.store.laps(s) if lap["complete"])

    wait_for(lambda: complete_laps() >= CARS * LAPS, 300, "every streamed lap to be summarised in Cassandra", 2)
    # Training reads the session archive (TRAINING_SOURCE=archive): archive the sessions now, under this
    # module's prefix, as the p424_archive DAG does once they close.
    for s in ids:
        archive_session(stack.store.session, stack.cfg.cassandra_keyspace, archive, s, smallest_window_ms(stack.cfg))
    return ids


@pytest.fixture(scope="module")
def archive(stack: Stack) -> Iterator[ArchiveStore]:
    store = ArchiveStore.from_config(stack.cfg, prefix=f"tests/ml-{uuid.uuid4().hex[:10]}/")
    yield store
    for key in store.list(""):
        store.delete(key)


def run_train_command(*args: str) -> RunOutcome:
    """`./launchcommand.sh train --wait --json ...` through the real CLI parser, outcome parsed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = launch(["train", "--wait", "--json", "--timeout", str(DAG_TIMEOUT_S), *args])
    outcome = RunOutcome.from_dict(json.loads(out.getvalue()))
    assert code == (0 if outcome.state == "success" else 1)
    return outcome


@pytest.fixture(scope="module")
def first_run(sessions: list[int], model_name: str, archive: ArchiveStore) -> RunOutcome:
    args = ["--model-name", model_name, "--archive-prefix", archive.prefix]
    for s in sessions:
        args += ["--session", str(s)]
    return run_train_command(*args)


@pytest.fixture(scope="module")
def queued_runs(
    stack: Stack, first_run: RunOutcome, sessions: list[int], model_name: str, archive: ArchiveStore
) -> dict[str, str]:
    """Queued behind each other (max_active_runs=1) while the live test streams: a weak model, then too little data."""
    client = AirflowClient(stack.cfg)
    # One boosting step on a median lap of 2 km bins: well ahead of pace extrapolation, behind the reference lap
    # (tests/test_ml_unit.py shows it on the same simulator).
    weak = client.trigger(
        TRAINING_DAG,
        {
            "model_name": model_name,
            "session_ids": sessions,
            "max_iter": 1,
            "profile_step_m": 2000,
            "archive_prefix": archive.prefix,
        },
        note="test: weak model",
    )
    tiny = client.trigger(
        TRAINING_DAG,
        {"model_name": model_name, "session_ids": sessions[:1], "min_laps": 2, "archive_prefix": archive.prefix},
        note="test: one session",
    )
    return {"weak": weak, "tiny": tiny}


def finished(stack: Stack, run_id: str) -> RunOutcome:
    client = AirflowClient(stack.cfg)
    started = time.monotonic()
    client.wait(TRAINING_DAG, run_id, DAG_TIMEOUT_S)
    return client.outcome(TRAINING_DAG, run_id, time.monotonic() - started)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def predictor(stack: Stack, first_run: RunOutcome, model_name: str, track: str) -> Iterator[str]:
    """`python -m p424.ml.live` for this module's model name, on a port and consumer group of its own; ready once
    it serves the champion of this module's track."""
    port = free_port()
    group = f"p424-test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    if stack.cfg.auth_enabled:
        # Logged in as the platform's predictor (as the launcher starts it), with its ACLs on this group too.
        env.update(identity_env("predictor", parse_env_file(stack.platform.paths.credentials)))
        [principal] = [p for p in kafka_principals(stack.cfg) if p.user == env["KAFKA_SASL_USERNAME"]]
        grant(stack.cfg, [dataclasses.replace(principal, group=group)])
    log = tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False)  # noqa: SIM115 (kept for failures)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p424.ml.live",
            "--set",
            f"MODEL_NAME={model_name}",
            "--set",
            f"PREDICTOR_HTTP_PORT={port}",
            "--group",
            group,
            "--model-poll",
            "2",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{stack.cfg.platform_bind_address}:{port}"

    def ready() -> dict[str, Any] | None:
        assert proc.poll() is None, f"predictor exited: {Path(log.name).read_text()[-2000:]}"
        try:
            h: dict[str, Any] = requests.get(f"{url}/health", timeout=2).json()
        except requests.RequestException:
            return None
        serving = h["models"].get(track, {}).get("version")
        return h if h["status"] == "ok" and serving == "1" else None

    try:
        wait_for(ready, 90, "the predictor to load the track's champion and join its consumer group", 1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        os.unlink(log.name)


# ------------------------------------------------------------------------------------------- DAGs
DAGBAG_SCRIPT = r"""
import json, os, sys
from airflow.dag_processing.dagbag import DagBag

def describe(bag):
    return {d.dag_id: {"schedule": str(d.schedule), "tags": sorted(d.tags), "max_active_runs": d.max_active_runs,
                       "retries": sorted({t.retries for t in d.tasks}), "tasks": sorted(t.task_id for t in d.tasks),
                       "doc": bool(d.doc_md), "params": sorted(d.params.keys()), "catchup": d.catchup}
            for d in bag.dags.values()}

folder = sys.argv[1]
files = [os.path.join(folder, f) for f in ("p424_train_lap_model.py", "p424_data_quality.py")]
out = {"errors": {}, "dags": {}}
for f in files:
    bag = DagBag(dag_folder=f)
    out["errors"].update({k: str(v) for k, v in bag.import_errors.items()})
    out["dags"].update(describe(bag))
os.environ["AIRFLOW_VAR_P424_TRAINING_SCHEDULE"] = "*/30 * * * *"
out["overridden"] = describe(DagBag(dag_folder=files[0]))
print("DAGBAG" + json.dumps(out))
"""


def test_dags_import_with_intended_schedules_tags_and_retries(stack: Stack) -> None:
    cfg = stack.cfg
    airflow_python = cfg.state_dir / "venvs" / "airflow" / "bin" / "python"
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW_VAR_P424_TRAINING_SCHEDULE": cfg.training_schedule,
            "P424_PLATFORM_PYTHON": str(cfg.state_dir / "venvs" / "platform" / "bin" / "python"),
            "P424_CONFIG_FILE": str(REPO_ROOT / "toolchain-config.env"),
            "PLATFORM_STATE_DIR": str(cfg.state_dir),
        }
        done = subprocess.run(
            [str(airflow_python), "-c", DAGBAG_SCRIPT, str(REPO_ROOT / "airflow" / "dags")],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout.split("DAGBAG", 1)[1])
    assert doc["errors"] == {}
    train, quality = doc["dags"]["p424_train_lap_model"], doc["dags"]["p424_data_quality"]
    assert train["schedule"] == cfg.training_schedule
    assert doc["overridden"]["p424_train_lap_model"]["schedule"] == "*/30 * * * *"
    assert quality["schedule"] == "@hourly"
    for dag, tags in ((train, ["ml", "p424", "training"]), (quality, ["data-quality", "p424"])):
        assert dag["tags"] == tags
        assert dag["max_active_runs"] == 1 and not dag["catchup"] and dag["doc"]
        assert dag["retries"] == [2]
    assert train["tasks"] == ["extract", "register", "resolve_settings", "train"]
    assert {"model_name", "session_ids", "min_laps", "max_iter"} <= set(train["params"])
    assert {"max_loss_ratio", "max_late_ratio", "max_incomplete_laps", "lookback_hours"} <= set(quality["params"])


# ------------------------------------------------------------------------------------------- training
def test_training_dag_trains_registers_and_promotes(
    first_run: RunOutcome, sessions: list[int], model_name: str, track: str
) -> None:
    assert first_run.state == "success", first_run.failure
    assert first_run.tasks == dict.fromkeys(("resolve_settings", "extract", "train", "register"), "success")
    assert first_run.extracted and first_run.registered
    (d,) = first_run.extracted.tracks
    assert d.track == track and d.laps == CARS * LAPS and set(first_run.extracted.rejected) <= {"incomplete"}
    assert d.validation_sessions >= 3 and d.train_sessions + d.validation_sessions == CARS
    (r,) = first_run.registered.tracks
    assert r.model_name == tracks.registered_name(model_name, track)
    assert (r.version, r.alias, r.champion, r.previous_champion) == ("1", CHAMPION, "1", None)


def test_model_beats_every_baseline_on_held_out_sessions(first_run: RunOutcome) -> None:
    assert first_run.trained
    (t,) = first_run.trained.tracks
    e = t.evaluation
    assert e.beats_every_baseline, e.unbeaten
    pace, reference = e.comparison("pace", "lap_time_s"), e.comparison("reference", "lap_time_s")
    assert pace.model.mae < 0.2 * pace.other.mae and reference.laps >= 1
    assert e.model["lap_time_s"].mae < 2.0 and e.model["energy_net_kwh"].mae < 0.5
    assert all(v is not None for v in e.model["lap_time_s"].thirds)
    assert e.laps >= 3


def test_run_lineage_card_in_mlflow_and_artifacts_in_minio(
    stack: Stack, first_run: RunOutcome, sessions: list[int], model_name: str, track: str
) -> None:
    assert first_run.trained
    (trained,) = first_run.trained.tracks
    registered = tracks.registered_name(model_name, track)
    client = tracking.connect(stack.cfg.mlflow_url)
    run = client.get_run(trained.run_id)
    assert run.data.params["catalog_hash"] == CATALOG.hash_hex and run.data.params["track"] == track
    assert int(run.data.params["train_laps"]) + int(run.data.params["validation_laps"]) == CARS * LAPS
    assert run.data.metrics["mae_lap_time_s"] == pytest.approx(trained.evaluation.model["lap_time_s"].mae, abs=1e-6)
    assert run.data.tags["p424.registered_version"] == "1" and run.data.tags["p424.alias"] == CHAMPION
    assert run.data.tags["p424.card.track"] == track
    champion = client.get_model_version_by_alias(registered, CHAMPION)
    assert champion.version == "1" and champion.run_id == trained.run_id
    assert champion.tags["p424.decision"] == CHAMPION and champion.tags["p424.track"] == track
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=trained.run_id, artifact_path="lineage.json", dst_path=tmp)
        lineage = json.loads(Path(path).read_text())
    assert sorted(lineage["train_sessions"] + lineage["validation_sessions"]) == sessions
    assert not set(lineage["train_sessions"]) & set(lineage["validation_sessions"])
    assert lineage["catalog_hash"] == CATALOG.hash_hex and len(lineage["laps"]) == CARS * LAPS
    info = mlflow.models.get_model_info(trained.model_uri)
    assert info.signature is not None and len(info.signature.inputs.input_names()) > 100
    # the objects themselves, in the MinIO bucket behind the tracking server
    bucket = stack.cfg.minio_bucket_mlflow
    minio = minio_client(stack.cfg)
    run_prefix = f"artifacts/{trained.experiment_id}/{trained.run_id}/artifacts/"
    run_objects = {
        o.object_name.removeprefix(run_prefix) for o in minio.list_objects(bucket, run_prefix, recursive=True)
    }
    assert {
        "lineage.json",
        MARKDOWN_ARTIFACT,
        JSON_ARTIFACT,
        "evaluation/evaluation.json",
        "evaluation/predicted_vs_actual.png",
        "evaluation/error_by_third.png",
        "evaluation/feature_importances.csv",
        "evaluation/feature_importances.png",
    } <= run_objects
    model_prefix = f"artifacts/{trained.experiment_id}/models/{info.model_id}/artifacts/"
    model_objects = {
        o.object_name.removeprefix(model_prefix): o.size
        for o in minio.list_objects(bucket, model_prefix, recursive=True)
    }
    assert {"MLmodel", "input_example.json", "requirements.txt"} <= set(model_objects)
    assert any(name.startswith("model.") and size > 10_000 for name, size in model_objects.items())
    card = minio.get_object(bucket, run_prefix + MARKDOWN_ARTIFACT)
    try:
        text = card.read().decode()
    finally:
        card.close()
        card.release_conn()
    assert f"Track **{track}**" in text and "reference-lap baseline" in text and "v1 -> champion" in text


# ------------------------------------------------------------------------------------------- live
def test_live_predictions_for_a_streaming_session(
    stack: Stack, predictor: str, queued_runs: dict[str, str], model_name: str, track: str
) -> None:
    cfg = stack.cfg
    registered = tracks.registered_name(model_name, track)
    start = stack.end_offsets(cfg.kafka_topic_predictions)
    sim = CarSimulator(7, new_session_id(), seed=7, rate_hz=RATE_HZ, laps=2)
    send_cars(stack, [sim], track, stop=sim_seconds_of_one_lap_and_a_bit(sim))
    sid = sim.session_id
    ks = cfg.cassandra_keyspace

    def lap1_predictions() -> int:
        rows = stack.store.session.execute(
            f"SELECT count(*) AS n FROM {ks}.predictions WHERE session_id = %s AND lap = 1", (sid,)
        )
        return int(rows.one()["n"])

    # lap 1 is ~313 s: every 100 ms window that holds a frame is predicted once
    wait_for(lambda: lap1_predictions() >= LIVE_WINDOWS_LAP1, 240, "live predictions of lap 1 in Cassandra", 2)
    month = time.strftime("%Y-%m", time.gmtime())

    def lap1_error() -> dict[str, Any] | None:
        rows = stack.store.session.execute(
            f"SELECT * FROM {ks}.prediction_errors WHERE model_name = %s AND month = %s", (registered, month)
        )
        return next((r for r in rows if r["session_id"] == sid and r["lap"] == 1), None)

    err = wait_for(lap1_error, 120, "the prediction error of completed lap 1 (drift record)", 2)
    assert err["model_version"] == "1" and err["windows"] >= LIVE_WINDOWS_LAP1
    assert err["mae_lap_time"] < err["baseline_mae_lap_time"] and err["mae_energy_kwh"] < err["baseline_mae_energy_kwh"]
    assert abs(err["error_lap_time_at_50"]) < 3.0 and abs(err["error_energy_at_50"]) < 1.0
    laps = {lap["lap"]: lap for lap in stack.store.laps(sid)}
    assert err["actual_lap_time"] == pytest.approx(laps[1]["lap_time"])
    messages = stack.records_since(
        cfg.kafka_topic_predictions, start, until_count=LIVE_WINDOWS_LAP1, timeout=60, key=str(sid).encode()
    )
    # (another predictor, e.g. the platform's own, may answer the same windows with its model)
    preds = [p for p in (json.loads(m.value) for m in messages) if p["model_name"] == registered]
    assert len(preds) >= LIVE_WINDOWS_LAP1 and {p["model_version"] for p in preds} == {"1"}
    late = [p for p in preds if p["lap"] == 1 and p["lap_distance"] > 15_000]
    assert late and all(abs(p["predicted_lap_time"] - laps[1]["lap_time"]) < 3.0 for p in late)
    health = requests.get(f"{predictor}/health", timeout=5).json()
    assert health["laps_scored"] >= 1 and health["write_errors"] == 0
    assert health["models"][track] == {"model": registered, "alias": CHAMPION, "version": "1", "note": ""}
    metrics = requests.get(f"{predictor}/metrics", headers=bearer_headers(cfg), timeout=5).text
    assert "p424_predictor_predictions" in metrics
    assert f'p424_predictor_model_version{{model="{registered}",track="{track}"}} 1.0' in metrics


def test_a_session_on_a_track_without_a_champion_gets_no_predictions_and_health_says_why(
    stack: Stack, predictor: str, model_name: str
) -> None:
    other = f"p424 test track without a champion {uuid.uuid4().hex[:8]}"
    sim = CarSimulator(8, new_session_id(), seed=8, rate_hz=RATE_HZ, laps=1)
    send_cars(stack, [sim], other, stop=30.0)
    sid = sim.session_id

    def told() -> dict[str, Any] | None:
        h: dict[str, Any] = requests.get(f"{predictor}/health", timeout=5).json()
        return h if str(sid) in h["sessions_without_model"] and other in h["models"] else None

    health = wait_for(told, 120, "the predictor to report the session's track has no champion", 2)
    assert health["sessions_without_model"][str(sid)] == other
    status = health["models"][other]
    assert status["version"] is None and status["model"] == tracks.registered_name(model_name, other)
    assert status["note"].startswith(f"no champion for track {other!r}: no model is registered for it")
    assert "get no predictions" in status["note"] and health["unserved_windows"] > 0
    rows = stack.store.session.execute(
        f"SELECT count(*) AS n FROM {stack.cfg.cassandra_keyspace}.predictions WHERE session_id = %s AND lap = 1",
        (sid,),
    )
    assert int(rows.one()["n"]) == 0


# ------------------------------------------------------------------------------------------- data quality
QUALITY_DAG = "p424_data_quality"


def sim_seconds_of_one_lap_and_a_bit(sim: CarSimulator, seconds_into_lap_2: float = 5.0) -> float:
    """Session time a little into lap 2: sending up to it closes lap 1."""
    first_lap = next(iter(sim.laps()))[1]
    return first_lap.lap_time + seconds_into_lap_2


def stream_lossy_session(stack: Stack, drop_every: int) -> tuple[int, int]:
    """One simulated lap at 5 Hz with every ``drop_every``-th frame never sent: (session id, frames sent)."""
    sim = CarSimulator(9, new_session_id(), seed=5, rate_hz=RATE_HZ, laps=1)
    samples = sim.samples()
    first = next(samples)
    enc = FrameEncoder(present=~np.isnan(first[1]))  # channels the simulator does not model are sent absent
    sent = 0
    with FrameSender(stack.cfg.host_of("bridge"), stack.cfg.bridge_udp_port) as sender:
        for i, (header, values) in enumerate(itertools.chain([first], samples)):
            if i % drop_every != drop_every - 1:  # keeps the first frame (start line) and the last
                sender.send(enc.encode(header, values))
                sent += 1
    return sim.session_id, sent


def test_data_quality_dag_fails_loudly_on_loss(
    stack: Stack, sessions: list[int], lossy_session: tuple[int, int], queued_runs: dict[str, str]
) -> None:
    lossy, sent = lossy_session  # 10 % of its frames were never sent
    wait_for(
        lambda: (stack.store.quality(lossy) or {}).get("frames_received", 0) >= sent,
        180,
        "the lossy session's frames to be processed",
        2,
    )
    client = AirflowClient(stack.cfg)
    clean = client.trigger(QUALITY_DAG, {"session_ids": sessions, "lookback_hours": 0})
    bad = client.trigger(QUALITY_DAG, {"session_ids": [sessions[0], lossy], "lookback_hours": 0})
    assert client.wait(QUALITY_DAG, clean, 300) == "success"
    assert client.xcom(QUALITY_DAG, clean, "enforce")["checked_sessions"] == len(sessions)
    assert client.wait(QUALITY_DAG, bad, 300) == "failed"
    assert client.task_states(QUALITY_DAG, bad) == {
        "resolve_settings": "success",
        "collect": "success",
        "enforce": "failed",
    }
    log = client.task_log(QUALITY_DAG, bad, "enforce")
    assert "data quality failed: 1 violation(s) in 2 checked session(s)" in log
    assert re.search(rf"session {lossy}: frame loss ratio 0\.09\d* exceeds 0\.01", log), log[-2000:]
    assert str(sessions[0]) not in log


# ------------------------------------------------------------------------------------------- promotion
def test_a_model_that_does_not_beat_the_reference_lap_does_not_become_champion(
    stack: Stack, queued_runs: dict[str, str], model_name: str, track: str
) -> None:
    weak = finished(stack, queued_runs["weak"])
    assert weak.state == "success", weak.failure
    assert weak.trained and weak.registered
    (t,) = weak.trained.tracks
    assert t.evaluation.comparison("pace", "lap_time_s").beaten  # it beats pace extrapolation...
    assert {c.baseline for c in t.evaluation.unbeaten} == {"reference"}  # ...but not the reference lap
    (r,) = weak.registered.tracks
    assert (r.version, r.alias, r.champion, r.previous_champion) == ("2", CHALLENGER, "1", "1")
    assert r.reason.startswith("does not beat every baseline on held-out sessions") and "reference-lap" in r.reason
    client = tracking.connect(stack.cfg.mlflow_url)
    registered = tracks.registered_name(model_name, track)
    assert client.get_model_version_by_alias(registered, CHAMPION).version == "1"
    assert client.get_model_version_by_alias(registered, CHALLENGER).version == "2"


def test_too_little_data_skips_with_a_reason(
    stack: Stack, queued_runs: dict[str, str], sessions: list[int], model_name: str, track: str
) -> None:
    tiny = finished(stack, queued_runs["tiny"])
    assert tiny.state == "success"  # a skip is not a failure
    assert tiny.tasks["extract"] == "skipped" and tiny.tasks["train"] == "skipped"
    assert tiny.skip_reason and f"track '{track}': laps from 1 session(s)" in tiny.skip_reason
    # and straight from the pipeline: the reason names the setting and what to do
    settings = TrainingSettings.from_config(stack.cfg, model_name=model_name, session_ids=(sessions[0] + 1,))
    want = rf"too little data: no complete, valid laps in 1 session.*MIN_TRAINING_LAPS={stack.cfg.min_training_laps} "
    with pytest.raises(pipeline.SkipTrainingError, match=want + ".*simulate"):
        pipeline.extract(settings)
