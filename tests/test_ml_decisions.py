"""The ML decisions as pure functions, on crafted inputs (no services, no simulator): which laps, which folds,
the baselines' arithmetic and their time order, scores by third of the lap, who becomes champion, the model
card, a session's track and its model's name, the records the steps exchange, and the reader's part walk.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from p424.config import Config
from p424.ml import dataset as ds
from p424.ml import tracks
from p424.ml.baseline import (
    PACE,
    REFERENCE,
    LapTiming,
    ReferenceLap,
    extrapolate,
    from_reference,
    reference_choices,
    reference_predictions,
)
from p424.ml.card import CardData, ModelCard, build, weaknesses
from p424.ml.evaluate import EVAL_FROM_PROGRESS, metrics, score, third_of
from p424.ml.live.models import RECHECK_S, SessionTracks, no_champion
from p424.ml.promotion import CHALLENGER, CHAMPION, decide
from p424.ml.settings import Hyperparameters, TrainingSettings
from p424.ml.source import StoredLap
from p424.ml.steps import (
    TARGETS,
    Comparison,
    Errors,
    Evaluation,
    Extracted,
    Lineage,
    LineageLap,
    SkippedTrack,
    TrackDataset,
)
from p424.storage.reader import LapKey, TelemetryStore, parts_spanned
from p424.storage.schema import WINDOWS_PER_PART


# ------------------------------------------------------------------------------------------- laps
def stored(session_id: int, lap: int, **kw: Any) -> StoredLap:
    base: dict[str, Any] = {
        "car_id": 1,
        "start_ms": 1_000_000 * lap,
        "lap_time": 315.0,
        "distance": 20_700.0,
        "complete": True,
        "invalidated": False,
        "energy_net_kwh": 34.0,
    }
    return StoredLap(session_id=session_id, lap=lap, **{**base, **kw})


def test_select_laps_keeps_complete_valid_laps_per_track() -> None:
    laps = [
        stored(1, 1),
        stored(1, 2),
        stored(1, 3, complete=False),
        stored(2, 1, invalidated=True),
        stored(2, 2, energy_net_kwh=None),
        stored(2, 3, distance=29_000.0),  # a missed line: two laps in one
        stored(3, 1, distance=20_650.0),
        stored(4, 1, distance=7_000.0, lap_time=90.0),  # another track: its own median, not "other length"
        stored(4, 2, distance=7_010.0, lap_time=91.0),
        stored(5, 1),  # lossy session
    ]
    where = {1: "Ring", 2: "Ring", 3: "Ring", 4: "Short", 5: "Ring"}
    sel = ds.select_laps(laps, where, exclude=[5])
    assert [(lap.session_id, lap.lap, lap.track) for lap in sel.laps] == [
        (1, 1, "Ring"),
        (1, 2, "Ring"),
        (3, 1, "Ring"),
        (4, 1, "Short"),
        (4, 2, "Short"),
    ]
    assert sel.rejected == {
        "Ring": {"incomplete": 1, "invalidated": 1, "no energy": 1, "other track length": 1, "lossy session": 1}
    }
    assert sel.rejected_of("Short") == {} and sel.rejected_total["incomplete"] == 1
    assert list(ds.by_track(sel.laps)) == ["Ring", "Short"]


def test_stored_laps_read_the_driver_row() -> None:
    from datetime import datetime

    row = {
        "session_id": 7,
        "lap": 2,
        "car_id": None,
        "start_ts": datetime(2026, 9, 1, 12, 0, 0),  # the driver's naive UTC timestamp
        "lap_time": 313.2,
        "distance": 20_680.0,
        "complete": True,
        "invalidated": None,
        "energy_net_kwh": float("nan"),
    }
    lap = StoredLap.from_row(row)
    assert lap.start_ms == 1_788_264_000_000 and lap.car_id == 0 and not lap.invalidated
    assert lap.energy_net_kwh is None  # NaN is no energy


def test_folds_hold_out_at_least_three_whole_sessions() -> None:
    sessions = list(range(1000, 1040))
    folds = ds.plan_folds(sessions, 0.25)
    assert set(folds.train) | set(folds.validation) == set(sessions)
    assert not set(folds.train) & set(folds.validation)
    assert 4 <= len(folds.validation) <= 18
    # a session keeps its fold when other sessions come and go (once the hash alone picks three)
    again = ds.plan_folds([*sessions[:20], 5000, 5001], 0.25)
    assert set(again.validation) & set(sessions) == set(folds.validation) & set(sessions[:20])
    few = ds.plan_folds([7, 8, 9, 10], 0.25)
    assert len(few.validation) == 3 and len(few.train) == 1
    assert few.fold_of(few.train[0]) == "train" and few.fold_of(few.validation[0]) == "validation"
    five = ds.plan_folds([7, 8, 9, 10, 11], 0.01)  # the hash picks none: the three lowest-hash sessions
    assert five.validation == tuple(sorted(sorted([7, 8, 9, 10, 11], key=ds.unit_hash)[:3]))
    with pytest.raises(ds.NotEnoughDataError, match=r"laps from 3 session\(s\).*4 sessions"):
        ds.plan_folds([7, 8, 9], 0.25)


def test_a_track_needs_enough_laps_and_sessions() -> None:
    def labels(sessions: int, per_session: int) -> list[ds.LapLabel]:
        return [
            ds.LapLabel(
                session_id=s,
                lap=lap,
                car_id=1,
                track="Ring",
                start_ms=0,
                lap_time=315.0,
                energy_net_kwh=34.0,
                distance=20_700.0,
            )
            for s in range(1, sessions + 1)
            for lap in range(1, per_session + 1)
        ]

    with pytest.raises(ds.NotEnoughDataError, match="5 complete, valid laps; training needs MIN_TRAINING_LAPS=6"):
        ds.plan_track(labels(5, 1), 6, 0.25)
    with pytest.raises(ds.NotEnoughDataError, match="3 session"):
        ds.plan_track(labels(3, 4), 6, 0.25)
    assert len(ds.plan_track(labels(4, 2), 6, 0.25).validation) == 3


# ------------------------------------------------------------------------------------------- baselines
def test_pace_baseline_extrapolates_pace_and_energy_rate() -> None:
    t, e = extrapolate(
        np.array([50.0, 300.0, 320.0]), np.array([5000.0, 20000.0, 21000.0]), np.array([8.0, 33.0, 35.0]), 20000.0
    )
    assert t.tolist() == [200.0, 300.0, 320.0]  # past the reference length: what happened
    assert e.tolist() == [32.0, 33.0, 35.0]
    t0, _ = extrapolate(0.1, 0.0, 0.0, 20000.0)  # at the line: clamped, finite
    assert np.isfinite(t0)
    with pytest.raises(ValueError, match="lap length"):
        extrapolate(1.0, 1.0, 1.0, 0.0)


def crafted_reference() -> ReferenceLap:
    """A 1,000 m lap of 100 s and 10 kWh: the first half slow (60 s, 7 kWh), the second fast (40 s, 3 kWh)."""
    return ReferenceLap.from_profile(
        distance=np.array([250.0, 500.0, 750.0]),
        elapsed=np.array([30.0, 60.0, 80.0]),
        energy=np.array([3.5, 7.0, 8.5]),
        lap_time=100.0,
        energy_kwh=10.0,
        length_m=1000.0,
    )


def test_reference_lap_baseline_is_time_so_far_plus_the_reference_to_go() -> None:
    ref = crafted_reference()
    # half way, 2 s down on the reference and 0.5 kWh over: still 40 s and 3 kWh to go
    t, e = from_reference(np.array([62.0]), np.array([500.0]), np.array([7.5]), ref)
    assert (t[0], e[0]) == (102.0, 10.5)
    # between points the reference is interpolated: at 625 m it had 30 s and 2.25 kWh to go
    t, e = from_reference(np.array([70.0]), np.array([625.0]), np.array([8.0]), ref)
    assert t[0] == pytest.approx(100.0) and e[0] == pytest.approx(10.25)
    # at the line the whole reference is to go; past its end nothing is
    t, e = from_reference(np.array([0.0, 101.0]), np.array([0.0, 1005.0]), np.array([0.0, 10.2]), ref)
    assert t.tolist() == [100.0, 101.0] and e.tolist() == [10.0, 10.2]
    # the pace baseline, on the same half lap, misses the fast second half
    t_pace, _ = extrapolate(62.0, 500.0, 7.5, 1000.0)
    assert t_pace == 124.0


def timing(session: int, lap: int, start_s: float, lap_time: float) -> LapTiming:
    return LapTiming(session_id=session, lap=lap, start_ms=round(start_s * 1000), lap_time=lap_time)


def test_reference_is_the_fastest_lap_that_ended_before_the_lap_started() -> None:
    laps = [
        timing(1, 1, 0.0, 100.0),  # ends at 100
        timing(1, 2, 100.0, 95.0),  # ends at 195
        timing(2, 1, 50.0, 90.0),  # ends at 140
        timing(2, 2, 140.0, 99.0),  # ends at 239
        timing(3, 1, 195.0, 80.0),  # starts when (1, 2) ends
    ]
    choices = reference_choices(laps)
    assert choices == {
        (1, 1): None,  # nothing had ended
        (2, 1): None,  # (1, 1) was still running
        (1, 2): (1, 1),  # ended exactly as it started: usable
        (2, 2): (2, 1),  # the fastest of (1, 1) and (2, 1); (1, 2) still running
        (3, 1): (2, 1),  # (1, 2) ended in time but was slower than (2, 1)
    }
    # never itself, never a lap that ended after it started
    ends = {(t.session_id, t.lap): t.end_ms for t in laps}
    starts = {(t.session_id, t.lap): t.start_ms for t in laps}
    for lap, ref in choices.items():
        assert ref != lap and (ref is None or ends[ref] <= starts[lap])


def lap_frame(session: int, lap: int, lap_time: float, energy: float, length: float = 1000.0) -> pd.DataFrame:
    """Feature rows of a lap driven at constant pace and power (window ends every 10 % of the lap)."""
    f = np.linspace(0.1, 1.0, 10)
    return pd.DataFrame(
        {
            "session_id": session,
            "lap": lap,
            "distance_m": f * length,
            "elapsed_s": f * lap_time,
            "energy_kwh": f * energy,
            ds.TARGET_COLUMNS[0]: lap_time,
            ds.TARGET_COLUMNS[1]: energy,
            ds.LAP_LENGTH_COLUMN: length,
        }
    )


def test_reference_predictions_use_each_laps_own_reference() -> None:
    laps = pd.concat([lap_frame(1, 1, 100.0, 10.0), lap_frame(1, 2, 90.0, 9.0), lap_frame(2, 1, 110.0, 11.0)])
    choices = {(1, 1): None, (1, 2): (1, 1), (2, 1): (1, 2)}
    pred = reference_predictions(laps, laps, choices)
    first = (laps["session_id"] == 1) & (laps["lap"] == 1)
    assert np.isnan(pred[first.to_numpy()]).all()  # no earlier lap: no reference baseline
    # lap (2, 1) at 50 %: 55 s so far plus the reference (1, 2)'s 45 s to go
    row = ((laps["session_id"] == 2) & (laps["distance_m"] == 500.0)).to_numpy()
    assert pred[row].tolist() == [[100.0, 10.0]]


# ------------------------------------------------------------------------------------------- evaluation
def test_scores_by_third_against_every_baseline_on_their_own_windows() -> None:
    # two laps, four windows each at 10, 40, 70, 95 % of the lap
    progress = np.array([0.1, 0.4, 0.7, 0.95] * 2)
    y = np.repeat([[300.0, 30.0], [310.0, 31.0]], 4, axis=0)
    pred = y + np.tile([[1.0, 0.1], [-1.0, -0.1]], (4, 1))
    pace = y + 10.0
    reference = y + 2.0
    reference[:4] = np.nan  # the first lap had no earlier lap
    ids = np.repeat([[1, 1], [1, 2]], 4, axis=0)
    e = score(y, pred, {PACE: pace, REFERENCE: reference}, progress, ids)
    assert (e.laps, e.windows) == (2, 8)
    assert e.model["lap_time_s"].mae == 1.0 and e.model["lap_time_s"].thirds == (1.0, 1.0, 1.0)
    against_pace = e.comparison(PACE, "lap_time_s")
    assert (against_pace.laps, against_pace.other.mae, against_pace.beaten) == (2, 10.0, True)
    against_ref = e.comparison(REFERENCE, "energy_net_kwh")
    assert against_ref.laps == 1 and against_ref.other.windows == 4 and against_ref.other.mae == pytest.approx(2.0)
    assert e.beats_every_baseline and not e.unbeaten
    assert e.relative_error == pytest.approx(0.5 * (1.0 / 10.0 + 0.1 / 10.0))
    assert e.r2["lap_time_s"] == pytest.approx(1 - 8 / 200)
    m = metrics(e)
    assert m["reference_mae_lap_time_s"] == 2.0 and m["model_on_reference_mae_lap_time_s"] == 1.0
    assert m["mae_lap_time_s_last_third"] == 1.0 and m["reference_laps"] == 1.0
    assert Evaluation.from_dict(json.loads(json.dumps(e.to_dict()))) == e
    # windows before EVAL_FROM_PROGRESS are not scored; a baseline that never predicts is not beaten
    early = np.full(8, EVAL_FROM_PROGRESS / 2)
    with pytest.raises(ValueError, match="beyond"):
        score(y, pred, {PACE: pace, REFERENCE: reference}, early, ids)
    none = score(y, pred, {PACE: pace, REFERENCE: np.full_like(y, np.nan)}, progress, ids)
    assert [c.baseline for c in none.unbeaten] == [REFERENCE, REFERENCE]
    with pytest.raises(ValueError, match="every baseline"):
        score(y, pred, {PACE: pace}, progress, ids)


def test_thirds_of_the_lap() -> None:
    assert third_of(np.array([0.05, 0.33, 1 / 3, 0.5, 2 / 3, 0.99, 1.02])).tolist() == [0, 0, 1, 1, 2, 2, 2]


# ------------------------------------------------------------------------------------------- promotion
def errs(mae: float, thirds: tuple[float | None, float | None, float | None] | None = None) -> Errors:
    return Errors(mae=mae, thirds=thirds or (mae, mae, mae), windows=100 if math.isfinite(mae) else 0)


def evaluation(
    model: tuple[float, float], pace: tuple[float, float], reference: tuple[float, float], windows: int = 100
) -> Evaluation:
    """Model and baseline MAEs for (lap time, energy); the model scored on the same windows as each baseline."""
    comparisons = []
    for k, target in enumerate(TARGETS):
        for name, base in ((PACE, pace), (REFERENCE, reference)):
            none = math.isnan(base[k])
            comparisons.append(
                Comparison(
                    baseline=name,
                    target=target,
                    laps=0 if none else 4,
                    model=Errors(mae=model[k], thirds=(model[k],) * 3, windows=0 if none else windows),
                    other=Errors(mae=base[k], thirds=(base[k],) * 3, windows=0 if none else windows),
                )
            )
    return Evaluation(
        laps=4,
        windows=windows,
        from_progress=EVAL_FROM_PROGRESS,
        model={t: errs(m) for t, m in zip(TARGETS, model, strict=True)},
        r2=dict.fromkeys(TARGETS, 0.9),
        comparisons=tuple(comparisons),
        relative_error=0.5 * (model[0] / pace[0] + model[1] / pace[1]),
    )


PACE_MAE = (13.0, 1.6)
REFERENCE_MAE = (0.7, 0.09)


def test_a_model_that_does_not_beat_the_reference_lap_is_not_champion() -> None:
    weak = evaluation((8.3, 0.2), PACE_MAE, REFERENCE_MAE)  # far ahead of pace, behind the reference lap
    d = decide(weak, None)
    assert d.alias == CHALLENGER and not d.promoted
    assert "does not beat every baseline" in d.reason
    assert "lap time MAE 8.300 s vs reference-lap baseline 0.700 s on 4 laps" in d.reason
    assert "pace" not in d.reason  # it beat that one
    # behind on energy only: still not
    assert decide(evaluation((0.3, 0.1), PACE_MAE, REFERENCE_MAE), None).alias == CHALLENGER
    # a baseline it could not be compared with is not beaten
    blind = decide(evaluation((0.3, 0.05), PACE_MAE, (math.nan, math.nan)), None)
    assert blind.alias == CHALLENGER and "no held-out window had a reference-lap baseline" in blind.reason


def test_first_model_that_beats_every_baseline_is_champion() -> None:
    good = evaluation((0.3, 0.05), PACE_MAE, REFERENCE_MAE)
    d = decide(good, None)
    assert d.alias == CHAMPION and d.promoted and "no champion yet" in d.reason
    assert "reference-lap baseline 0.700 s" in d.reason and "pace-extrapolation baseline 13.000 s" in d.reason
    d = decide(good, None, note="champion v2 uses other features")
    assert d.alias == CHAMPION and "other features" in d.reason


def test_champion_moves_only_to_a_better_model() -> None:
    champion = evaluation((0.3, 0.05), PACE_MAE, REFERENCE_MAE)
    assert decide(evaluation((0.2, 0.04), PACE_MAE, REFERENCE_MAE), champion, "4").alias == CHAMPION
    worse = decide(evaluation((0.5, 0.06), PACE_MAE, REFERENCE_MAE), champion, "4")
    assert worse.alias == CHALLENGER and "does not beat champion v4" in worse.reason
    assert decide(champion, champion, "4").alias == CHALLENGER  # a tie keeps the champion
    # better on one target, worse on the other: the relative error decides
    assert decide(evaluation((0.1, 0.06), PACE_MAE, REFERENCE_MAE), champion, "4").alias == CHAMPION
    with pytest.raises(ValueError, match="same validation windows"):
        decide(evaluation((0.2, 0.04), PACE_MAE, REFERENCE_MAE), evaluation((0.3, 0.05), PACE_MAE, REFERENCE_MAE, 99))


# ------------------------------------------------------------------------------------------- model card
def lineage(track: str = "Ring", cars: Sequence[int] = (1, 2)) -> Lineage:
    laps = []
    for i, s in enumerate((11, 12, 13, 14, 15)):
        for lap in (1, 2):
            laps.append(
                LineageLap(
                    session_id=s,
                    lap=lap,
                    car_id=cars[i % len(cars)],
                    start_ms=lap * 315_000,
                    lap_time=315.0,
                    energy_net_kwh=34.0,
                    distance=20_700.0,
                    fold="validation" if s in (11, 12, 13) else "train",
                    reference=None if lap == 1 else (11, 1),
                )
            )
    return Lineage(
        track=track,
        model_name=tracks.registered_name("m", track),
        source="cassandra keyspace telemetry",
        catalog_version="1.1.0",
        catalog_hash="d2263e72",
        session_catalogs={"11": "1.1.0", "12": "1.1.0", "13": "1.0.0", "14": "1.1.0", "15": "1.1.0"},
        feature_fingerprint="abc",
        features=("elapsed_s", "distance_m"),
        window_ms=1000,
        train_sessions=(14, 15),
        validation_sessions=(11, 12, 13),
        laps=tuple(laps),
        rejected={"incomplete": 5},
        sessions_scanned=5,
    )


def test_model_card_states_data_metrics_and_weaknesses() -> None:
    e = evaluation((0.3, 0.05), PACE_MAE, REFERENCE_MAE)
    # behind the reference lap in the last third of the lap for energy
    loses_late = tuple(
        Comparison(
            baseline=c.baseline,
            target=c.target,
            laps=c.laps,
            model=Errors(mae=c.model.mae, thirds=(0.08, 0.05, 0.04), windows=c.model.windows)
            if c.target == "energy_net_kwh"
            else c.model,
            other=Errors(mae=c.other.mae, thirds=(0.15, 0.1, 0.03), windows=c.other.windows)
            if (c.baseline, c.target) == (REFERENCE, "energy_net_kwh")
            else c.other,
        )
        for c in e.comparisons
    )
    e = Evaluation(**{**{f: getattr(e, f) for f in e.__dataclass_fields__}, "comparisons": loses_late})
    card = build(
        model_name="m__ring",
        trained_at="2026-09-01T12:00:00+00:00",
        lineage=lineage(),
        evaluation=e,
        train_windows=1200,
        validation_windows=1800,
    )
    assert card.data.validation_laps == 6 and card.data.train_laps == 4
    assert card.data.validation_laps_with_reference == 3
    assert card.data.catalog_versions == {"1.1.0": 4, "1.0.0": 1} and card.data.cars == (1, 2)
    assert "net energy, last third of the lap: 0.04 kWh vs the reference-lap baseline's 0.03" in card.weaknesses
    assert "validated on 3 sessions (6 laps): the figures are rough" in card.weaknesses
    assert any("several catalog versions" in w for w in card.weaknesses)
    md = card.markdown()
    assert "# Model card: m__ring" in md and "Track **Ring**" in md
    assert "| lap time (s) | model, every scored window | 4 | 0.3 | 0.3 | 0.3 | 0.3 |" in md
    assert "|  | reference-lap baseline | 4 | 0.7 | 0.7 | 0.7 | 0.7 |" in md
    assert "Laps left out: incomplete: 5." in md and "sessions (11, 12, 13)" in md
    tags = card.tags()
    assert tags["p424.card.track"] == "Ring"
    assert tags["p424.card.lap_time_s_mae"] == "model 0.3 s, pace 13, reference 0.7"
    assert tags["p424.card.data"].startswith("2/3 sessions, 4/6 laps (train/validation)")
    decided = card.with_decision(CHAMPION, "3", "beats every baseline")
    assert decided.markdown().endswith("## Registry\n- v3 -> champion: beats every baseline\n")
    assert ModelCard.from_dict(json.loads(json.dumps(decided.to_dict()))) == decided


def test_weaknesses_of_a_model_compared_with_nothing() -> None:
    e = evaluation((0.3, 0.05), PACE_MAE, (math.nan, math.nan))
    data = CardData.from_dict(
        {
            **build(
                model_name="m",
                trained_at="t",
                lineage=lineage(cars=(7,)),
                evaluation=e,
                train_windows=1,
                validation_windows=1,
            ).data.to_dict()
        }
    )
    found = weaknesses(e, data)
    assert (
        "lap time: not compared with the reference-lap baseline (no held-out lap had an earlier lap on its "
        "track)" in found
    )
    assert "every lap comes from car 7: other drivers and set-ups are unseen" in found


# ------------------------------------------------------------------------------------------- tracks
def test_a_sessions_track_and_its_registered_model() -> None:
    assert tracks.resolve(None, "Nordschleife") == "Nordschleife"
    assert tracks.resolve("unknown", "Nordschleife") == "Nordschleife"  # replay of a file without metadata
    assert tracks.resolve("  --  ", "Nordschleife") == "Nordschleife"
    assert tracks.resolve("  Spa  ", "Nordschleife") == "Spa"
    with pytest.raises(ValueError, match="DEFAULT_TRACK"):
        tracks.resolve("", " ")
    assert tracks.slug("Nordschleife (simulated)") == "nordschleife-simulated"
    assert tracks.slug("424 Nordschleife Scene") == "424-nordschleife-scene"
    assert tracks.registered_name("p424_lap_outcome", "Nordschleife (simulated)") == (
        "p424_lap_outcome__nordschleife-simulated"
    )
    assert tracks.track_slug_of("p424_lap_outcome__spa", "p424_lap_outcome") == "spa"
    assert tracks.track_slug_of("p424_lap_outcome", "p424_lap_outcome") is None
    assert tracks.track_slug_of("p424xlapxoutcome__spa", "p424_lap_outcome") is None
    with pytest.raises(ValueError, match="must not contain"):
        tracks.registered_name("a__b", "Spa")
    assert Config().default_track == "Nordschleife"
    assert TrainingSettings.from_config(Config(), model_name="m").default_track == "Nordschleife"


def test_the_predictor_resolves_a_sessions_track_and_looks_again_while_it_names_none() -> None:
    rows: dict[int, dict[str, Any] | None] = {1: {"track": "Spa"}, 2: {"track": None}, 3: None}
    calls: list[int] = []

    def lookup(session_id: int) -> dict[str, Any] | None:
        calls.append(session_id)
        if session_id == 4:
            raise TimeoutError("busy")
        return rows[session_id]

    st = SessionTracks(lookup, "Nordschleife")
    assert st.track_of(1, 0.0) == "Spa" and st.track_of(1, 10_000.0) == "Spa"
    assert calls == [1]  # a named track is read once
    assert st.track_of(2, 0.0) == "Nordschleife" and st.track_of(3, 0.0) == "Nordschleife"
    rows[2] = {"track": "Nordschleife (simulated)"}  # simulate describes the session after sending it
    assert st.track_of(2, RECHECK_S / 2) == "Nordschleife"
    assert st.track_of(2, RECHECK_S + 1) == "Nordschleife (simulated)"
    assert st.track_of(4, 0.0) == "Nordschleife"  # a failed read: the default, and another look later
    st.forget({1})
    assert st.track_of(2, RECHECK_S + 2) == "Nordschleife (simulated)" and calls.count(2) == 3
    msg = no_champion("Spa", "m__spa", registered=False)
    assert msg.startswith("no champion for track 'Spa': no model is registered for it (m__spa)")
    assert "get no predictions" in no_champion("Spa", "m__spa", registered=True)


# ------------------------------------------------------------------------------------------- records
def test_step_records_round_trip_through_json_and_name_what_is_wrong() -> None:
    extracted = Extracted(
        source="cassandra keyspace telemetry",
        sessions_scanned=6,
        tracks=(
            TrackDataset(
                track="Ring",
                model_name="m__ring",
                dataset="/tmp/x.parquet",
                lineage="/tmp/x.lineage.json",
                laps=10,
                windows=3000,
                train_sessions=2,
                validation_sessions=3,
                train_laps=4,
                validation_laps=6,
                validation_laps_with_reference=3,
            ),
        ),
        skipped=(SkippedTrack(track="Spa", reason="laps from 1 session(s)"),),
        rejected={"incomplete": 6},
        catalog_hash="d2263e72",
        seconds=1.5,
    )
    doc = json.loads(json.dumps(extracted.to_dict()))
    assert doc["tracks"][0]["laps"] == 10 and doc["skipped"] == [{"track": "Spa", "reason": "laps from 1 session(s)"}]
    assert Extracted.from_dict(doc) == extracted
    assert Lineage.from_dict(json.loads(json.dumps(lineage().to_dict()))) == lineage()
    doc["tracks"][0]["laps"] = "ten"
    with pytest.raises(ValueError, match=r"Extracted\.tracks\[0\]\.laps: expected int, got 'ten'"):
        Extracted.from_dict(doc)
    del doc["tracks"][0]["laps"]
    with pytest.raises(ValueError, match="missing field 'laps' of TrackDataset"):
        Extracted.from_dict(doc)
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['typo'\] for Extracted"):
        Extracted.from_dict({**extracted.to_dict(), "typo": 1})


def test_settings_round_trip_through_json() -> None:
    from dataclasses import replace

    s = TrainingSettings(
        "h",
        9042,
        "ks",
        "http://m",
        "model",
        session_ids=(5, 6),
        default_track="Spa",
        hyperparameters=Hyperparameters(max_iter=3),
    )
    back = TrainingSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s
    with pytest.raises(ValueError, match="unknown training settings"):
        TrainingSettings.from_dict({**s.to_dict(), "typo": 1})
    with pytest.raises(ValueError, match="min_laps"):
        replace(s, min_laps=1)
    with pytest.raises(ValueError, match="DEFAULT_TRACK"):
        replace(s, default_track=" ")


# ------------------------------------------------------------------------------------------- the reader
def test_parts_a_lap_spans() -> None:
    assert parts_spanned(None, 100) == 1 and parts_spanned(0.0, 100) == 1
    assert parts_spanned(313.0, 100) == 1  # 3,130 windows of 100 ms
    assert parts_spanned(313.0, 1000) == 1
    assert parts_spanned(WINDOWS_PER_PART * 0.1 - 0.3, 100) == 1
    assert parts_spanned(WINDOWS_PER_PART * 0.1, 100) == 2  # its last windows may be in part 1
    assert parts_spanned(3 * WINDOWS_PER_PART * 0.1, 100) == 4


class PartStore(TelemetryStore):
    """The reader's part walk over partitions held in a dict (no cluster): which parts it asks for."""

    def __init__(self, parts: dict[tuple[int, int, int], list[dict[str, Any]]]) -> None:
        super().__init__(Config(), session=object())  # type: ignore[arg-type]
        self.parts = parts
        self.asked: list[list[tuple[int, int, int]]] = []

    def _concurrent(self, cql: str, args: Sequence[tuple[Any, ...]]) -> list[list[dict[str, Any]]]:
        assert "channel_windows" in cql and "part = ?" in cql
        keys = [(s, lap, part) for s, _w, lap, part in args]
        self.asked.append(keys)
        return [[dict(r) for r in self.parts.get(k, [])] for k in keys]


