"""One session's stream processing: dedup, event-time re-ordering, windows, laps, quality.

Event time is the frame's session clock. Flink's watermarks are per Kafka partition, but each
partition multiplexes many sessions whose clocks are unrelated (a replay at 100x next to a live
car), so each session keeps its own watermark here: the highest sim time seen minus the allowed
out-of-orderness. Frames are released to aggregation in sim-time order once the watermark passes
them; a frame that arrives after its place was released is late: counted, stored raw, left out
of windows and laps. Duplicates (same sequence number) are counted and dropped.

Maths channels, lap events and alarms (``p424.derived``) are computed on the same blocks: each
block of frames gets its maths columns appended (a frames x (catalog + maths) array), whose window
statistics are computed and merged like the catalog's; events are detected per lap on the block;
alarms are evaluated on every closed smallest window (not on the provisional windows of a flush,
whose frames are evaluated when their window closes).

The processor is plain picklable Python/numpy state, so the Flink job keeps one per session in
keyed state and restores it from checkpoints. The definitions themselves are not state: a restored
processor is bound to the job's definitions (``bind``), mapping its open windows, events and alarm
states by name when the files changed in between.
"""

from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from p424 import derived
from p424.catalog import CATALOG, Catalog
from p424.codec.frame import decode_header, decode_values
from p424.derived.alarms import AlarmTracker, Transition
from p424.derived.events import Event, EventTracker
from p424.processing.laps import LapAccumulator, LapState, is_lap_boundary, starts_at_line
from p424.processing.layout import LEGACY_LAYOUT_HASH, remap_maths, remap_window_stats, source_catalog
from p424.processing.outputs import (
    AlertRow,
    EventRow,
    FrameRow,
    LapRow,
    MathsStats,
    Outputs,
    ProfilePoint,
    QualityRow,
    SessionRow,
    WindowRow,
)
from p424.processing.windows import WindowStats, block_stats, merge_into, parent_index
from p424.sequence import SequenceTracker
from p424.storage.schema import PROFILE_STEP_M, window_part
from p424.units import KWS_PER_KWH

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ProcessingSettings:
    window_sizes_ms: tuple[int, ...] = (100, 1000)
    out_of_orderness_s: float = 0.2
    min_lap_s: float = 10.0
    profile_step_m: int = PROFILE_STEP_M

    def __post_init__(self) -> None:
        sizes = sorted(self.window_sizes_ms)
        if not sizes or any(s % sizes[0] for s in sizes):
            raise ValueError(f"window sizes {self.window_sizes_ms} must be multiples of the smallest")


@dataclass
class _Pending:
    sim_time: float
    seq: int
    lap: int
    lap_distance: float
    markers: int
    values: F32

    def __lt__(self, other: _Pending) -> bool:
        return (self.sim_time, self.seq) < (other.sim_time, other.seq)


