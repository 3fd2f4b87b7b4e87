"""Checkpointed processing state across a catalog change or a maths-file change.

The session processor keeps numpy vectors in the catalog's payload (and key-channel) order in its
checkpointed state, and so do outputs waiting for the sink. When a new catalog is deployed the
job restores state written under the previous one: these functions map it by channel name onto
the current catalog (``Catalog.from_payload``), so a session that spans the upgrade keeps its
figures instead of crashing the job or mislabelling values.

Open windows also hold the maths channels' statistics after the catalog's (their "tail"), in the
order of the maths file the state was written under; ``remap_maths`` maps them by name onto
another maths file's channels the same way (new channels start absent, removed ones are dropped).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from p424.catalog import Catalog
from p424.processing.outputs import Outputs
from p424.processing.windows import WindowStats

# Processors checkpointed before catalog versions existed carry no layout hash: they were written
# under catalog 1.0.0.
LEGACY_LAYOUT_HASH = 0xB512F2CA


def source_catalog(layout_hash: int, current: Catalog) -> Catalog:
    source = current.known(layout_hash)
    if source is None:
        raise ValueError(
            f"checkpointed state was written under catalog {layout_hash:08x}, which is not registered "
            "(p424/catalog/versions): restore it with the code that wrote it, or drop the job's state"
        )
    return source


def remap_window_stats(s: WindowStats, source: Catalog, target: Catalog) -> None:
    """The catalog part (the head) of an open window's vectors in ``target`` order; the maths tail kept."""
    n = len(source.payload_channels)

    def head(v: npt.NDArray[Any], fill: float) -> npt.NDArray[Any]:
        mapped = target.from_payload(v[:n], source, fill=fill)
        return np.concatenate((mapped, v[n:])) if len(v) > n else mapped

    s.mins = head(s.mins, np.nan)
    s.maxs = head(s.maxs, np.nan)
    s.sums = head(s.sums, 0.0)
    s.counts = head(s.counts, 0)
    s.lasts = head(s.lasts, np.nan)


def remap_maths(s: WindowStats, n_payload: int, source: Sequence[str], target: Sequence[str]) -> None:
    """The maths tail of an open window's vectors (after ``n_payload`` catalog columns), by channel name."""
    index = {name: i for i, name in enumerate(source)}
    picks = np.array([index.get(name, -1) for name in target], dtype=np.intp)
    present = picks >= 0

    def tail(v: npt.NDArray[Any], fill: float) -> npt.NDArray[Any]:
        out = np.full(len(target), fill, dtype=v.dtype)
        out[present] = v[n_payload:][picks[present]]
        return np.concatenate((v[:n_payload], out))

    s.mins = tail(s.mins, np.nan)
    s.maxs = tail(s.maxs, np.nan)
    s.sums = tail(s.sums, 0.0)
    s.counts = tail(s.counts, 0)
    s.lasts = tail(s.lasts, np.nan)


def remap_outputs(out: Outputs, source: Catalog, target: Catalog) -> None:
    """Outputs not yet written, in place: window statistics and lap extremes in ``target`` order."""
    out.windows[:] = [
        dataclasses.replace(
            w,
            mins=target.from_payload(w.mins, source),
            maxs=target.from_payload(w.maxs, source),
            means=target.from_payload(w.means, source),
            lasts=target.from_payload(w.lasts, source),
        )
        for w in out.windows
    ]
    out.laps[:] = [
        dataclasses.replace(lap, mins=target.from_key(lap.mins, source), maxs=target.from_key(lap.maxs, source))
        for lap in out.laps
    ]
