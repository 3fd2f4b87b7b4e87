"""Figures logged with each training run (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: Airflow tasks and the predictor have no display

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from p424.ml.evaluate import Scores

F64 = npt.NDArray[np.float64]


def predicted_vs_actual(y: F64, pred: F64, progress: F64, scores: Scores) -> Figure:
    """Held-out windows: prediction against the lap's real outcome, coloured by lap progress."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
    labels = (("lap time", "s", scores.lap_time), ("net energy", "kWh", scores.energy))
    for k, (ax, (name, unit, s)) in enumerate(zip(axes, labels, strict=True)):
        sc = ax.scatter(y[:, k], pred[:, k], c=progress, s=6, cmap="viridis", vmin=0, vmax=1, alpha=0.7)
        lo, hi = float(min(y[:, k].min(), pred[:, k].min())), float(max(y[:, k].max(), pred[:, k].max()))
        ax.plot([lo, hi], [lo, hi], color="black", lw=1, ls="--")
        ax.set_xlabel(f"actual {name} ({unit})")
        ax.set_ylabel(f"predicted {name} ({unit})")
        ax.set_title(f"{name}: MAE {s.mae:.3g} {unit} (baseline {s.baseline_mae:.3g}), R² {s.r2:.3f}")
    fig.colorbar(sc, ax=axes, label="lap progress when predicted")
    fig.suptitle(f"{scores.laps} held-out laps, {scores.windows} windows")
    return fig


def error_by_progress(scores: Scores) -> Figure:
    """MAE per band of lap progress, model against baseline (log scale)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, (name, unit, s) in zip(
        axes, (("lap time", "s", scores.lap_time), ("net energy", "kWh", scores.energy)), strict=True
    ):
        bands = list(s.mae_by_band)
        x = np.arange(len(bands))
        ax.bar(x - 0.2, [s.mae_by_band[b] for b in bands], 0.4, label="model")
        ax.bar(x + 0.2, [s.baseline_mae_by_band[b] for b in bands], 0.4, label="baseline (extrapolation)")
        ax.set_xticks(x, [b.replace("p", "").replace("_", "-") + " %" for b in bands], rotation=20)
        ax.set_yscale("log")
        ax.set_ylabel(f"MAE ({unit})")
        ax.set_title(name)
        ax.legend()
    return fig


def importances(names: Sequence[str], values: F64, top: int = 20) -> Figure:
    order = np.argsort(values)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(order) + 1.2), layout="constrained")
    ax.barh([names[i] for i in order], values[order])
    ax.set_xlabel("split-gain importance (share of the trees' total gain, mean over both targets)")
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
