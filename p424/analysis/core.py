"""Stored telemetry as pandas, shaped like FastF1: session -> laps -> lap -> telemetry.

    session = get_session(253283429522628666)
    laps = session.laps                      # Laps (DataFrame): one row per lap
    lap = laps.pick_fastest()                # Lap (Series)
    tel = lap.get_telemetry(channels=["speed", "throttle"])   # Telemetry (DataFrame) with Distance
    cmp = compare_laps(laps.pick_lap(2), laps.pick_lap(3))    # aligned by distance, with Delta

Time axes (see README, "Time axes"): ``SessionTime`` is the session clock (sim time, s);
``LapTime`` the time since the lap started (s); ``Date`` the session wall clock (the session's
anchor plus its session time). ``Distance`` is the lap distance from the start line (m).
Units are SI as in the channel catalog (``Telemetry.units``).

A session comes from Cassandra while it holds the session's frames and windows, and from the
archive (``p424.archive``: gold laps and quality, silver frames, windows recomputed from them as
the stream computed them) once they have expired there, or when asked: ``get_session(id,
source="archive")``. Both give the same laps, telemetry, positions and distance profiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from p424.catalog import CATALOG
from p424.codec.frame import decode_frame
from p424.storage.reader import TelemetryStore

if TYPE_CHECKING:
    from p424.archive.reader import ArchiveReader

SOURCES = ("auto", "cassandra", "archive")
ARCHIVE_ONLY_COLUMNS = ("track", "track_name", "date")  # gold lap rows carry their session's partition

# FastF1's position axes -> catalog channels (Unity's y is up: the track plane is its x and z).
POSITION_AXES = {"X": "position_x", "Y": "position_z", "Z": "position_y"}

LAP_COLUMNS = {
    "lap": "LapNumber",
    "car_id": "CarId",
    "lap_time": "LapTimeSeconds",
    "distance": "Distance",
    "complete": "Complete",
    "invalidated": "Invalidated",
    "frames": "Frames",
    "max_speed": "MaxSpeed",
    "mean_speed": "MeanSpeed",
    "energy_drawn_kwh": "EnergyDrawnKWh",
    "energy_regen_kwh": "EnergyRegenKWh",
    "energy_net_kwh": "EnergyNetKWh",
    "start_sim_time": "StartSessionTime",
    "end_sim_time": "EndSessionTime",
    "start_ts": "StartDate",
}


class Telemetry(pd.DataFrame):  # type: ignore[misc]
    """Samples of one lap: SessionTime, LapTime, Distance and catalog channels (SI units)."""

    _metadata = ["session_id", "lap_number", "source"]

    @property
    def _constructor(self) -> type[Telemetry]:
        return Telemetry

    @property
    def units(self) -> dict[str, str]:
        base = {"SessionTime": "s", "LapTime": "s", "Distance": "m", "X": "m", "Y": "m", "Z": "m"}
        return {c: base.get(c) or (CATALOG.by_name[c].unit if c in CATALOG.by_name else "") for c in self.columns}

    def decimate(self, every: int) -> Telemetry:
        return self.iloc[::every]  # type: ignore[no-any-return]


class Lap(pd.Series):  # type: ignore[misc]
    _metadata = ["session"]

    @property
    def _constructor(self) -> type[Lap]:
        return Lap

    @property
    def _constructor_expanddim(self) -> type[Laps]:
        return Laps

    def get_telemetry(
        self,
        channels: Sequence[str] | None = None,
        source: str = "windows",
        window_ms: int = 100,
        stat: str = "mean",
        decimate: int | None = None,
    ) -> Telemetry:
        """The lap's samples: ``source="windows"`` (window ``stat`` per channel) or ``"raw"`` (every frame)."""
        session: Session = self.session
        lap_no = int(self["LapNumber"])
        if source == "raw":
            # A complete lap ends where the next one starts; an open lap ends at its last frame.
            end_included = not bool(self["Complete"])
            start, end = float(self["StartSessionTime"]), float(self["EndSessionTime"])
            tel = session._raw(lap_no, start, end, channels, end_included)
        elif source == "windows":
            tel = session._windows(lap_no, window_ms, channels, stat)
        else:
            raise ValueError("source must be 'windows' or 'raw'")
        tel.session_id, tel.lap_number, tel.source = session.session_id, lap_no, source
        return tel.decimate(decimate) if decimate else tel

    def get_pos_data(self, source: str = "raw", window_ms: int = 100) -> Telemetry:
        """The car's position during the lap, shaped like FastF1's: X, Y (the track plane), Z
        (height), Distance, SessionTime, LapTime and, from windows, Date; metres.

        The simulator's world is Unity's, with y up: X is its x, Y its z and Z its y, so plotting
        Y against X draws the track map as seen from above. Samples without a position (a sender
        that has none, or a catalog version before 1.1.0) are left out.
        """
        stat = "last"  # a window's position is where the car was at its end, not an average of the path
        tel = self.get_telemetry(list(POSITION_AXES.values()), source=source, window_ms=window_ms, stat=stat)
        pos = tel.rename(columns={channel: axis for axis, channel in POSITION_AXES.items()})
        pos = pos.dropna(subset=list(POSITION_AXES)).reset_index(drop=True)
        keep = [c for c in ("Date", "SessionTime", "LapTime", "Distance", *POSITION_AXES) if c in pos.columns]
        out = Telemetry(pos[keep])
        out.session_id, out.lap_number, out.source = tel.session_id, tel.lap_number, source
        return out