def rows_of(*ts: int) -> list[dict[str, Any]]:
    return [{"ts": t, "lap_time": t / 10, "lap_distance": t, "frame_count": 1, "speed_mean": 1.0} for t in ts]


def test_the_reader_reads_every_part_of_each_lap_at_once() -> None:
    parts = {
        (1, 1, 0): rows_of(1, 2),
        (1, 1, 1): [],  # a long gap (windows without frames are not written)...
        (1, 1, 2): rows_of(9),  # ...and the lap goes on
        (2, 1, 0): rows_of(3),  # a lap of unknown length: walked part after part
        (2, 1, 1): rows_of(4),
        (3, 1, 0): rows_of(5),
    }
    store = PartStore(parts)
    got = store.lap_windows(
        [
            LapKey(session_id=1, lap=1, seconds=2.5 * WINDOWS_PER_PART * 0.1),  # spans parts 0-2
            LapKey(session_id=2, lap=1),
            LapKey(session_id=3, lap=1, seconds=313.0),
        ],
        100,
        ["speed_mean"],
    )
    assert [r["ts"] for r in got[(1, 1)]] == [1, 2, 9]
    assert [r["ts"] for r in got[(2, 1)]] == [3, 4]
    assert [r["ts"] for r in got[(3, 1)]] == [5]
    assert store.asked == [
        [(1, 1, 0), (1, 1, 1), (1, 1, 2), (2, 1, 0), (3, 1, 0)],  # one concurrent round for what is known
        [(2, 1, 1)],
        [(2, 1, 2)],  # empty: the walk ends
    ]
    assert store.windows(1, 1, 100, ["speed_mean"])[0]["speed_mean"] == 1.0


