"""The ML package on simulated laps (no services): features, the dataset step, the model against every
baseline, live state.

Data: simulated cars run through the real session processor (``p424.processing``) in memory
(``tests/ml_fleet.py``), so the windows and laps here are exactly what Flink stores and publishes; the
dataset step reads them through the training-source protocol, as it reads Cassandra.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from p424.catalog import CATALOG
from p424.kafka.messages import LapMessage, WindowMessage, lap_message, window_message
from p424.ml import dataset as ds
from p424.ml import pipeline
from p424.ml.baseline import PACE, REFERENCE
from p424.ml.features import SPEC, FeatureSpec, LapSoFar, WindowObs, lap_features
from p424.ml.live.state import LiveState
from p424.ml.model import LapOutcomeModel
from p424.ml.pipeline import Split, evaluate, lap_length, load_split
from p424.ml.quality import SessionQuality, Thresholds, failure_message, incomplete_inner_laps, report, violations
from p424.ml.settings import Hyperparameters, TrainingSettings
from p424.ml.steps import Extracted, Lineage
from p424.storage import window_stats, writes
from tests.catalogs import channel, grown
from tests.ml_fleet import FIRST_SESSION, HELD_OUT_CARS, RATE_HZ, FleetSource, Processed, process

DEFAULT_TRACK = "Nordschleife"
OTHER_TRACK = "Spa (test)"


@pytest.fixture(scope="module")
def fleet() -> Processed:
    """Six cars, two complete laps each (a session ends with the line crossing that closes its last lap)."""
    return process(cars=6, laps=2)


@pytest.fixture(scope="module")
def frame(fleet: Processed) -> pd.DataFrame:
    laps = fleet.stored_laps()
    sel = ds.select_laps(laps, dict.fromkeys((lap.session_id for lap in laps), DEFAULT_TRACK))
    return ds.assemble(sel.laps, fleet.rows(1000))


def settings(tmp: Path, **kw: Any) -> TrainingSettings:
    return TrainingSettings(
        cassandra_host="unused",
        cassandra_port=0,
        keyspace="unused",
        mlflow_uri="unused",
        model_name="p424_test",
        default_track=DEFAULT_TRACK,
        work_dir=str(tmp),
        **kw,
    )


@pytest.fixture(scope="module")
def extracted(fleet: Processed, tmp_path_factory: pytest.TempPathFactory) -> tuple[Extracted, FleetSource]:
    """The dataset step on the fleet: sessions 9001-9005 name no track (DEFAULT_TRACK), 9006 ran on another."""
    source = FleetSource(fleet, tracks={9006: OTHER_TRACK})
    return pipeline.extract(settings(tmp_path_factory.mktemp("ml")), source), source


@pytest.fixture(scope="module")
def split(extracted: tuple[Extracted, FleetSource]) -> Split:
    return load_split(extracted[0].tracks[0])


# ----------------------------------------------------------------------------------------- features
def test_features_derive_from_the_catalog() -> None:
    cont = [c.name for c in CATALOG.payload_channels if c.kind.value == "continuous"]
    assert {f"{c}_mean" for c in cont} <= set(SPEC.names)
    assert {f"{c}_last" for c in CATALOG.payload_names} <= set(SPEC.names)
    key = [c.name for c in CATALOG.key_channels()]
    assert {f"{c}_min" for c in key} | {f"{c}_max" for c in key} <= set(SPEC.names)
    assert "sector_mean" not in SPEC.names  # discrete channels have no mean
    assert len(set(SPEC.names)) == len(SPEC.names)
    # a channel appended to the catalog brings its features (and changes the fingerprint)
    extra = grown(channel("coolant_temperature", unit="degC", group="battery", hi=120, key=True))
    spec = FeatureSpec.from_catalog(extra)
    assert {
        "coolant_temperature_mean",
        "coolant_temperature_last",
        "coolant_temperature_min",
        "coolant_temperature_max",
    } <= set(spec.names)
    assert spec.fingerprint != SPEC.fingerprint and spec.catalog_hash != SPEC.catalog_hash


def test_row_and_message_give_identical_features(fleet: Processed) -> None:
    """Training reads Cassandra rows, live reads WindowMessages: the same window -> the same features."""
    lap = [w for w in fleet.windows if w.session_id == 9001 and w.lap == 1 and w.window_ms == 100]
    cols = writes.Statements("ks").window_columns
    from_rows = lap_features(
        [
            WindowObs.from_row(
                window_stats.expand(dict(zip(cols, writes.window_params(w), strict=True)), SPEC.window_columns())
            )
            for w in lap
        ]
    )
    msgs = [WindowMessage.from_json(window_message(w).to_json()) for w in lap]
    from_msgs = lap_features([WindowObs.from_message(m) for m in msgs])
    np.testing.assert_allclose(from_rows, from_msgs, rtol=1e-6, equal_nan=True)
    # the live service's fast path (decoded JSON, no dataclass per channel) is the same
    from_docs = lap_features([WindowObs.from_json_dict(json.loads(window_message(w).to_json())) for w in lap])
    np.testing.assert_array_equal(from_docs, from_msgs)


def test_features_do_not_depend_on_the_window_size(fleet: Processed) -> None:
    """Live uses 100 ms windows, training 1 s windows: at each 1 s boundary the lap so far agrees."""
    pick = [(w.session_id, w.lap) == (9002, 1) for w in fleet.windows]
    fine = [w for w, p in zip(fleet.windows, pick, strict=True) if p and w.window_ms == 100]
    coarse = [w for w, p in zip(fleet.windows, pick, strict=True) if p and w.window_ms == 1000]
    f_fine = lap_features([WindowObs.from_message(window_message(w)) for w in fine])
    f_coarse = lap_features([WindowObs.from_message(window_message(w)) for w in coarse])
    times = np.array([w.lap_time for w in fine])
    names = list(SPEC.names)
    for i in range(5, len(coarse) - 1, 37):
        j = int(np.flatnonzero(np.isclose(times, coarse[i].lap_time))[-1])
        a, b = f_fine[j], f_coarse[i]
        for exact in ("elapsed_s", "distance_m", "speed_max", "speed_min", "battery_energy_last"):
            assert a[names.index(exact)] == pytest.approx(b[names.index(exact)], rel=1e-9), exact
        for close in ("energy_kwh", "speed_mean", "throttle_mean", "tyre_temperature_fl_mean"):
            assert a[names.index(close)] == pytest.approx(b[names.index(close)], rel=0.01), close


def test_energy_so_far_matches_the_lap_summary(fleet: Processed) -> None:
    """Integrating window means of total power reproduces processing's lap energy (trapezoid over frames)."""
    rows = fleet.rows(1000)
    for lap in [lap for lap in fleet.laps if lap.complete][:4]:
        acc = LapSoFar()
        for r in rows[(lap.session_id, lap.lap)]:
            acc.update(WindowObs.from_row(r))
        assert acc.energy_kwh == pytest.approx(lap.energy_net_kwh, rel=0.01)
        assert acc.elapsed == pytest.approx(lap.lap_time, abs=2 / RATE_HZ)