class Laps(pd.DataFrame):  # type: ignore[misc]
    _metadata = ["session"]

    @property
    def _constructor(self) -> type[Laps]:
        return Laps

    @property
    def _constructor_sliced(self) -> type[Lap]:
        return Lap

    def pick_lap(self, number: int) -> Lap:
        rows = self[self["LapNumber"] == number]
        if rows.empty:
            raise KeyError(f"no lap {number}; laps: {list(self['LapNumber'])}")
        return self._as_lap(rows.iloc[0])

    def pick_complete(self) -> Laps:
        return self[self["Complete"]]  # type: ignore[no-any-return]

    def pick_fastest(self) -> Lap:
        complete = self.pick_complete()
        if complete.empty:
            raise ValueError("no complete lap in this session")
        return self._as_lap(complete.loc[complete["LapTimeSeconds"].idxmin()])

    def _as_lap(self, row: pd.Series) -> Lap:
        lap = Lap(row)
        lap.session = self.session
        return lap


class Session:
    def __init__(
        self,
        session_id: int,
        store: TelemetryStore,
        source: str = "auto",
        archive: ArchiveReader | None = None,
    ) -> None:
        """``source``: "cassandra", "archive", or "auto" (Cassandra while it holds the session's
        frames and windows, else the archive)."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        self.session_id = session_id
        self.store = store
        self._archive = archive
        info = store.session_row(session_id) if source != "archive" else None
        if source == "auto":
            hot = info is not None and store.holds_session(info)
            source = "archive" if not hot and self.archive.record(session_id) is not None else "cassandra"
        if source == "archive":
            info = self.archive.session_row(session_id)
            if info is None:
                raise KeyError(f"session {session_id} is not archived (nor stored in Cassandra)")
        if info is None:
            raise KeyError(f"session {session_id} is not stored (./launchcommand.sh sessions lists them)")
        self.source = source
        self.info: dict[str, Any] = info
        self._laps: Laps | None = None

    @property
    def archive(self) -> ArchiveReader:
        if self._archive is None:
            from p424.archive import ArchiveReader, ArchiveStore

            self._archive = ArchiveReader(ArchiveStore.from_config(self.store.cfg))
        return self._archive

    @property
    def from_archive(self) -> bool:
        return self.source == "archive"

    @property
    def quality(self) -> dict[str, Any]:
        if self.from_archive:
            return self.archive.quality(self.session_id) or {}
        return self.store.quality(self.session_id) or {}

    @property
    def laps(self) -> Laps:
        if self._laps is None:
            rows = self.archive.laps(self.session_id) if self.from_archive else self.store.laps(self.session_id)
            df = (
                pd.DataFrame(rows).rename(columns=LAP_COLUMNS)
                if rows
                else pd.DataFrame(columns=list(LAP_COLUMNS.values()))
            )
            if not df.empty:
                df["LapTime"] = pd.to_timedelta(df["LapTimeSeconds"], unit="s")
                sectors = df.pop("sector_times") if "sector_times" in df else None
                if sectors is not None:
                    for i in range(max((len(s or []) for s in sectors), default=0)):
                        df[f"Sector{i + 1}Time"] = [
                            pd.Timedelta(seconds=s[i]) if s and len(s) > i else pd.NaT for s in sectors
                        ]
                drop = ["session_id", *(c for c in ARCHIVE_ONLY_COLUMNS if c in df.columns)]
                df = df.drop(columns=drop).sort_values("LapNumber").reset_index(drop=True)
            laps = Laps(df)
            laps.session = self
            self._laps = laps
        return self._laps

    def _windows(self, lap: int, window_ms: int, channels: Sequence[str] | None, stat: str) -> Telemetry:
        names = list(channels) if channels else list(CATALOG.payload_names)
        cols = [f"{c}_{stat}" for c in names]
        source = self.archive if self.from_archive else self.store
        rows = source.windows(self.session_id, lap, window_ms, cols)
        df = pd.DataFrame(rows)
        if df.empty:
            return Telemetry(columns=["Date", "SessionTime", "LapTime", "Distance", *names])
        out = pd.DataFrame(
            {
                "Date": pd.to_datetime(df["ts"], utc=True),
                "SessionTime": df["window_start"],
                "LapTime": df["lap_time"],
                "Distance": df["lap_distance"],
            }
        )
        for c in names:
            out[c] = df[f"{c}_{stat}"].astype("float64")
        return Telemetry(out)

    def _raw(
        self, lap: int, start: float, end: float, channels: Sequence[str] | None, end_included: bool = False
    ) -> Telemetry:
        names = list(channels) if channels else list(CATALOG.payload_names)
        if self.from_archive:
            return self._raw_archive(lap, start, names)
        idx = [CATALOG.payload_index[c] for c in names]
        times, dists, values = [], [], []
        for row in self.store.frames(self.session_id, start, end):
            if row["sim_time"] >= end and not end_included:
                continue  # the next lap's first frame
            f = decode_frame(row["frame"])
            times.append(f.header.sim_time)
            dists.append(f.header.lap_distance)
            values.append(f.values[idx])
        data = np.vstack(values) if values else np.empty((0, len(names)))
        out = pd.DataFrame(data.astype("float64"), columns=names)
        out.insert(0, "Distance", dists)
        out.insert(0, "LapTime", np.asarray(times) - start)
        out.insert(0, "SessionTime", times)
        return Telemetry(out.sort_values("SessionTime").reset_index(drop=True))

    def _raw_archive(self, lap: int, start: float, names: list[str]) -> Telemetry:
        """The lap's archived frames (silver): exactly the frames the Cassandra read gives."""
        t = self.archive.lap_frames(self.session_id, lap, ["sim_time", "lap_distance", *names]).to_pandas()
        out = pd.DataFrame({"SessionTime": t["sim_time"], "LapTime": t["sim_time"] - start})
        out["Distance"] = t["lap_distance"]
        for c in names:
            out[c] = t[c].astype("float64")
        return Telemetry(out.sort_values("SessionTime", kind="stable").reset_index(drop=True))

    def profile(self, lap: int) -> pd.DataFrame:
        """The lap every 10 m: distance, elapsed and channels (from the archive: every channel)."""
        if self.from_archive:
            df = self.archive.lap_distance(self.session_id, lap).to_pandas()
            return df.drop(columns=["session_id", "lap", "sim_time"])
        df = pd.DataFrame(self.store.profile(self.session_id, lap))
        return df.drop(columns=["session_id", "lap"]) if not df.empty else df


