"""A silent session's state, compacted, and the processor that resumes from it.

After a session has been silent for the compaction horizon its processor has been flushed (the
open windows and lap previewed), and the Flink job keeps it compacted instead of dropping it: the
whole processor, pickled and compressed. Nothing is left out, so frames that resume the session
(a paused simulator, or the bridge's spool draining after a long Kafka outage) continue its
quality counters, lap numbering, open lap, open windows, events and alarm states exactly as if it
had never gone quiet, and no row written before is overwritten with partial values. Compressing
is what makes it small: a flushed processor pickles to about 9 KB, mostly the open windows'
per-channel vectors (NaN-rich, repetitive), which zlib brings to about 2 KB.
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass

from p424.processing.session import SessionProcessor


@dataclass(frozen=True, kw_only=True)
class Compacted:
    session_id: int
    last_seen_ms: int  # processing time of the session's latest frame (the drop horizon counts from it)
    processor: bytes  # the flushed processor: zlib-compressed pickle


def compact(processor: SessionProcessor, last_seen_ms: int) -> Compacted:
    """A flushed processor, compacted. One still holding frames for re-ordering has not been flushed."""
    held = processor.held_frames
    if held:
        raise ValueError(
            f"session {processor.session_id} still holds {held} frames for re-ordering: flush it before compacting"
        )
    blob = zlib.compress(pickle.dumps(processor, protocol=pickle.HIGHEST_PROTOCOL), 6)
    return Compacted(session_id=processor.session_id, last_seen_ms=last_seen_ms, processor=blob)


def resume(c: Compacted) -> SessionProcessor:
    """The processor as it was compacted (its vectors mapped onto today's catalog if that changed since)."""
    processor = pickle.loads(zlib.decompress(c.processor))
    if not isinstance(processor, SessionProcessor) or processor.session_id != c.session_id:
        raise ValueError(f"compacted state of session {c.session_id} does not hold that session's processor")
    return processor