# ------------------------------------------------------------------------------------------- `train` output
def test_the_train_command_prints_each_tracks_errors_against_every_baseline_and_its_alias() -> None:
    from launcher.commands_ml import RunOutcome, outcome_lines
    from p424.ml.steps import Promotion, Registered, Trained, TrainedTrack

    dataset = TrackDataset(
        track="Ring",
        model_name="m__ring",
        dataset="x.parquet",
        lineage="x.lineage.json",
        laps=10,
        windows=3000,
        train_sessions=2,
        validation_sessions=3,
        train_laps=4,
        validation_laps=6,
        validation_laps_with_reference=3,
    )
    e = evaluation((0.3, 0.05), PACE_MAE, REFERENCE_MAE)
    out = RunOutcome(
        dag_id="p424_train_lap_model",
        run_id="manual__1",
        state="success",
        extracted=Extracted(
            source="cassandra keyspace telemetry",
            sessions_scanned=6,
            tracks=(dataset,),
            skipped=(SkippedTrack(track="Spa", reason="2 complete, valid laps; training needs MIN_TRAINING_LAPS=6"),),
            rejected={},
            catalog_hash="d2263e72",
            seconds=1.0,
        ),
        trained=Trained(
            tracks=(
                TrainedTrack(
                    track="Ring",
                    model_name="m__ring",
                    run_id="r1",
                    experiment_id="4",
                    model_uri="models:/m-1",
                    artifact_uri="s3://x",
                    evaluation=e,
                    lap_length_m=20_700.0,
                    fit_seconds=1.0,
                    seconds=2.0,
                ),
            ),
            seconds=2.0,
        ),
        registered=Registered(
            tracks=(
                Promotion(
                    track="Ring",
                    model_name="m__ring",
                    version="3",
                    alias=CHAMPION,
                    reason="beats every baseline",
                    previous_champion="2",
                    champion="3",
                    run_id="r1",
                    candidate_relative_error=0.02,
                    champion_relative_error=0.03,
                ),
            ),
            seconds=1.0,
        ),
        seconds=95.0,
    )
    lines = outcome_lines(out, Config())
    assert lines[:2] == ["run id:  manual__1", "state:   success (95 s)"]
    assert "track:   Ring (registered model m__ring)" in lines
    assert any(
        x.startswith("data:    10 laps (4 train / 6 validation, 2 / 3 sessions; 3 validation laps") for x in lines
    )
    assert "lap time: MAE (overall; first / middle / last third), s" in lines
    assert "  model                0.3 (0.3 / 0.3 / 0.3)" in lines
    assert "  reference baseline   0.7 (0.7 / 0.7 / 0.7)   (model on its 4 laps: 0.3 (0.3 / 0.3 / 0.3))" in lines
    assert "model:   m__ring v3 -> alias 'champion' (champion is v3)" in lines
    assert "not trained: track 'Spa': 2 complete, valid laps; training needs MIN_TRAINING_LAPS=6" in lines
    assert RunOutcome.from_dict(json.loads(json.dumps(out.to_dict()))) == out