def get_session(
    session_id: int, store: TelemetryStore | None = None, source: str = "auto", archive: ArchiveReader | None = None
) -> Session:
    """A stored session: from Cassandra while it holds the session's frames and windows, else from
    the archive (``source`` "cassandra" or "archive" to choose)."""
    return Session(session_id, store or TelemetryStore(), source, archive)


def list_sessions(store: TelemetryStore | None = None) -> pd.DataFrame:
    store = store or TelemetryStore()
    df = pd.DataFrame(store.sessions())
    return df.sort_values("started_at", ascending=False).reset_index(drop=True) if not df.empty else df


def delta_time(reference: Lap, compare: Lap) -> pd.DataFrame:
    """Time of ``compare`` minus time of ``reference`` at every stored profile distance (negative: ahead)."""
    return compare_laps(reference, compare, channels=())[["Distance", "Delta"]]


def compare_laps(
    reference: Lap,
    compare: Lap,
    channels: Sequence[str] = ("speed", "throttle", "brake_pressure", "power_electrical_total"),
) -> pd.DataFrame:
    """Two laps aligned by distance (the stored profile, every ``PROFILE_STEP_M``): lap times, channels, Delta."""
    a = reference.session.profile(int(reference["LapNumber"]))
    b = compare.session.profile(int(compare["LapNumber"]))
    if a.empty or b.empty:
        raise ValueError("a lap has no distance profile stored")
    keep = ["distance", "elapsed", *channels]
    merged = a[keep].merge(b[keep], on="distance", suffixes=("_ref", "_cmp"))
    merged = merged.rename(columns={"distance": "Distance", "elapsed_ref": "RefLapTime", "elapsed_cmp": "CmpLapTime"})
    merged["Delta"] = merged["CmpLapTime"] - merged["RefLapTime"]
    return merged