def test_lap_so_far_handles_absent_channels_and_stalled_clock() -> None:
    n = len(SPEC.channels)
    nan = np.full(n, np.nan)
    vals = np.arange(n, dtype=np.float64)
    acc = LapSoFar()
    acc.update(WindowObs(1.0, 40.0, vals, vals, vals, vals))
    f = acc.update(WindowObs(1.0, 40.0, vals + 100, vals, vals, vals))  # no time passed: no weight
    names = list(SPEC.names)
    assert f[names.index("speed_mean")] == vals[SPEC.channels.index("speed")]
    f = acc.update(WindowObs(2.0, 80.0, nan, nan, nan, nan))  # every channel absent
    assert f[names.index("speed_last")] == vals[SPEC.channels.index("speed")]
    assert f[names.index("pace_mps")] == pytest.approx(40.0)
    assert np.isnan(LapSoFar().features()[names.index("pace_mps")])  # nothing driven yet


# ----------------------------------------------------------------------------------------- dataset step
def test_the_dataset_step_groups_laps_by_track_and_skips_with_reasons(
    fleet: Processed, extracted: tuple[Extracted, FleetSource]
) -> None:
    ext, source = extracted
    (track,) = ext.tracks
    assert (track.track, track.model_name) == (DEFAULT_TRACK, "p424_test__nordschleife")
    assert track.laps == 10 and (track.train_sessions, track.validation_sessions) == (2, 3)
    assert (track.train_laps, track.validation_laps) == (4, 6)
    (skipped,) = ext.skipped
    assert skipped.track == OTHER_TRACK
    assert skipped.reason == "2 complete, valid laps; training needs MIN_TRAINING_LAPS=6"
    assert ext.rejected == {}  # every session ends with the crossing that closes its last lap
    # only the trainable track's windows were read, each lap with its duration (all its parts at once)
    (read,) = source.window_reads
    assert {k.session_id for k in read} == {9001, 9002, 9003, 9004, 9005}
    assert all(k.seconds is not None and 300 < k.seconds < 330 for k in read)
    assert Extracted.from_dict(json.loads(json.dumps(ext.to_dict()))) == ext
    lineage = Lineage.from_dict(json.loads(Path(track.lineage).read_text()))
    assert set(lineage.train_sessions) | set(lineage.validation_sessions) == {9001, 9002, 9003, 9004, 9005}
    assert lineage.session_catalogs == dict.fromkeys(map(str, range(9001, 9006)), CATALOG.version)
    # references in time order: every car leaves the line together, so no lap 1 has one, and every lap 2 has
    # the fastest lap 1 (it ended before any lap 2 began)
    laps = {(lap.session_id, lap.lap): lap for lap in lineage.laps}
    fastest_first = min((lap for lap in lineage.laps if lap.lap == 1), key=lambda x: x.lap_time)
    for lap in lineage.laps:
        assert lap.reference == (None if lap.lap == 1 else (fastest_first.session_id, 1))
        if lap.reference is not None:
            ref = laps[lap.reference]
            assert (ref.start_ms or 0) + ref.lap_time * 1000 <= (lap.start_ms or 0)
    assert track.validation_laps_with_reference == 3


