"""What the training steps hand each other: frozen records that travel as JSON (Airflow XComs).

dataset (``Extracted``: a ``TrackDataset`` per track with enough data, a ``SkippedTrack`` with its
reason for the others) -> train (``Trained``: a ``TrainedTrack`` per track, with its ``Evaluation``
against every baseline) -> register (``Registered``: a ``Promotion`` per track). Each dataset's
``Lineage`` is written beside it and logged with the run.

Standard library only: the launcher and the tests read these without scikit-learn or MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass

from p424.ml.typed import JsonRecord

TARGETS = ("lap_time_s", "energy_net_kwh")  # the model's outputs, in column order
TARGET_TITLES = {TARGETS[0]: ("lap time", "s"), TARGETS[1]: ("net energy", "kWh")}
THIRDS = ("first", "middle", "last")  # thirds of the lap distance, for errors by distance into the lap
TRAIN, VALIDATION = "train", "validation"


# ---------------------------------------------------------------------------------------- dataset
@dataclass(frozen=True, kw_only=True)
class LineageLap(JsonRecord):
    session_id: int
    lap: int
    car_id: int
    start_ms: int | None
    lap_time: float
    energy_net_kwh: float
    distance: float
    fold: str  # TRAIN or VALIDATION
    reference: tuple[int, int] | None  # (session, lap) of its reference lap; None: no earlier lap on the track


@dataclass(frozen=True, kw_only=True)
class Lineage(JsonRecord):
    """Where a track's dataset came from: logged with the run (``lineage.json``) and the model card."""

    track: str
    model_name: str  # the registered model of the track
    source: str
    catalog_version: str  # the catalog the features were derived from
    catalog_hash: str
    session_catalogs: dict[str, str]  # session id -> catalog version its frames were written with
    feature_fingerprint: str
    features: tuple[str, ...]
    window_ms: int
    train_sessions: tuple[int, ...]
    validation_sessions: tuple[int, ...]
    laps: tuple[LineageLap, ...]
    rejected: dict[str, int]  # reason -> laps of this track left out
    sessions_scanned: int

    @property
    def references(self) -> dict[tuple[int, int], tuple[int, int] | None]:
        return {(lap.session_id, lap.lap): lap.reference for lap in self.laps}


@dataclass(frozen=True, kw_only=True)
class TrackDataset(JsonRecord):
    """One track's feature rows on disk and what they hold."""

    track: str
    model_name: str
    dataset: str  # parquet path
    lineage: str  # Lineage JSON path
    laps: int
    windows: int
    train_sessions: int
    validation_sessions: int
    train_laps: int
    validation_laps: int
    validation_laps_with_reference: int


@dataclass(frozen=True, kw_only=True)
class SkippedTrack(JsonRecord):
    track: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Extracted(JsonRecord):
    source: str
    sessions_scanned: int
    tracks: tuple[TrackDataset, ...]
    skipped: tuple[SkippedTrack, ...]
    rejected: dict[str, int]  # reason -> laps left out, every track
    catalog_hash: str
    seconds: float


# ---------------------------------------------------------------------------------------- evaluation
@dataclass(frozen=True, kw_only=True)
class Errors(JsonRecord):
    """Mean absolute error of one predictor for one target, overall and per third of the lap distance
    (None: no scored window in that third; with no window at all, ``mae`` is 0 and means nothing)."""

    mae: float
    thirds: tuple[float | None, float | None, float | None]
    windows: int


@dataclass(frozen=True, kw_only=True)
class Comparison(JsonRecord):
    """The model against one baseline for one target, both scored on the windows the baseline predicts."""

    baseline: str  # p424.ml.baseline.BASELINES
    target: str  # TARGETS
    laps: int
    model: Errors
    other: Errors  # the baseline's

    @property
    def beaten(self) -> bool:
        return self.model.windows > 0 and self.model.mae < self.other.mae


@dataclass(frozen=True, kw_only=True)
class Evaluation(JsonRecord):
    """A model scored on held-out laps: every window from ``from_progress`` of the lap on is one prediction."""

    laps: int
    windows: int
    from_progress: float
    model: dict[str, Errors]  # target -> errors on every scored window
    r2: dict[str, float | None]  # target -> R² (None: the outcome did not vary)
    comparisons: tuple[Comparison, ...]
    relative_error: float  # mean over the targets of model MAE / pace-baseline MAE: lower is better

    def comparison(self, baseline: str, target: str) -> Comparison:
        for c in self.comparisons:
            if (c.baseline, c.target) == (baseline, target):
                return c
        raise KeyError(f"no comparison with baseline {baseline!r} for {target!r}")

    @property
    def baselines(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.baseline for c in self.comparisons))

    @property
    def unbeaten(self) -> tuple[Comparison, ...]:
        """Comparisons the model does not win (or that had no window to decide on)."""
        return tuple(c for c in self.comparisons if not c.beaten)

    @property
    def beats_every_baseline(self) -> bool:
        return not self.unbeaten


# ---------------------------------------------------------------------------------------- train
@dataclass(frozen=True, kw_only=True)
class TrainedTrack(JsonRecord):
    track: str
    model_name: str
    run_id: str
    experiment_id: str
    model_uri: str
    artifact_uri: str
    evaluation: Evaluation
    lap_length_m: float
    fit_seconds: float
    seconds: float


@dataclass(frozen=True, kw_only=True)
class Trained(JsonRecord):
    tracks: tuple[TrainedTrack, ...]
    seconds: float


# ---------------------------------------------------------------------------------------- register
@dataclass(frozen=True, kw_only=True)
class Promotion(JsonRecord):
    """What became of a track's new model version."""

    track: str
    model_name: str
    version: str
    alias: str  # champion or challenger
    reason: str
    previous_champion: str | None
    champion: str | None  # the champion version after this step
    run_id: str
    candidate_relative_error: float
    champion_relative_error: float | None


@dataclass(frozen=True, kw_only=True)
class Registered(JsonRecord):
    tracks: tuple[Promotion, ...]
    seconds: float


@dataclass(frozen=True, kw_only=True)
class TrainingRun(JsonRecord):
    """All three steps run in one process (the example, the platform tests)."""

    extracted: Extracted
    trained: Trained
    registered: Registered