class SessionProcessor:
    def __init__(
        self,
        session_id: int,
        car_id: int,
        settings: ProcessingSettings = ProcessingSettings(),
        catalog: Catalog = CATALOG,
        definitions: derived.Definitions | None = None,
    ) -> None:
        self.session_id = session_id
        self.car_id = car_id
        self.settings = settings
        self.catalog = catalog
        self.layout_hash = catalog.hash  # the catalog the state's vectors are ordered by
        self.sender_catalog_hash = catalog.hash  # the catalog the session's frames are written with
        self.sizes = tuple(sorted(settings.window_sizes_ms))
        self.tracker = SequenceTracker()
        self.laps = LapAccumulator(settings.profile_step_m, catalog)
        self.anchor_ms: int | None = None
        self.last_received_ms = 0
        self.first_sim_time: float | None = None
        self.max_sim_time = float("-inf")
        self.released_until = float("-inf")
        self.late = 0
        self.invalid = 0
        self.laps_done = 0
        self.lap: LapState | None = None
        self._heap: list[_Pending] = []
        self._block: list[_Pending] = []
        self._block_index: int | None = None
        self._parents: dict[int, WindowStats | None] = {w: None for w in self.sizes[1:]}
        self._lap_window_base: dict[int, int] = {}
        # Maths channels, events and alarms: the layout of the maths columns in open windows, and
        # the open events and limit states (checkpointed); the definitions are bound, not state.
        self.maths_names: tuple[str, ...] = ()
        self.event_runs = EventTracker()
        self.alarm_states = AlarmTracker()
        self._definitions: derived.Definitions | None = None
        self.bind(definitions or derived.default())

    # Checkpointed per frame bundle: leave the (shared, immutable) catalog, lap-accumulator
    # configuration and definitions out of the pickled state.
    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("catalog")
        state.pop("laps")
        state.pop("_definitions")
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        # State checkpointed before maths channels, events and alarms existed has none of them.
        self.__dict__.update({"maths_names": (), "event_runs": EventTracker(), "alarm_states": AlarmTracker()})
        self.__dict__.update(state)
        self.catalog = CATALOG
        self.laps = LapAccumulator(self.settings.profile_step_m, CATALOG)
        self._definitions = None  # bound on first use: the job's definitions, or this process's default
        layout = cast(int, state.get("layout_hash", LEGACY_LAYOUT_HASH))
        self.sender_catalog_hash = cast(int, state.get("sender_catalog_hash", layout))
        if layout != CATALOG.hash:
            self._remap(source_catalog(layout, CATALOG))

    @property
    def definitions(self) -> derived.Definitions:
        if self._definitions is None:
            self.bind(derived.default())
        return self._definitions  # type: ignore[return-value]

    def bind(self, definitions: derived.Definitions) -> None:
        """Use these maths channels, events and alarms from now on; state kept under other
        definitions (a checkpoint from before the files changed) is mapped onto them by name."""
        if definitions is self._definitions:
            return
        names = definitions.maths.names
        if names != self.maths_names:
            n = len(self.catalog.payload_channels)
            for parent in self._parents.values():
                if parent is not None:
                    remap_maths(parent, n, self.maths_names, names)
            self.maths_names = names
        self.event_runs.retain(definitions.events)
        self.alarm_states.retain(definitions.alarms)
        self._definitions = definitions

    def _remap(self, source: Catalog) -> None:
        """State restored from a checkpoint of another catalog: its vectors, mapped by channel name."""
        target = self.catalog
        for p in (*self._heap, *self._block):
            p.values = target.from_payload(p.values, source)
        for parent in self._parents.values():
            if parent is not None:
                remap_window_stats(parent, source, target)
        if self.lap is not None and self.lap.mins is not None and self.lap.maxs is not None:
            self.lap.mins = target.from_key(self.lap.mins, source)
            self.lap.maxs = target.from_key(self.lap.maxs, source)
        self.layout_hash = target.hash

    @property
    def held_frames(self) -> int:
        """Frames waiting for the watermark (none once flushed)."""
        return len(self._heap)

    # ------------------------------------------------------------------ input
    def on_frame(self, raw: bytes, received_ms: int) -> Outputs:
        out = Outputs()
        try:
            h = decode_header(raw, self.catalog)
            values, _ = decode_values(raw, self.catalog)
        except ValueError:
            self.invalid += 1  # the bridge validates; this guards against other producers
            return out
        self.sender_catalog_hash = h.catalog_hash
        seq, kind = self.tracker.observe(h.sequence)
        if kind == SequenceTracker.DUPLICATE:
            return out
        if self.anchor_ms is None:
            self.anchor_ms = received_ms - round(h.sim_time * 1000)
            self.first_sim_time = h.sim_time
        self.last_received_ms = max(self.last_received_ms, received_ms)
        out.frames.append(
            FrameRow(
                session_id=self.session_id,
                seq=seq,
                sim_time=h.sim_time,
                lap=h.lap,
                lap_distance=h.lap_distance,
                markers=h.markers,
                frame=raw,
            )
        )
        if h.sim_time < self.released_until or kind == SequenceTracker.TOO_OLD:
            self.late += 1
            return out
        pending = _Pending(
            sim_time=h.sim_time, seq=seq, lap=h.lap, lap_distance=h.lap_distance, markers=h.markers, values=values
        )
        heapq.heappush(self._heap, pending)
        self.max_sim_time = max(self.max_sim_time, h.sim_time)
        watermark = self.max_sim_time - self.settings.out_of_orderness_s
        while self._heap and self._heap[0].sim_time <= watermark:
            self._aggregate(heapq.heappop(self._heap), out)
        return out

    def flush(self) -> Outputs:
        """Session silent: release held frames and report the open window(s) and lap as they stand.

        This is a preview, not a close: the open windows and the lap keep accumulating, so if the
        session resumes (or silence was misjudged while a backlog drains) the complete rows later
        overwrite these provisional ones under the same keys.
        """
        out = Outputs()
        while self._heap:
            self._aggregate(heapq.heappop(self._heap), out)
        lap = self.lap
        if lap is None:
            return out
        preview = copy.deepcopy(lap)
        defs = self.definitions
        runs = copy.deepcopy(self.event_runs)
        events: list[Event] = []
        if self._block:
            t, d, markers, values = _arrays(self._block)
            full = defs.maths.extend(values, t, d)
            self.laps.add_block(preview, t, d, markers, values)
            events += runs.add_block(defs.events, t, d, markers, full)
            child = block_stats(self.sizes[0], self._block_index or 0, lap.number, full, t, lap.start_sim_time, d)
            out.windows.append(self._window_row(child, preview))
            for w in self.sizes[1:]:
                parent = copy.deepcopy(self._parents[w])
                out.windows.append(self._window_row(merge_into(parent, child, w), preview))
        else:
            for w in self.sizes[1:]:
                parent = self._parents[w]
                if parent is not None:
                    out.windows.append(self._window_row(parent, preview))
        if preview.frames > 1:  # a lap is a span: its opening line crossing alone is not one yet
            out.laps.append(self._lap_row(preview, preview.last_sim_time, complete=False))
        events += runs.preview(defs.events)
        out.events += [self._event_row(e, lap.number) for e in events]
        self._report(out)
        return out

    # ------------------------------------------------------------------ aggregation (in sim-time order)
    def _aggregate(self, f: _Pending, out: Outputs) -> None:
        self.released_until = f.sim_time
        lap = self.lap
        if lap is None:
            self.lap = self._start_lap(1 if f.lap <= 0 else f.lap, f)
        elif is_lap_boundary(
            lap, f.markers, f.lap, f.lap_distance, f.sim_time, self._last_distance(lap), self.settings.min_lap_s
        ):
            self._close_block(out, final=True)
            ended = self.event_runs.close_lap(self.definitions.events, f.sim_time)
            out.events += [self._event_row(e, lap.number) for e in ended]
            power = float(f.values[self.laps.i_power]) if self.laps.i_power is not None else float("nan")
            self.laps.close_boundary(lap, f.sim_time, f.lap_distance, power)
            out.laps.append(self._lap_row(lap, f.sim_time, complete=lap.started_at_line))
            self.laps_done += 1
            number = f.lap if f.lap > lap.header_lap else lap.number + 1
            self.lap = self._start_lap(number, f)
            self._report(out)
        index = int(np.floor(f.sim_time * 1000 / self.sizes[0]))
        if self._block and index != self._block_index:
            self._close_block(out, final=False)
        self._block_index = index
        self._block.append(f)

    def _open_lap_spans_time(self) -> bool:
        return self.lap is not None and self.lap.frames + len(self._block) > 1

    def _last_distance(self, lap: LapState) -> float:
        if self._block:
            return self._block[-1].lap_distance
        return lap.last.lap_distance if lap.last is not None else 0.0

    def _start_lap(self, number: int, f: _Pending) -> LapState:
        anchor = self.anchor_ms or 0
        lap = self.laps.start(
            number,
            f.lap,
            f.sim_time,
            anchor + round(f.sim_time * 1000),
            starts_at_line(f.markers, f.lap_distance),
            f.lap_distance,
        )
        self._lap_window_base = {}
        return lap

    def _close_block(self, out: Outputs, final: bool) -> None:
        """Emit the smallest window, fold it into the larger ones; ``final`` also closes those."""
        lap = self.lap
        if self._block and lap is not None:
            defs = self.definitions
            t, d, markers, values = _arrays(self._block)
            full = defs.maths.extend(values, t, d)
            for dist, elapsed, ch in self.laps.add_block(lap, t, d, markers, values):
                speed, throttle, brake_pressure, power = _opt(ch)  # in LapAccumulator.profile_names order
                out.profile.append(
                    ProfilePoint(
                        session_id=self.session_id,
                        lap=lap.number,
                        distance=dist,
                        elapsed=elapsed,
                        speed=speed,
                        throttle=throttle,
                        brake_pressure=brake_pressure,
                        power_electrical_total=power,
                    )
                )
            if defs.events.tracks:
                ended = self.event_runs.add_block(defs.events, t, d, markers, full)
                out.events += [self._event_row(e, lap.number) for e in ended]
            child = block_stats(self.sizes[0], self._block_index or 0, lap.number, full, t, lap.start_sim_time, d)
            means = child.means
            out.windows.append(self._window_row(child, lap, means=means))
            if defs.alarms.limits:
                stats = (child.mins, child.maxs, means, child.lasts)
                end = child.start + child.window_ms / 1000.0
                for tr in self.alarm_states.on_window(defs.alarms, child.start, end, stats):
                    out.alerts.append(self._alert_row(tr, lap.number, child.last_lap_distance))
            for w in self.sizes[1:]:
                parent = self._parents[w]
                if parent is not None and (parent.index != parent_index(child, w) or parent.lap != child.lap):
                    out.windows.append(self._window_row(parent, lap, parent.lap))
                    parent = None
                    if w == self.sizes[-1]:
                        self._report(out)  # quality and session rows once per largest window
                self._parents[w] = merge_into(parent, child, w)
            self._block = []
        if final:
            for w in self.sizes[1:]:
                parent = self._parents[w]
                if parent is not None and lap is not None:
                    out.windows.append(self._window_row(parent, lap, parent.lap))
                self._parents[w] = None
            self._report(out)

    def _window_row(
        self, s: WindowStats, lap: LapState, lap_number: int | None = None, means: F32 | None = None
    ) -> WindowRow:
        base = self._lap_window_base.setdefault(s.window_ms, s.index)
        number = lap.number if lap_number is None else lap_number
        mins, maxs, lasts = s.mins, s.maxs, s.lasts
        means = s.means if means is None else means
        maths = None
        n = len(self.catalog.payload_channels)
        if len(mins) > n:
            defs = self.definitions.maths
            values = np.array((mins[n:], maxs[n:], means[n:], lasts[n:]))
            maths = MathsStats(names=defs.names, units=defs.units, values=values)
            mins, maxs, means, lasts = mins[:n], maxs[:n], means[:n], lasts[:n]
        return WindowRow(
            session_id=self.session_id,
            car_id=self.car_id,
            window_ms=s.window_ms,
            lap=number,
            part=window_part(s.index - base),
            ts_ms=(self.anchor_ms or 0) + s.index * s.window_ms,
            window_start=s.start,
            lap_time=s.last_lap_time,
            lap_distance=s.last_lap_distance,
            frame_count=s.frame_count,
            mins=mins,
            maxs=maxs,
            means=means,
            lasts=lasts,
            lap_energy_drawn_kwh=lap.drawn_kws / KWS_PER_KWH,
            lap_energy_regen_kwh=lap.regen_kws / KWS_PER_KWH,
            maths=maths,
        )

    def _ts_ms(self, sim_time: float) -> int:
        return (self.anchor_ms or 0) + round(sim_time * 1000)

    def _event_row(self, e: Event, lap: int) -> EventRow:
        return EventRow(
            session_id=self.session_id,
            lap=lap,
            start_sim_time=e.start_sim_time,
            kind=e.kind,
            corner=e.corner,
            car_id=self.car_id,
            ts_ms=self._ts_ms(e.start_sim_time),
            end_ts_ms=self._ts_ms(e.end_sim_time),
            duration=e.duration,
            start_distance=e.start_distance,
            end_distance=e.end_distance,
            peak=e.peak,
            peak_channel=e.peak_channel,
            complete=e.complete,
            summary=e.summary,
        )

    def _alert_row(self, tr: Transition, lap: int, lap_distance: float) -> AlertRow:
        limit = tr.limit
        return AlertRow(
            session_id=self.session_id,
            sim_time=tr.sim_time,
            limit_name=limit.name,
            kind=tr.kind,
            car_id=self.car_id,
            lap=lap,
            ts_ms=self._ts_ms(tr.sim_time),
            since_sim_time=tr.since,
            lap_distance=lap_distance,
            channel=limit.channel,
            stat=limit.stat,
            value=tr.value * limit.factor,
            threshold=limit.threshold * limit.factor,
            unit=limit.unit,
            severity=limit.severity,
            summary=tr.summary,
        )

    def _lap_row(self, lap: LapState, end_sim_time: float, complete: bool) -> LapRow:
        f = self.laps.summary(lap, end_sim_time, complete)
        return LapRow(
            session_id=self.session_id,
            car_id=self.car_id,
            lap=lap.number,
            start_sim_time=lap.start_sim_time,
            end_sim_time=end_sim_time,
            start_ts_ms=lap.start_ts_ms,
            lap_time=f.lap_time,
            distance=f.distance,
            frames=f.frames,
            complete=complete,
            invalidated=f.invalidated,
            max_speed=f.max_speed,
            mean_speed=f.mean_speed,
            energy_drawn_kwh=f.energy_drawn_kwh,
            energy_regen_kwh=f.energy_regen_kwh,
            energy_net_kwh=f.energy_net_kwh,
            sector_times=f.sector_times,
            mins=f.mins,
            maxs=f.maxs,
        )

    # ------------------------------------------------------------------ quality and session rows
    def quality(self) -> QualityRow:
        s = self.tracker.stats
        return QualityRow(
            session_id=self.session_id,
            frames_received=s.received,
            frames_lost=s.lost,
            frames_duplicated=s.duplicated,
            frames_late=self.late,
            frames_out_of_order=max(0, s.out_of_order - self.late),
            first_seq=s.first,
            last_seq=s.highest,
        )

    def _report(self, out: Outputs) -> None:
        out.quality.append(self.quality())
        out.sessions.append(
            SessionRow(
                session_id=self.session_id,
                car_id=self.car_id,
                catalog_hash=f"{self.sender_catalog_hash:08x}",
                started_at_ms=self.anchor_ms or 0,
                last_frame_at_ms=self.last_received_ms,
                first_sim_time=self.first_sim_time or 0.0,
                last_sim_time=self.released_until if self.released_until > float("-inf") else 0.0,
                frames=self.tracker.stats.received,
                laps=self.laps_done + (1 if self._open_lap_spans_time() else 0),
            )
        )


def _arrays(block: list[_Pending]) -> tuple[F64, F64, npt.NDArray[np.int64], F32]:
    """A block of frames as arrays: session times, lap distances, markers, values (frames x payload)."""
    t = np.array([p.sim_time for p in block])
    d = np.array([p.lap_distance for p in block])
    markers = np.array([p.markers for p in block], dtype=np.int64)
    return t, d, markers, np.vstack([p.values for p in block])


def _opt(ch: F32) -> tuple[float | None, ...]:
    return tuple(None if np.isnan(v) else float(v) for v in ch)