def test_too_little_data_skips_every_track_with_its_reason(fleet: Processed, tmp_path: Path) -> None:
    source = FleetSource(fleet, tracks={9006: OTHER_TRACK}, lost={9002: 500})  # 9002 lost 5 % of its frames
    with pytest.raises(pipeline.SkipTrainingError) as info:
        pipeline.extract(settings(tmp_path, session_ids=(9001, 9002, 9003, 9004, 9006)), source)
    why = str(info.value)
    assert why.startswith(
        "too little data: track 'Nordschleife': laps from 3 session(s); validation holds out 3 whole sessions "
        "and training needs at least one more (4 sessions with complete laps) (laps left out: lossy session 2); "
        "track 'Spa (test)': 2 complete, valid laps; training needs MIN_TRAINING_LAPS=6. Each track needs "
        "MIN_TRAINING_LAPS=6 complete, valid laps from at least 4 sessions."
    )
    assert "simulate" in why
    with pytest.raises(pipeline.SkipTrainingError, match="too little data: no complete, valid laps in 1 session"):
        pipeline.extract(settings(tmp_path, session_ids=(123,)), source)


def test_assembled_rows_carry_identity_and_targets(fleet: Processed, frame: pd.DataFrame) -> None:
    complete = [lap for lap in fleet.laps if lap.complete]
    assert frame.groupby(["session_id", "lap"]).ngroups == len(complete) == 12
    one = frame[(frame.session_id == 9003) & (frame.lap == 2)]
    lap = next(lap for lap in complete if (lap.session_id, lap.lap) == (9003, 2))
    assert (one["y_lap_time_s"] == lap.lap_time).all() and (one["y_energy_net_kwh"] == lap.energy_net_kwh).all()
    assert one["window"].tolist() == list(range(len(one)))
    assert one["elapsed_s"].is_monotonic_increasing


