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
from p424.processing.idle import next_idle_check
from p424.processing.outputs import Outputs
from p424.processing.session import ProcessingSettings, SessionProcessor
from p424.processing.state import SessionState  # also the class older checkpoints pickled here

FORGET_AFTER_MS = 3600_000  # state of a session idle this long is dropped


class SessionFunction(KeyedProcessFunction):  # type: ignore[misc]
    """Runs each session's processor and decides when a session has gone silent.

    Silence is judged on the data's own clock, not on processing time: a session is idle when the
    operator has seen frames received ``idle_ms`` later than the session's last one. While the job
    catches up on a backlog, sessions waiting behind other partitions are therefore not cut short.
    When the whole stream goes quiet, processing time takes over so the last laps still close.
    """

    def __init__(
        self,
        settings: ProcessingSettings,
        idle_timeout_ms: int,
        emit_interval_ms: int,
        definitions: derived.Definitions | None = None,
    ) -> None:
        self.settings = settings
        # Maths channels, events and alarms, loaded and checked where the job is submitted (so a
        # wrong file fails the submission, named) and shipped with the function.
        self.definitions = definitions or derived.default()
        self.idle_ms = idle_timeout_ms
        self.emit = EmitPolicy(emit_interval_ms, min(settings.window_sizes_ms))
        # Operator-wide clocks (not checkpointed: after a restore they are rebuilt from the data).
        self.max_received_ms = 0
        self.last_element_ms = 0

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(ValueStateDescriptor("session", Types.PICKLED_BYTE_ARRAY()))
        # Restored timers fire at once: a restart must not count as the stream going quiet.
        self.last_element_ms = int(time.time() * 1000)

    def process_element(self, raw: bytes, ctx: KeyedProcessFunction.Context) -> Iterator[Outputs]:
        st: SessionState | None = self.state.value()
        now = ctx.timer_service().current_processing_time()
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
        st: SessionState | None = self.state.value()
        if st is None:
            return
        idle = timestamp - st.last_seen_ms
        if idle >= FORGET_AFTER_MS and st.flushed:
            self.state.clear()
            return
        behind_the_data = self.max_received_ms - st.last_received_ms >= self.idle_ms
        stream_quiet = timestamp - self.last_element_ms >= self.idle_ms
        if (behind_the_data or stream_quiet) and not st.flushed:
            st.processor.bind(self.definitions)
            st.pending.extend(st.processor.flush())
            st.flushed = True
        if len(st.pending):
            yield st.pending
            st.pending = Outputs()
        st.timer_ms = (st.last_seen_ms + FORGET_AFTER_MS) if st.flushed else (timestamp + self.idle_ms)
        ctx.timer_service().register_processing_time_timer(st.timer_ms)
        self.state.update(st)
