"""Checkpointed processing state across a catalog change.

The session processor keeps numpy vectors in the catalog's payload (and key-channel) order in its
checkpointed state, and so do outputs waiting for the sink. When a new catalog is deployed the
job restores state written under the previous one: these functions map it by channel name onto
the current catalog (``Catalog.from_payload``), so a session that spans the upgrade keeps its
figures instead of crashing the job or mislabelling values.
"""

from __future__ import annotations

import dataclasses

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
    s.mins = target.from_payload(s.mins, source)
    s.maxs = target.from_payload(s.maxs, source)
    s.sums = target.from_payload(s.sums, source, fill=0.0)
    s.counts = target.from_payload(s.counts, source, fill=0)
    s.lasts = target.from_payload(s.lasts, source)


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
