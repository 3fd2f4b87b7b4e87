"""The ML package on its own (no services): features, baseline, model, evaluation, promotion, live state.

Data: simulated cars run through the real session processor (``p424.processing``) in memory, so the
windows and laps here are exactly what Flink stores and publishes, without Kafka or Cassandra.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder
from p424.kafka.messages import LapMessage, WindowMessage, lap_message, window_message
from p424.ml import dataset as ds
from p424.ml.baseline import extrapolate
from p424.ml.evaluate import Scores, TargetScores, score
from p424.ml.features import SPEC, FeatureSpec, LapSoFar, WindowObs, lap_features
from p424.ml.live.state import LiveState
from p424.ml.model import LapOutcomeModel
from p424.ml.pipeline import evaluate, lap_length
from p424.ml.promotion import CHALLENGER, CHAMPION, decide
from p424.ml.quality import SessionQuality, Thresholds, failure_message, incomplete_inner_laps, report, violations
from p424.ml.settings import Hyperparameters, TrainingSettings
from p424.processing.outputs import LapRow, WindowRow
from p424.processing.session import ProcessingSettings, SessionProcessor
from p424.sim import CarSimulator, driver_pace
from p424.storage import window_stats, writes
from tests.catalogs import channel, grown

T0_MS = 1_790_000_000_000
RATE_HZ = 5.0


@dataclass
class Processed:
    windows: list[WindowRow]
    laps: list[LapRow]

    def rows(self, window_ms: int) -> dict[tuple[int, int], list[dict[str, Any]]]:
        """Window rows as Cassandra returns them (column -> value), per (session, lap), in time order."""
        cols = writes.Statements("ks").window_columns
        out: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for w in self.windows:
            if w.window_ms == window_ms:
                row = window_stats.expand(dict(zip(cols, writes.window_params(w), strict=True)), SPEC.window_columns())
                out.setdefault((w.session_id, w.lap), []).append(row)
        return out

    def lap_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "session_id": lap.session_id,
                "lap": lap.lap,
                "car_id": lap.car_id,
                "lap_time": lap.lap_time,
                "distance": lap.distance,
                "complete": lap.complete,
                "invalidated": lap.invalidated,
                "energy_net_kwh": lap.energy_net_kwh,
            }
            for lap in self.laps
        ]


def process(cars: int, laps: int, seed: int = 3) -> Processed:
    out = Processed([], [])
    for car in range(1, cars + 1):
        sid = 9000 + car
        sim = CarSimulator(car, sid, seed=seed, pace=driver_pace(seed, car), rate_hz=RATE_HZ, laps=laps)
        proc = SessionProcessor(sid, car, ProcessingSettings((100, 1000)))
        samples = sim.samples()
        first = next(samples)
        # Channels the simulator does not model (NaN) are sent absent, as a replay sends a lap file's missing columns.
        enc = FrameEncoder(present=~np.isnan(first[1]))
        for h, v in itertools.chain([first], samples):
            o = proc.on_frame(enc.encode(h, v), T0_MS + round(h.sim_time * 1000))
            out.windows += o.windows
            out.laps += o.laps
        o = proc.flush()
        out.windows += o.windows
        out.laps += o.laps
    return out


@pytest.fixture(scope="module")
def fleet() -> Processed:
    """Five cars, three laps each (two complete per car: a session's last lap never closes)."""
    return process(cars=5, laps=3)


@pytest.fixture(scope="module")
def frame(fleet: Processed) -> pd.DataFrame:
    sel = ds.select_laps(fleet.lap_rows())
    return ds.assemble(sel.laps, fleet.rows(1000))


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


# ----------------------------------------------------------------------------------------- baseline
def test_baseline_extrapolates_pace_and_energy_rate() -> None:
    t, e = extrapolate(
        np.array([50.0, 300.0, 320.0]), np.array([5000.0, 20000.0, 21000.0]), np.array([8.0, 33.0, 35.0]), 20000.0
    )
    assert t.tolist() == [200.0, 300.0, 320.0]  # past the reference length: what happened
    assert e.tolist() == [32.0, 33.0, 35.0]
    t0, _ = extrapolate(0.1, 0.0, 0.0, 20000.0)  # at the line: clamped, finite
    assert np.isfinite(t0)
    with pytest.raises(ValueError, match="lap length"):
        extrapolate(1.0, 1.0, 1.0, 0.0)


# ----------------------------------------------------------------------------------------- dataset
def test_select_laps_keeps_complete_valid_laps_on_the_main_track() -> None:
    base: dict[str, Any] = {
        "car_id": 1,
        "lap_time": 315.0,
        "distance": 20700.0,
        "complete": True,
        "invalidated": False,
        "energy_net_kwh": 34.0,
    }
    rows = [
        {**base, "session_id": 1, "lap": 1},
        {**base, "session_id": 1, "lap": 2},
        {**base, "session_id": 1, "lap": 3, "complete": False},
        {**base, "session_id": 2, "lap": 1, "invalidated": True},
        {**base, "session_id": 2, "lap": 2, "energy_net_kwh": None},
        {**base, "session_id": 2, "lap": 3, "distance": 29000.0},  # a missed line: two laps in one
        {**base, "session_id": 3, "lap": 1, "distance": 20650.0},
    ]
    sel = ds.select_laps(rows)
    assert [(lap.session_id, lap.lap) for lap in sel.laps] == [(1, 1), (1, 2), (3, 1)]
    assert sel.rejected == {"incomplete": 1, "invalidated": 1, "no energy": 1, "other track length": 1}


def test_holdout_is_stable_by_session_and_never_empty() -> None:
    sessions = list(range(1000, 1040))
    train, val = ds.holdout(sessions, 0.25)
    assert set(train) | set(val) == set(sessions) and not set(train) & set(val)
    assert 4 <= len(val) <= 18
    # a session keeps its fold when other sessions come and go
    _, val2 = ds.holdout([*sessions[:20], 5000, 5001], 0.25)
    assert set(val2) & set(sessions) == set(val) & set(sessions[:20])
    for few in ([7, 8], [7, 8, 9]):
        t, v = ds.holdout(few, 0.25)
        assert t and v
    with pytest.raises(ValueError, match="two sessions"):
        ds.holdout([7], 0.25)


def test_assembled_rows_carry_identity_and_targets(fleet: Processed, frame: pd.DataFrame) -> None:
    complete = [lap for lap in fleet.laps if lap.complete]
    assert frame.groupby(["session_id", "lap"]).ngroups == len(complete) == 10
    one = frame[(frame.session_id == 9003) & (frame.lap == 2)]
    lap = next(lap for lap in complete if (lap.session_id, lap.lap) == (9003, 2))
    assert (one["y_lap_time_s"] == lap.lap_time).all() and (one["y_energy_net_kwh"] == lap.energy_net_kwh).all()
    assert one["window"].tolist() == list(range(len(one)))
    assert one["elapsed_s"].is_monotonic_increasing


# ----------------------------------------------------------------------------------------- model
def test_model_beats_the_baseline_on_held_out_sessions(frame: pd.DataFrame) -> None:
    val = frame.session_id.isin([9004, 9005])
    train, held = frame[~val], frame[val]
    length = lap_length(train)
    model = LapOutcomeModel(lap_length_m=length, max_iter=60).fit(ds.features_of(train), ds.targets_of(train))
    scores, pred = evaluate(model, held, length)
    assert pred.shape == (len(held), 2)
    assert scores.beats_baseline
    assert scores.lap_time.mae < 0.2 * scores.lap_time.baseline_mae
    assert scores.energy.mae < 0.2 * scores.energy.baseline_mae
    assert scores.lap_time.mae < 2.0 and scores.energy.mae < 0.3  # s, kWh on ~315 s, ~34 kWh laps
    # the model knows more as the lap goes on
    bands = scores.lap_time.mae_by_band
    assert bands["p75_100"] < bands["p05_025"]
    # a coarse reference lap (2 km bins) and one boosting step: ahead of the baseline, well behind the model;
    # the platform test's "worse model does not take champion" relies on it
    weak = LapOutcomeModel(lap_length_m=length, max_iter=1, profile_step_m=2000).fit(
        ds.features_of(train), ds.targets_of(train)
    )
    weak_scores, _ = evaluate(weak, held, length)
    assert weak_scores.beats_baseline
    assert weak_scores.relative_error > 5 * scores.relative_error


def test_model_ignores_channels_no_lap_carried(frame: pd.DataFrame) -> None:
    x = ds.features_of(frame).copy()
    x["steering_torque_mean"] = np.nan
    model = LapOutcomeModel(lap_length_m=lap_length(frame), max_iter=5).fit(x, ds.targets_of(frame))
    assert "steering_torque_mean" not in model.used_features_
    assert np.isfinite(model.predict(x)).all()


# ----------------------------------------------------------------------------------------- evaluation
def test_score_bands_and_r2() -> None:
    y = np.array([[300.0, 30.0], [310.0, 31.0], [320.0, 32.0], [330.0, 33.0]])
    pred = y + np.array([[1.0, 0.1], [-1.0, -0.1], [1.0, 0.1], [-1.0, -0.1]])
    base = y + 10.0
    s = score(y, pred, base, np.array([0.01, 0.3, 0.6, 0.9]), laps=1)
    assert s.lap_time.mae == 1.0 and s.lap_time.baseline_mae == 10.0
    assert s.energy.mae == pytest.approx(0.1)
    assert s.lap_time.mae_by_band == {"p00_005": 1.0, "p25_050": 1.0, "p50_075": 1.0, "p75_100": 1.0}
    assert s.lap_time.r2 == pytest.approx(1 - 3 / 200)
    assert s.beats_baseline and s.relative_error == pytest.approx(0.5 * (1.0 / 10.0 + 0.1 / 10.0))
    json.dumps(s.as_dict())
    with pytest.raises(ValueError, match="beyond"):
        score(y, pred, base, np.zeros(4), laps=1)


# ----------------------------------------------------------------------------------------- promotion
def scores(mae_t: float, mae_e: float, base_t: float = 10.0, base_e: float = 1.0, windows: int = 100) -> Scores:
    def t(mae: float, base: float) -> TargetScores:
        return TargetScores(mae, 0.9, base, mae, base, {}, {})

    return Scores(t(mae_t, base_t), t(mae_e, base_e), windows, 4)


def test_promotion_requires_beating_the_baseline() -> None:
    d = decide(scores(11.0, 0.1), None)
    assert d.alias == CHALLENGER and "baseline" in d.reason
    d = decide(scores(1.0, 1.5), scores(5.0, 0.5), "3")  # worse than baseline on energy: never champion
    assert d.alias == CHALLENGER and not d.promoted


def test_first_model_that_beats_the_baseline_is_champion() -> None:
    d = decide(scores(1.0, 0.1), None)
    assert d.alias == CHAMPION and d.promoted and "no champion yet" in d.reason
    d = decide(scores(1.0, 0.1), None, note="champion v2 uses other features")
    assert d.alias == CHAMPION and "other features" in d.reason


def test_champion_moves_only_to_a_better_model() -> None:
    champion = scores(1.0, 0.1)
    assert decide(scores(0.5, 0.05), champion, "4").alias == CHAMPION
    worse = decide(scores(2.0, 0.2), champion, "4")
    assert worse.alias == CHALLENGER and "does not beat champion v4" in worse.reason
    assert decide(scores(1.0, 0.1), champion, "4").alias == CHALLENGER  # a tie keeps the champion
    # better on one target, worse on the other: the relative error decides
    assert decide(scores(0.5, 0.12), champion, "4").alias == CHAMPION
    with pytest.raises(ValueError, match="same validation windows"):
        decide(scores(0.5, 0.05), scores(1.0, 0.1, windows=99), "4")


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
            state.record(ctx, actual, (actual[0] + 5, actual[1] + 1), "7")
        return feats

    feed(lap1[:-10])
    # the summary overtakes the lap's last windows (it travels on its own topic): nothing is scored yet
    state.lap_summary(summary, now=0.0)
    assert state.finished("m", now=1.0) == []
    feats = feed(lap1[-10:])
    np.testing.assert_allclose(feats, lap_features([WindowObs.from_message(w) for w in lap1])[-1], equal_nan=True)
    state.observe(next_lap, 0.0)  # the next lap has begun: lap 1's windows are all in
    (err,) = state.finished("m", now=2.0)
    assert err.model_version == "7" and err.windows == len(lap1) and (err.session_id, err.lap) == (9001, 1)
    assert err.mae_lap_time == pytest.approx(0.0) and err.baseline_mae_lap_time == pytest.approx(5.0)
    assert err.baseline_mae_energy_kwh == pytest.approx(1.0)
    assert (err.error_lap_time_at_25, err.error_lap_time_at_50, err.error_lap_time_at_75) == (0.0, 0.0, 0.0)
    assert err.month == "2026-09"
    assert state.observe(lap1[-1], 0.0) is None  # a late window does not reopen a closed lap
    assert state.finished("m", now=3.0) == []  # scored once


def test_live_state_keeps_provisional_laps_open_and_scores_the_last_after_a_grace(fleet: Processed) -> None:
    windows, laps = live_messages(fleet, 9001)
    lap1 = [w for w in windows if w.lap == 1]
    summary = next(lap for lap in laps if lap.lap == 1)
    state = LiveState()
    for w in lap1:
        ctx, _ = state.observe(w, 0.0) or pytest.fail("window refused")
        state.record(ctx, (summary.lap_time, 34.0), (summary.lap_time, 34.0), "1")
    state.lap_summary(replace(summary, complete=False), now=0.0)  # session idle: provisional
    assert state.finished("m", now=100.0) == [] and state.open_laps == 1
    state.lap_summary(summary, now=10.0)  # no later lap will come: scored once the grace has passed
    assert state.finished("m", now=20.0) == []
    assert [e.lap for e in state.finished("m", now=41.0)] == [1]


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


# ----------------------------------------------------------------------------------------- settings
def test_settings_round_trip_through_json() -> None:
    s = TrainingSettings(
        "h", 9042, "ks", "http://m", "model", session_ids=(5, 6), hyperparameters=Hyperparameters(max_iter=3)
    )
    back = TrainingSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s
    with pytest.raises(ValueError, match="unknown training settings"):
        TrainingSettings.from_dict({**s.to_dict(), "typo": 1})
    with pytest.raises(ValueError, match="min_laps"):
        replace(s, min_laps=1)
