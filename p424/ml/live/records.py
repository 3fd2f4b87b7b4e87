"""What the live predictor stores: a row per prediction and a row per scored lap.

Each field is a column of its table (``predictions``, ``prediction_errors``; see
``p424/storage/cql/0002_predictions.cql``), under its own name unless its metadata says otherwise;
``p424.storage.writes`` derives both INSERTs from these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p424.storage.columns import column


@dataclass(frozen=True, kw_only=True)
class PredictionRow:
    """One live window's predictions, as the champion model and the baseline made them then."""

    session_id: int
    lap: int
    ts_ms: int = field(metadata=column("ts"))  # session wall clock of the window start
    car_id: int
    window_start: float
    lap_distance: float
    lap_time_so_far: float
    energy_so_far_kwh: float
    predicted_lap_time: float
    predicted_energy_kwh: float
    baseline_lap_time: float
    baseline_energy_kwh: float
    model_name: str
    model_version: str
    latency_ms: float  # from the window reaching Kafka to this prediction


@dataclass(frozen=True, kw_only=True)
class LapError:
    """How wrong a completed lap's live predictions were: the drift record."""

    model_name: str
    month: str  # 'YYYY-MM' of completed_at: the partition
    completed_at_ms: int = field(metadata=column("completed_at"))
    session_id: int
    lap: int
    car_id: int
    model_version: str  # the version that made most of the lap's predictions
    windows: int
    actual_lap_time: float
    actual_energy_kwh: float
    mae_lap_time: float
    mae_energy_kwh: float
    baseline_mae_lap_time: float
    baseline_mae_energy_kwh: float
    # Signed error (predicted - actual) of the prediction at 25/50/75 % of the lap; None if none was made by then.
    error_lap_time_at_25: float | None
    error_lap_time_at_50: float | None
    error_lap_time_at_75: float | None
    error_energy_at_25: float | None
    error_energy_at_50: float | None
    error_energy_at_75: float | None
