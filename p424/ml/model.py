"""The lap-outcome model: a median lap learned from the training laps, plus a learned correction.

1. Median lap (fitted; ``reference_``): per ``profile_step_m`` of lap distance
   (``REFERENCE_LAP_STEP_M`` by default), the median elapsed time, the median time still to go and
   the median energy still to use, over the training laps. The prior prediction at a window is the
   time so far plus the median time to go, scaled by how this lap's pace compares with the median
   lap at the same distance, and the energy so far plus the median energy to go. Unlike the
   reference-lap baseline (one lap, the best so far: ``p424.ml.baseline``), it knows how fast this
   lap is going relative to a typical one, and unlike the pace baseline, that the rest of the track
   is faster or slower than the part already driven.
2. Correction (fitted): gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor: fast
   on two cores, handles the NaN of absent channels) learn the prior's residual from every lap-so-far
   feature (push, tyre and battery state, energy use so far).
Learning a residual keeps predictions precise late in the lap, where the time to go is small and
trees alone could not resolve it. Tested in ``tests/test_ml_unit.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from p424.ml.baseline import extrapolate
from p424.ml.settings import REFERENCE_LAP_STEP_M
from p424.ml.steps import TARGETS

F64 = npt.NDArray[np.float64]
# One OpenMP thread: on our two cores, shared with the whole stack, HistGradientBoosting's thread pool
# spin-waits behind other processes (a 1-row predict took 300 ms with two threads, 8 ms with one).
THREADS = 1
MIN_REFERENCE_S = 5.0  # compare paces only once the reference lap has run this long


class LapOutcomeModel(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Predicts ``TARGETS`` (lap time s, net energy kWh) from ``p424.ml.features`` columns.

    ``lap_length_m`` is the reference lap length the baseline extrapolates to (set from the
    training laps); the other parameters go to each target's HistGradientBoostingRegressor.
    """

    def __init__(
        self,
        *,
        lap_length_m: float = 0.0,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        random_state: int = 0,
        profile_step_m: float = REFERENCE_LAP_STEP_M,
    ) -> None:
        self.lap_length_m = lap_length_m
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state
        self.profile_step_m = profile_step_m

    def baseline(self, X: pd.DataFrame) -> F64:  # noqa: N803 (scikit-learn's name for the feature matrix)
        """The pace-extrapolation baseline for these rows, shape (n, 2) in ``TARGETS`` order."""
        t, e = extrapolate(
            X["elapsed_s"].to_numpy(dtype=np.float64),
            X["distance_m"].to_numpy(dtype=np.float64),
            X["energy_kwh"].to_numpy(dtype=np.float64),
            self.lap_length_m,
        )
        return np.column_stack((t, e))

    def prior(self, X: pd.DataFrame) -> F64:  # noqa: N803
        """The reference-lap prediction, shape (n, 2) in ``TARGETS`` order (needs a fitted model)."""
        ref_d, ref_elapsed, to_go_t, to_go_e = self.reference_.T
        d = X["distance_m"].to_numpy(dtype=np.float64)
        elapsed = X["elapsed_s"].to_numpy(dtype=np.float64)
        ref_at = np.interp(d, ref_d, ref_elapsed)
        with np.errstate(invalid="ignore", divide="ignore"):
            pace_ratio = np.where(ref_at > MIN_REFERENCE_S, elapsed / ref_at, 1.0)
        return np.column_stack(
            (
                elapsed + np.interp(d, ref_d, to_go_t) * pace_ratio,
                X["energy_kwh"].to_numpy(dtype=np.float64) + np.interp(d, ref_d, to_go_e),
            )
        )

    def reference_lap(self, X: pd.DataFrame, targets: F64) -> F64:  # noqa: N803
        """Per ``profile_step_m`` bin: median distance, elapsed time, time to go, energy to go."""
        frame = pd.DataFrame(
            {
                "bin": np.floor(X["distance_m"].to_numpy(dtype=np.float64) / self.profile_step_m),
                "d": X["distance_m"].to_numpy(dtype=np.float64),
                "elapsed": X["elapsed_s"].to_numpy(dtype=np.float64),
                "to_go_t": targets[:, 0] - X["elapsed_s"].to_numpy(dtype=np.float64),
                "to_go_e": targets[:, 1] - X["energy_kwh"].to_numpy(dtype=np.float64),
            }
        )
        ref = frame.groupby("bin").median().sort_values("d")
        out: F64 = ref[["d", "elapsed", "to_go_t", "to_go_e"]].to_numpy(dtype=np.float64)
        return out

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> LapOutcomeModel:  # noqa: N803
        if self.lap_length_m <= 0:
            raise ValueError("set lap_length_m (the median training lap length) before fitting")
        targets = np.asarray(y, dtype=np.float64).reshape(len(X), len(TARGETS))
        self.reference_ = self.reference_lap(X, targets)
        residual = targets - self.prior(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        # Channels no training lap carried (all NaN) cannot be binned; the trees go without them.
        self.used_features_ = [str(c) for c in X.columns if X[c].notna().any()]
        trees_in = X[self.used_features_]
        with threadpool_limits(THREADS):
            self.estimators_ = self._fit_trees(trees_in, residual)
        return self

    def _fit_trees(self, trees_in: pd.DataFrame, residual: F64) -> list[HistGradientBoostingRegressor]:
        return [
            HistGradientBoostingRegressor(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                random_state=self.random_state,
                early_stopping=False,
            ).fit(trees_in, residual[:, k])
            for k in range(len(TARGETS))
        ]

    def predict(self, X: pd.DataFrame) -> F64:  # noqa: N803
        # No thread limit here (entering one costs ~4 ms): the live service and the pipeline set it once.
        trees_in = X[self.used_features_]
        correction = np.column_stack([m.predict(trees_in) for m in self.estimators_])
        out: F64 = self.prior(X) + correction
        return out

    @property
    def feature_importances_(self) -> F64:
        """Split-gain importance per input feature: each target's total gain over its trees, normalised
        to sum to 1, averaged over the targets (features the trees never saw score 0)."""
        index = {name: i for i, name in enumerate(self.used_features_)}
        out = np.zeros(len(self.feature_names_in_))
        for est in self.estimators_:
            gain = np.zeros(len(self.used_features_))
            # _predictors is scikit-learn's list of fitted trees (one per iteration); nodes carry their split gain.
            for (tree,) in est._predictors:
                split = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
                np.add.at(gain, split["feature_idx"], split["gain"])
            if gain.sum() > 0:
                gain /= gain.sum()
            for j, name in enumerate(self.feature_names_in_):
                if name in index:
                    out[j] += gain[index[name]] / len(self.estimators_)
        return out

    def describe(self) -> dict[str, Any]:
        return {"kind": "reference lap + HistGradientBoosting residual", **self.get_params()}
