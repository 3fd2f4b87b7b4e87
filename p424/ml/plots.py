"""Figures logged with each training run (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: Airflow tasks and the predictor have no display

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from p424.ml.baseline import BASELINE_TITLES
from p424.ml.steps import TARGET_TITLES, TARGETS, THIRDS, Evaluation

F64 = npt.NDArray[np.float64]


def predicted_vs_actual(y: F64, pred: F64, progress: F64, evaluation: Evaluation) -> Figure:
    """Held-out windows: prediction against the lap's real outcome, coloured by lap progress."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
    for k, (ax, target) in enumerate(zip(axes, TARGETS, strict=True)):
        name, unit = TARGET_TITLES[target]
        sc = ax.scatter(y[:, k], pred[:, k], c=progress, s=6, cmap="viridis", vmin=0, vmax=1, alpha=0.7)
        lo, hi = float(min(y[:, k].min(), pred[:, k].min())), float(max(y[:, k].max(), pred[:, k].max()))
        ax.plot([lo, hi], [lo, hi], color="black", lw=1, ls="--")
        ax.set_xlabel(f"actual {name} ({unit})")
        ax.set_ylabel(f"predicted {name} ({unit})")
        baselines = ", ".join(
            f"{c.baseline} {c.other.mae:.3g}" for c in evaluation.comparisons if c.target == target and c.other.windows
        )
        ax.set_title(f"{name}: MAE {evaluation.model[target].mae:.3g} {unit} (baselines: {baselines})", fontsize=9)
    fig.colorbar(sc, ax=axes, label="lap progress when predicted")
    fig.suptitle(f"{evaluation.laps} held-out laps, {evaluation.windows} windows")
    return fig


def error_by_third(evaluation: Evaluation) -> Figure:
    """MAE per third of the lap distance: the model against each baseline, on that baseline's windows."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    x = np.arange(len(THIRDS))
    for ax, target in zip(axes, TARGETS, strict=True):
        name, unit = TARGET_TITLES[target]
        bars: list[tuple[str, tuple[float | None, ...]]] = [("model", evaluation.model[target].thirds)]
        for c in evaluation.comparisons:
            if c.target == target and c.other.windows:
                bars.append((f"{BASELINE_TITLES[c.baseline]} baseline ({c.laps} laps)", c.other.thirds))
        width = 0.8 / len(bars)
        for i, (label, values) in enumerate(bars):
            heights = [np.nan if v is None else v for v in values]
            ax.bar(x + (i - (len(bars) - 1) / 2) * width, heights, width, label=label)
        ax.set_xticks(x, [f"{t} third" for t in THIRDS])
        ax.set_yscale("log")
        ax.set_ylabel(f"MAE ({unit})")
        ax.set_title(name)
        ax.legend(fontsize=8)
    return fig


def importances(names: Sequence[str], values: F64, top: int = 20) -> Figure:
    order = np.argsort(values)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(order) + 1.2), layout="constrained")
    ax.barh([names[i] for i in order], values[order])
    ax.set_xlabel("split-gain importance (share of the trees' total gain, mean over both targets)")
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
