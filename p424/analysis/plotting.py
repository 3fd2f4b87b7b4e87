"""A comparison as a picture: the time delta on top, then each channel, every lap overlaid by distance.

Channels are drawn in their display units (``Channel.multiplier``, ``display_unit``); the mini-sector
boundaries are marked on every axis. Matplotlib's Agg backend writes the file: no display needed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from p424.analysis.compare import Comparison
from p424.catalog import CATALOG

MAX_CHANNEL_AXES = 8  # a figure of every catalog channel is unreadable: the first ones are drawn


def plot_comparison(cmp: Comparison, path: Path, channels: list[str] | None = None) -> list[str]:
    """Write the figure to ``path`` (format from its suffix); returns the channels drawn."""
    drawn = list(channels if channels is not None else cmp.channels)[:MAX_CHANNEL_AXES]
    fig, axes = plt.subplots(
        1 + len(drawn), 1, figsize=(13, 2.2 + 2.0 * (1 + len(drawn))), sharex=True, layout="constrained", squeeze=False
    )
    km = cmp.time.index.to_numpy() / 1000
    ax_delta = axes[0][0]
    ref = str(cmp.reference)
    for lap in cmp.delta.columns:
        style = {"color": "black", "lw": 0.8} if lap == ref else {"lw": 1.2}
        ax_delta.plot(km, cmp.delta[lap], label=_label(cmp, lap), **style)
    ax_delta.set_ylabel("delta (s)")
    ax_delta.set_title(f"time delta to {ref} (above zero: behind)")
    ax_delta.legend(fontsize="small", ncols=min(4, len(cmp.delta.columns)))
    for ax, name in zip((a[0] for a in axes[1:]), drawn, strict=True):
        scale, unit = _display(name, cmp.units.get(name, ""))
        for lap in cmp.channel(name).columns:
            ax.plot(km, cmp.channel(name)[lap] * scale, lw=0.9, color="black" if lap == ref else None)
        ax.set_ylabel(f"{name} ({unit})" if unit else name, fontsize="small")
    ends = cmp.mini_sectors.drop_duplicates("MiniSector")["EndDistance"].to_numpy()[:-1] / 1000
    for row in axes:
        for x in ends:
            row[0].axvline(x, color="grey", lw=0.3, alpha=0.6)
    axes[-1][0].set_xlabel("lap distance (km)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


def _label(cmp: Comparison, lap: str) -> str:
    t = next((v for k, v in cmp.lap_times.items() if str(k) == lap), float("nan"))
    m, s = divmod(t, 60)
    return f"{lap} ({int(m)}:{s:06.3f})"


def _display(name: str, unit: str) -> tuple[float, str]:
    channel = CATALOG.by_name.get(name)
    if channel is None:
        return 1.0, unit
    return channel.multiplier, channel.shown_unit
