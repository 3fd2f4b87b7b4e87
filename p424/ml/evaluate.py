"""Scoring a model against every baseline on the same held-out windows (pure numpy).

Every window of a held-out lap is one prediction: what the pit wall would have seen at that point of
the lap. Windows from ``EVAL_FROM_PROGRESS`` of the lap on are scored: in the first few hundred
metres the pace baseline divides by almost nothing. Errors are reported overall and per third of the
lap distance (the first third starting at ``EVAL_FROM_PROGRESS``).

Each baseline is compared with the model on the windows where it makes a prediction: the pace
baseline everywhere, the reference-lap baseline on laps that had an earlier lap on their track
(``p424.ml.baseline``). A comparison without any window counts as not beaten.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from p424.ml.baseline import BASELINES, PACE
from p424.ml.steps import TARGETS, THIRDS, Comparison, Errors, Evaluation

F64 = npt.NDArray[np.float64]
EVAL_FROM_PROGRESS = 0.05
THIRD_EDGES = (1 / 3, 2 / 3)


def r2_score(y: F64, p: F64) -> float | None:
    ss_res = float(np.sum((y - p) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else None


def third_of(progress: F64) -> npt.NDArray[np.int64]:
    """0, 1 or 2: the third of the lap distance each progress value (distance / lap length) falls in."""
    return np.searchsorted(np.asarray(THIRD_EDGES), np.asarray(progress, dtype=np.float64), side="right")


def errors(abs_err: F64, thirds: npt.NDArray[np.int64]) -> Errors:
    """MAE overall and per third of ``abs_err`` (the scored windows only)."""
    by_third = tuple(float(abs_err[thirds == k].mean()) if (thirds == k).any() else None for k in range(len(THIRDS)))
    return Errors(
        mae=float(abs_err.mean()) if len(abs_err) else 0.0,  # no window: ``windows`` 0 says the 0 means nothing
        thirds=(by_third[0], by_third[1], by_third[2]),
        windows=len(abs_err),
    )


def score(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    baselines: Mapping[str, npt.ArrayLike],
    progress: npt.ArrayLike,
    lap_ids: npt.ArrayLike,
) -> Evaluation:
    """The model's predictions ``y_pred`` and each baseline's (all (n, 2), ``TARGETS`` order; NaN rows
    where a baseline makes no prediction) against ``y_true``; ``lap_ids`` names each window's lap."""
    y, p = (np.asarray(a, dtype=np.float64).reshape(-1, len(TARGETS)) for a in (y_true, y_pred))
    prog = np.asarray(progress, dtype=np.float64)
    ids = np.asarray(lap_ids)
    if set(baselines) != set(BASELINES):
        raise ValueError(f"scores need every baseline {BASELINES}, got {sorted(baselines)}")
    base = {k: np.asarray(v, dtype=np.float64).reshape(-1, len(TARGETS)) for k, v in baselines.items()}
    if not (len(y) == len(p) == len(prog) == len(ids)) or any(len(b) != len(y) for b in base.values()):
        raise ValueError("targets, predictions, baselines, progress and lap ids must have one row per window")
    scored = prog >= EVAL_FROM_PROGRESS
    if not scored.any():
        raise ValueError(f"no validation window beyond {EVAL_FROM_PROGRESS:.0%} of a lap to score")
    thirds = third_of(prog)
    model_err = np.abs(p - y)
    model: dict[str, Errors] = {}
    r2: dict[str, float | None] = {}
    comparisons = []
    for k, target in enumerate(TARGETS):
        model[target] = errors(model_err[scored, k], thirds[scored])
        r2[target] = r2_score(y[scored, k], p[scored, k])
        for name in BASELINES:
            b = base[name][:, k]
            where = scored & np.isfinite(b)
            comparisons.append(
                Comparison(
                    baseline=name,
                    target=target,
                    laps=len(np.unique(ids[where], axis=0)),
                    model=errors(model_err[where, k], thirds[where]),
                    other=errors(np.abs(b[where] - y[where, k]), thirds[where]),
                )
            )
    pace = [c for c in comparisons if c.baseline == PACE]
    ratios = [c.model.mae / c.other.mae if c.other.mae > 0 else float("inf") for c in pace]
    return Evaluation(
        laps=len(np.unique(ids[scored], axis=0)),
        windows=int(scored.sum()),
        from_progress=EVAL_FROM_PROGRESS,
        model=model,
        r2=r2,
        comparisons=tuple(comparisons),
        relative_error=float(np.mean(ratios)),
    )


def metrics(e: Evaluation) -> dict[str, float]:
    """Flat MLflow metric names: ``mae_lap_time_s``, ``mae_lap_time_s_last_third``,
    ``reference_mae_lap_time_s`` (the baseline), ``model_on_reference_mae_lap_time_s`` (the model on the
    windows the baseline predicts), ``reference_laps``, ``r2_lap_time_s``, ``relative_error``, ..."""
    out: dict[str, float] = {}

    def put(prefix: str, target: str, err: Errors) -> None:
        out[f"{prefix}mae_{target}"] = err.mae
        for name, v in zip(THIRDS, err.thirds, strict=True):
            if v is not None:
                out[f"{prefix}mae_{target}_{name}_third"] = v

    for target in TARGETS:
        put("", target, e.model[target])
        if e.r2[target] is not None:
            out[f"r2_{target}"] = float(e.r2[target] or 0.0)
    for c in e.comparisons:
        if c.other.windows:
            put(f"{c.baseline}_", c.target, c.other)
            put(f"model_on_{c.baseline}_", c.target, c.model)
        out[f"{c.baseline}_laps"] = float(c.laps)
    out["relative_error"] = e.relative_error
    out["validation_windows"] = float(e.windows)
    out["validation_laps"] = float(e.laps)
    return out
