"""The keyed function that runs one SessionProcessor per session in Flink keyed state."""

from __future__ import annotations

import time
from collections.abc import Iterator

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from p424 import derived
from p424.codec.frame import frame_car_id, frame_session_id
from p424.processing.emit import EmitPolicy
from p424.processing.idle import Horizons, Step, next_idle_check, on_timer
from p424.processing.outputs import Outputs
from p424.processing.resume import Compacted, compact, resume
from p424.processing.session import ProcessingSettings, SessionProcessor
from p424.processing.state import SessionState  # also the class older checkpoints pickled here


class SessionFunction(KeyedProcessFunction):  # type: ignore[misc]
    """Runs each session's processor and decides when a session has gone silent.

    Silence is judged on the data's own clock, not on processing time: a session is idle when the
    operator has seen frames received ``idle_ms`` later than the session's last one. While the job
    catches up on a backlog, sessions waiting behind other partitions are therefore not cut short.
    When the whole stream goes quiet, processing time takes over so the last laps still close.
    A session silent for the compaction horizon is kept compacted, so frames that resume it later
    continue its figures; it is dropped after the resume horizon (``p424.processing.idle``).
    """

    def __init__(
        self,
        settings: ProcessingSettings,
        horizons: Horizons,
        emit_interval_ms: int,
        definitions: derived.Definitions | None = None,
    ) -> None:
        self.settings = settings
        # Maths channels, events and alarms, loaded and checked where the job is submitted (so a
        # wrong file fails the submission, named) and shipped with the function.
        self.definitions = definitions or derived.default()
        self.horizons = horizons
        self.idle_ms = horizons.idle_ms
        self.emit = EmitPolicy(emit_interval_ms, min(settings.window_sizes_ms))
        # Operator-wide clocks (not checkpointed: after a restore they are rebuilt from the data).
        self.max_received_ms = 0
        self.last_element_ms = 0

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(ValueStateDescriptor("session", Types.PICKLED_BYTE_ARRAY()))
        # Restored timers fire at once: a restart must not count as the stream going quiet.
        self.last_element_ms = int(time.time() * 1000)

    def process_element(self, raw: bytes, ctx: KeyedProcessFunction.Context) -> Iterator[Outputs]:
        kept: SessionState | Compacted | None = self.state.value()
        now = ctx.timer_service().current_processing_time()
        st = SessionState(resume(kept)) if isinstance(kept, Compacted) else kept
        if st is None:
            session, car = frame_session_id(raw), frame_car_id(raw)
            st = SessionState(SessionProcessor(session, car, self.settings, definitions=self.definitions))
        else:
            st.processor.bind(self.definitions)  # a restored processor: ours, mapped by name if the files changed
        received = ctx.timestamp() or now
        st.pending.extend(st.processor.on_frame(raw, received))
        st.last_seen_ms = now
        st.last_received_ms = received
        self.max_received_ms = max(self.max_received_ms, received)
        self.last_element_ms = now
        self.emit.observe_frame(now)
        st.flushed = False
        due = next_idle_check(st.timer_ms, now, self.idle_ms)
        if due is not None:
            st.timer_ms = due
            ctx.timer_service().register_processing_time_timer(due)
        if self.emit.due(st.pending):
            yield st.pending
            st.pending = Outputs()
        self.state.update(st)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Outputs]:
        kept: SessionState | Compacted | None = self.state.value()
        if kept is None:
            return
        st = kept if isinstance(kept, SessionState) else None  # None: held compacted
        quiet = st is not None and (
            self.max_received_ms - st.last_received_ms >= self.idle_ms  # behind the data
            or timestamp - self.last_element_ms >= self.idle_ms  # the whole stream is quiet
        )
        decision = on_timer(
            now_ms=timestamp,
            last_seen_ms=kept.last_seen_ms,
            flushed=st is not None and st.flushed,
            compacted=st is None,
            quiet=quiet,
            horizons=self.horizons,
        )
        if decision.step is Step.DROP:
            self.state.clear()
            return
        if st is not None:
            if decision.step is Step.FLUSH:
                st.processor.bind(self.definitions)
                st.pending.extend(st.processor.flush())
                st.flushed = True
            if len(st.pending):
                yield st.pending
                st.pending = Outputs()
        if decision.next_timer_ms is not None:
            ctx.timer_service().register_processing_time_timer(decision.next_timer_ms)
        if st is not None:
            st.timer_ms = decision.next_timer_ms or 0
            self.state.update(compact(st.processor, st.last_seen_ms) if decision.step is Step.COMPACT else st)