# ----------------------------------------------------------------------------------------- model
def test_model_beats_every_baseline_on_held_out_sessions(split: Split) -> None:
    """The pipeline's model with the default hyperparameters, on the dataset step's folds (the platform tests
    train on the same cars and folds: tests/ml_fleet.py, HELD_OUT_CARS)."""
    assert set(split.lineage.validation_sessions) == {FIRST_SESSION + car - 1 for car in HELD_OUT_CARS}
    model, _ = pipeline.fit(split, Hyperparameters())
    length = model.lap_length_m
    e, pred = evaluate(model, split.validation, split, length)
    assert pred.shape == (len(split.validation), 2)
    assert e.beats_every_baseline, e.unbeaten
    assert e.laps == 6 and e.comparison(REFERENCE, "lap_time_s").laps == 3  # lap 2s have a reference
    time_pace, time_ref = e.comparison(PACE, "lap_time_s"), e.comparison(REFERENCE, "lap_time_s")
    assert time_pace.model.mae < 0.1 * time_pace.other.mae  # s, on ~315 s laps
    assert time_ref.model.mae < 0.8 * time_ref.other.mae
    energy_ref = e.comparison(REFERENCE, "energy_net_kwh")
    assert energy_ref.model.mae < energy_ref.other.mae
    assert e.model["lap_time_s"].mae < 1.0 and e.model["energy_net_kwh"].mae < 0.2  # s, kWh
    # the model knows more as the lap goes on
    first, _, last = e.model["lap_time_s"].thirds
    assert first is not None and last is not None and last < first
    # a coarse median lap (2 km bins) and one boosting step: well ahead of pace extrapolation, behind the
    # reference lap (the platform tests' "does not beat the reference lap, does not become champion")
    weak, _ = pipeline.fit(split, Hyperparameters(max_iter=1, profile_step_m=2000))
    w, _ = evaluate(weak, split.validation, split, length)
    assert w.comparison(PACE, "lap_time_s").beaten and w.comparison(PACE, "energy_net_kwh").beaten
    assert {(c.baseline, c.target) for c in w.unbeaten} == {(REFERENCE, "lap_time_s"), (REFERENCE, "energy_net_kwh")}
    print(f"model: {e.to_dict()}")
    print(f"weak: {w.to_dict()}")


def test_model_ignores_channels_no_lap_carried(frame: pd.DataFrame) -> None:
    x = ds.features_of(frame).copy()
    x["steering_torque_mean"] = np.nan
    model = LapOutcomeModel(lap_length_m=lap_length(frame), max_iter=5).fit(x, ds.targets_of(frame))
    assert "steering_torque_mean" not in model.used_features_
    assert np.isfinite(model.predict(x)).all()


# ----------------------------------------------------------------------------------------- live state
def live_messages(fleet: Processed, session: int) -> tuple[list[WindowMessage], list[LapMessage]]:
    ws = [
        WindowMessage.from_json(window_message(w).to_json())
        for w in fleet.windows
        if w.session_id == session and w.window_ms == 100 and (w.lap == 1 or (w.lap == 2 and w.lap_time < 0.5))
    ]
    ls = [LapMessage.from_json(lap_message(lap).to_json()) for lap in fleet.laps if lap.session_id == session]
    return ws, ls


def test_live_state_predicts_from_the_same_features_and_scores_completed_laps(fleet: Processed) -> None:
    windows, laps = live_messages(fleet, 9001)
    lap1 = [w for w in windows if w.lap == 1]
    next_lap = next(w for w in windows if w.lap == 2)
    summary = next(lap for lap in laps if lap.lap == 1)
    actual = (summary.lap_time, summary.energy_net_kwh or 0.0)
    state = LiveState()

    def feed(ws: list[WindowMessage]) -> np.ndarray[Any, Any]:
        feats = np.empty(0)
        for w in ws:
            ctx, feats = state.observe(w, 0.0) or pytest.fail("window refused")
            # a perfect predictor and a baseline 5 s / 1 kWh off, to check the error arithmetic
            state.record(ctx, actual, (actual[0] + 5, actual[1] + 1), "m__ring", "7")
        return feats

    feed(lap1[:-10])
    # the summary overtakes the lap's last windows (it travels on its own topic): nothing is scored yet
    state.lap_summary(summary, now=0.0)
    assert state.finished(now=1.0) == []
    feats = feed(lap1[-10:])
    np.testing.assert_allclose(feats, lap_features([WindowObs.from_message(w) for w in lap1])[-1], equal_nan=True)
    state.observe(next_lap, 0.0)  # the next lap has begun: lap 1's windows are all in
    (err,) = state.finished(now=2.0)
    assert (
        (err.model_name, err.model_version) == ("m__ring", "7")
        and err.windows == len(lap1)
        and (err.session_id, err.lap) == (9001, 1)
    )
    assert err.mae_lap_time == pytest.approx(0.0) and err.baseline_mae_lap_time == pytest.approx(5.0)
    assert err.baseline_mae_energy_kwh == pytest.approx(1.0)
    assert (err.error_lap_time_at_25, err.error_lap_time_at_50, err.error_lap_time_at_75) == (0.0, 0.0, 0.0)
    assert err.month == "2026-09"
    assert state.observe(lap1[-1], 0.0) is None  # a late window does not reopen a closed lap
    assert state.finished(now=3.0) == []  # scored once


