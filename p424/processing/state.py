"""What the Flink job keeps in keyed state per session, and how it survives a catalog change.

Checkpoints written before this module existed pickled the class as
``flink_jobs.session_function.SessionState``; that module imports it, so they still restore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from p424.catalog import CATALOG
from p424.processing.layout import LEGACY_LAYOUT_HASH, remap_outputs, source_catalog
from p424.processing.outputs import Outputs
from p424.processing.session import SessionProcessor


@dataclass
class SessionState:
    processor: SessionProcessor
    pending: Outputs = field(default_factory=Outputs)
    last_seen_ms: int = 0  # processing time of the session's latest frame
    last_received_ms: int = 0  # bridge receive time (Kafka timestamp) of the session's latest frame
    timer_ms: int = 0
    flushed: bool = False
    layout_hash: int = CATALOG.hash  # the catalog the pending outputs' vectors are ordered by

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        layout = cast(int, state.get("layout_hash", LEGACY_LAYOUT_HASH))
        if layout != CATALOG.hash:  # restored from a checkpoint of another catalog version
            remap_outputs(self.pending, source_catalog(layout, CATALOG), CATALOG)
            self.layout_hash = CATALOG.hash
