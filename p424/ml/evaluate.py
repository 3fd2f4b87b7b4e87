"""Scoring predictions against the baseline on the same held-out windows (pure numpy).

Every window of a held-out lap is one prediction (what the pit wall would have seen at that point of
the lap). The headline metrics cover windows from ``EVAL_FROM_PROGRESS`` of the lap on: in the first
few hundred metres the extrapolation baseline divides by almost nothing and would make any model
look good. Errors over the whole lap and per band of lap progress are logged too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from p424.ml.model import TARGETS

F64 = npt.NDArray[np.float64]
EVAL_FROM_PROGRESS = 0.05
BANDS = ((0.0, 0.05), (0.05, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.01))


@dataclass(frozen=True)
class TargetScores:
    mae: float
    r2: float
    baseline_mae: float
    mae_all: float  # every window, including the start of the lap
    baseline_mae_all: float
    mae_by_band: dict[str, float]
    baseline_mae_by_band: dict[str, float]

    @property
    def ratio(self) -> float:
        """Model MAE over baseline MAE: below 1 beats the baseline."""
        return self.mae / self.baseline_mae if self.baseline_mae > 0 else float("inf")


@dataclass(frozen=True)
class Scores:
    lap_time: TargetScores
    energy: TargetScores
    windows: int
    laps: int

    @property
    def relative_error(self) -> float:
        """Mean of the two MAE ratios to the baseline: one dimensionless number, lower is better."""
        return 0.5 * (self.lap_time.ratio + self.energy.ratio)

    @property
    def beats_baseline(self) -> bool:
        return self.lap_time.ratio < 1.0 and self.energy.ratio < 1.0

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """Flat metric names for MLflow (``mae_lap_time_s``, ``baseline_mae_energy_kwh``, ...)."""
        out: dict[str, float] = {}
        for target, s in ((TARGETS[0], self.lap_time), (TARGETS[1], self.energy)):
            out[f"{prefix}mae_{target}"] = s.mae
            out[f"{prefix}r2_{target}"] = s.r2
            out[f"{prefix}baseline_mae_{target}"] = s.baseline_mae
            out[f"{prefix}mae_all_{target}"] = s.mae_all
            out[f"{prefix}baseline_mae_all_{target}"] = s.baseline_mae_all
            for band, v in s.mae_by_band.items():
                out[f"{prefix}mae_{target}_{band}"] = v
            for band, v in s.baseline_mae_by_band.items():
                out[f"{prefix}baseline_mae_{target}_{band}"] = v
        out[f"{prefix}relative_error"] = self.relative_error
        out[f"{prefix}validation_windows"] = float(self.windows)
        out[f"{prefix}validation_laps"] = float(self.laps)
        return out

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "relative_error": self.relative_error, "beats_baseline": self.beats_baseline}


def r2_score(y: F64, p: F64) -> float:
    ss_res = float(np.sum((y - p) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def _band_name(lo: float, hi: float) -> str:
    return f"p{round(lo * 100):02d}_{min(round(hi * 100), 100):03d}"


def _target(y: F64, p: F64, b: F64, progress: F64) -> TargetScores:
    main = progress >= EVAL_FROM_PROGRESS
    if not main.any():
        raise ValueError(f"no validation window beyond {EVAL_FROM_PROGRESS:.0%} of a lap to score")
    err, berr = np.abs(p - y), np.abs(b - y)
    by_band, base_by_band = {}, {}
    for lo, hi in BANDS:
        m = (progress >= lo) & (progress < hi)
        if m.any():
            by_band[_band_name(lo, hi)] = float(err[m].mean())
            base_by_band[_band_name(lo, hi)] = float(berr[m].mean())
    return TargetScores(
        mae=float(err[main].mean()),
        r2=r2_score(y[main], p[main]),
        baseline_mae=float(berr[main].mean()),
        mae_all=float(err.mean()),
        baseline_mae_all=float(berr.mean()),
        mae_by_band=by_band,
        baseline_mae_by_band=base_by_band,
    )


def score(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, y_base: npt.ArrayLike, progress: npt.ArrayLike, laps: int
) -> Scores:
    """Scores of predictions ``y_pred`` and baseline ``y_base`` (both (n, 2), ``TARGETS`` order)."""
    y, p, b = (np.asarray(a, dtype=np.float64).reshape(-1, len(TARGETS)) for a in (y_true, y_pred, y_base))
    prog = np.asarray(progress, dtype=np.float64)
    if not (len(y) == len(p) == len(b) == len(prog)):
        raise ValueError("targets, predictions, baseline and progress must have one row per window")
    return Scores(_target(y[:, 0], p[:, 0], b[:, 0], prog), _target(y[:, 1], p[:, 1], b[:, 1], prog), len(y), laps)