def test_live_state_keeps_provisional_laps_open_and_scores_the_last_after_a_grace(fleet: Processed) -> None:
    windows, laps = live_messages(fleet, 9001)
    lap1 = [w for w in windows if w.lap == 1]
    summary = next(lap for lap in laps if lap.lap == 1)
    state = LiveState()
    for w in lap1:
        ctx, _ = state.observe(w, 0.0) or pytest.fail("window refused")
        state.record(ctx, (summary.lap_time, 34.0), (summary.lap_time, 34.0), "m__ring", "1")
    state.lap_summary(replace(summary, complete=False), now=0.0)  # session idle: provisional
    assert state.finished(now=100.0) == [] and state.open_laps == 1
    state.lap_summary(summary, now=10.0)  # no later lap will come: scored once the grace has passed
    assert state.finished(now=20.0) == []
    assert [e.lap for e in state.finished(now=41.0)] == [1]


def test_live_state_rebuilds_a_lap_joined_mid_way(fleet: Processed) -> None:
    windows, _ = live_messages(fleet, 9002)
    lap1 = [w for w in windows if w.lap == 1]
    half = len(lap1) // 2
    state = LiveState()
    assert not state.needs_backfill(lap1[0])
    assert state.needs_backfill(lap1[half])
    state.seed(9002, 1, 2, [WindowObs.from_message(w) for w in lap1[:half]])
    assert not state.needs_backfill(lap1[half])
    _, feats = state.observe(lap1[half], 0.0) or pytest.fail("window refused")
    full = lap_features([WindowObs.from_message(w) for w in lap1[: half + 1]])[-1]
    np.testing.assert_allclose(feats, full, equal_nan=True)
    assert state.forget_idle(1000.0, 600.0) == 1 and state.open_laps == 0


# ----------------------------------------------------------------------------------------- quality
def test_quality_thresholds() -> None:
    good = SessionQuality(1, 10_000, 10, 0, 5, 3, 0, "")
    lossy = SessionQuality(2, 9_000, 1_000, 0, 0, 3, 0, "")
    late = SessionQuality(3, 10_000, 0, 0, 500, 3, 0, "")
    broken = SessionQuality(4, 10_000, 0, 0, 0, 5, 2, "")
    tiny = SessionQuality(5, 10, 10, 0, 10, 1, 0, "")
    found = violations([good, lossy, late, broken, tiny], Thresholds())
    assert [(v.session_id, v.check) for v in found] == [
        (2, "frame loss ratio"),
        (3, "late frame ratio"),
        (4, "incomplete laps"),
    ]
    assert lossy.loss_ratio == pytest.approx(0.1)
    rep = report([good, lossy], Thresholds())
    assert rep["checked_sessions"] == 2 and rep["worst"]["loss_ratio"] == pytest.approx(0.1)
    assert "session 2: frame loss ratio 0.1 exceeds 0.01" in failure_message(rep)
    laps = [
        {"lap": 1, "complete": False},
        {"lap": 2, "complete": True},
        {"lap": 3, "complete": False},
        {"lap": 4, "complete": True},
        {"lap": 5, "complete": False},
    ]
    assert incomplete_inner_laps(laps) == 1  # lap 3 only: the first and the last may be partial
