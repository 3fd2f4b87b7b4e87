"""What session processing produces: rows for Cassandra and messages for Kafka.

Plain dataclasses with numpy vectors in catalog payload order; the storage layer turns them into
CQL parameters and the Kafka layer into JSON, so processing knows neither. Records are built by
keyword: with a dozen same-typed fields, position is how values end up in the wrong column.

A field's metadata (``p424.storage.columns``) says where it is stored when that is not the column
of its own name; ``p424.storage.writes`` derives each table's INSERT from these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from p424.storage.columns import NOT_STORED, channel_stat, column

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, kw_only=True)
class FrameRow:
    session_id: int
    seq: int
    sim_time: float
    lap: int
    lap_distance: float
    markers: int
    frame: bytes


@dataclass(frozen=True, kw_only=True)
class MathsStats:
    """A window's maths-channel statistics, named: the layout travels with the values, so a row
    stays readable whatever the maths file says later (``p424.storage.maths_stats``)."""

    names: tuple[str, ...]
    units: tuple[str, ...]
    values: F32  # (statistic, channel): rows in WINDOW_STATS order (min, max, mean, last)


@dataclass(frozen=True, kw_only=True)
class WindowRow:
    session_id: int
    car_id: int = field(metadata=NOT_STORED)
    window_ms: int
    lap: int
    part: int
    ts_ms: int = field(metadata=column("ts"))
    window_start: float
    lap_time: float
    lap_distance: float
    frame_count: int
    mins: F32 = field(metadata=channel_stat("min"))
    maxs: F32 = field(metadata=channel_stat("max"))
    means: F32 = field(metadata=channel_stat("mean"))
    lasts: F32 = field(metadata=channel_stat("last"))
    # Running lap totals at the window's end, for live consumers (the stored lap row has the final ones).
    lap_energy_drawn_kwh: float = field(metadata=NOT_STORED)
    lap_energy_regen_kwh: float = field(metadata=NOT_STORED)
    # Maths channels (config/maths_channels.toml): stored in their own blob and, for the
    # WINDOW_COLUMNS_MS sizes, as <name>_<stat> columns (p424.storage.writes derives both).
    maths: MathsStats | None = field(default=None, metadata=NOT_STORED)


@dataclass(frozen=True, kw_only=True)
class LapRow:
    session_id: int
    car_id: int
    lap: int
    start_sim_time: float
    end_sim_time: float
    start_ts_ms: int = field(metadata=column("start_ts"))
    lap_time: float
    distance: float
    frames: int
    complete: bool
    invalidated: bool
    max_speed: float | None
    mean_speed: float | None
    energy_drawn_kwh: float | None
    energy_regen_kwh: float | None
    energy_net_kwh: float | None
    sector_times: list[float]
    mins: F32 = field(metadata=channel_stat("min"))  # key channels, catalog order
    maxs: F32 = field(metadata=channel_stat("max"))


@dataclass(frozen=True, kw_only=True)
class ProfilePoint:
    session_id: int
    lap: int
    distance: int
    elapsed: float
    speed: float | None
    throttle: float | None
    brake_pressure: float | None
    power_electrical_total: float | None


@dataclass(frozen=True, kw_only=True)
class QualityRow:
    session_id: int
    frames_received: int
    frames_lost: int
    frames_duplicated: int
    frames_late: int
    frames_out_of_order: int
    first_seq: int
    last_seq: int


@dataclass(frozen=True, kw_only=True)
class SessionRow:
    session_id: int
    car_id: int
    catalog_hash: str
    started_at_ms: int = field(metadata=column("started_at"))
    last_frame_at_ms: int = field(metadata=column("last_frame_at"))
    first_sim_time: float
    last_sim_time: float
    frames: int
    laps: int


@dataclass(frozen=True, kw_only=True)
class EventRow:
    """A lap event (p424.derived.events): keyed by session, lap, start, kind and corner, so rewriting
    it (a replay, or the complete row after a provisional one) leaves one row."""

    session_id: int
    lap: int
    start_sim_time: float
    kind: str
    corner: str  # fl, fr, rl, rr; empty for the whole car
    car_id: int
    ts_ms: int = field(metadata=column("ts"))  # session wall clock of the start
    end_ts_ms: int = field(metadata=column("end_ts"))
    duration: float  # s, from the first frame of the event to the first frame after it
    start_distance: float  # m, lap distance of the first frame
    end_distance: float  # m, lap distance of the last frame
    peak: float | None  # most extreme value of peak_channel during the event, in its stored unit
    peak_channel: str
    complete: bool  # False: still open when the session went silent (a later row replaces it)
    summary: str  # one line for people: lap table, Grafana annotations


@dataclass(frozen=True, kw_only=True)
class AlertRow:
    """An alarm transition (p424.derived.alarms): keyed by session, session time, limit and kind."""

    session_id: int
    sim_time: float  # session time the transition was decided: the end of the deciding window
    limit_name: str
    kind: str  # raise | clear
    car_id: int
    lap: int
    ts_ms: int = field(metadata=column("ts"))  # session wall clock of sim_time
    since_sim_time: float  # start of the run of windows that led to it
    lap_distance: float
    channel: str
    stat: str  # the window statistic compared
    value: float  # that statistic in the deciding window, in ``unit``
    threshold: float  # the limit, in ``unit``
    unit: str  # as the alarms file writes the limit
    severity: str
    summary: str


Output = FrameRow | WindowRow | LapRow | ProfilePoint | QualityRow | SessionRow | EventRow | AlertRow


@dataclass
class Outputs:
    """Everything one call into a session processor produced, grouped by kind."""

    frames: list[FrameRow] = field(default_factory=list)
    windows: list[WindowRow] = field(default_factory=list)
    laps: list[LapRow] = field(default_factory=list)
    profile: list[ProfilePoint] = field(default_factory=list)
    quality: list[QualityRow] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)

    def __setstate__(self, state: dict[str, object]) -> None:
        # Outputs checkpointed before events and alerts existed (pending in SessionState).
        self.__dict__.update({"events": [], "alerts": [], **state})

    def extend(self, other: Outputs) -> None:
        self.frames += other.frames
        self.windows += other.windows
        self.laps += other.laps
        self.profile += other.profile
        self.quality += other.quality
        self.sessions += other.sessions
        self.events += other.events
        self.alerts += other.alerts

    def __len__(self) -> int:
        return (
            len(self.frames)
            + len(self.windows)
            + len(self.laps)
            + len(self.profile)
            + len(self.quality)
            + len(self.sessions)
            + len(self.events)
            + len(self.alerts)
        )
