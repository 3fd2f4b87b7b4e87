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
archive (``p424.archive``: gold laps and quality, bronze frames, silver profiles, windows
recomputed from silver as the stream computed them) once they have expired there, or when asked:
``get_session(id, source="archive")``. Both give the same laps, telemetry, positions and profiles
(``p424/analysis/sources.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from p424.analysis import minisectors
from p424.analysis.minisectors import MiniSectorSettings, TheoreticalBest
from p424.analysis.sources import SOURCES, ArchiveData, SessionData
from p424.catalog import CATALOG
from p424.codec.frame import decode_values_many
from p424.storage.reader import TelemetryStore

if TYPE_CHECKING:
    from p424.archive.reader import ArchiveReader

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
            tel = session._raw(float(self["StartSessionTime"]), float(self["EndSessionTime"]), channels, end_included)
        elif source == "windows":
            tel = session._windows(lap_no, window_ms, channels, stat)
        else:
            raise ValueError("source must be 'windows' or 'raw'")
        tel.session_id, tel.lap_number, tel.source = session.session_id, lap_no, source
        return tel.decimate(decimate) if decimate else tel

    def get_frames(self, channels: Sequence[str] | None = None) -> Telemetry:
        """Every frame of the lap with its header: SessionTime, LapTime, Distance, Sequence (the
        session's frame counter), Lap (the sender's lap number), Markers, then the channels."""
        session: Session = self.session
        end_included = not bool(self["Complete"])
        tel = session._raw(
            float(self["StartSessionTime"]), float(self["EndSessionTime"]), channels, end_included, header=True
        )
        tel.session_id, tel.lap_number, tel.source = session.session_id, int(self["LapNumber"]), "raw"
        return tel

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

    def iterlaps(self) -> Iterator[tuple[Any, Lap]]:
        """(index, Lap) for every row, as FastF1's ``Laps.iterlaps``."""
        for index, row in self.iterrows():
            yield index, self._as_lap(row)

    def mini_sectors(self, settings: MiniSectorSettings | None = None) -> pd.DataFrame:
        """Every complete lap's time in every mini-sector, classified (``p424.analysis.minisectors``):
        SessionId, LapNumber, CarId, Invalidated, MiniSector, StartDistance and EndDistance (m), Time,
        SessionBest and PersonalBest (s), Status. Settings default to MINI_SECTORS / MINI_SECTOR_LENGTH_M."""
        return mini_sectors([lap for _, lap in self.iterlaps()], settings)


class Session:
    """A stored session. ``source`` "auto" reads Cassandra while it holds the session's frames and
    windows (they expire with their retention), the archive once it no longer does; "cassandra" or
    "archive" chooses. Every read goes through ``data`` (``p424.analysis.sources.SessionData``)."""

    def __init__(
        self,
        session_id: int,
        store: TelemetryStore,
        source: str = "auto",
        archive: ArchiveReader | None = None,
    ) -> None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        self.session_id = session_id
        self.store = store
        info = store.session_row(session_id) if source != "archive" else None
        if source == "auto":
            hot = info is not None and store.holds_session(info)
            archived = not hot and _archive(store, archive).record(session_id) is not None
            source = "archive" if archived else "cassandra"
        self.data: SessionData = store if source == "cassandra" else ArchiveData(_archive(store, archive), store.cfg)
        if source == "archive":
            info = self.data.session_row(session_id)
        if info is None:
            where = "archived" if source == "archive" else "stored"
            raise KeyError(f"session {session_id} is not {where} (./launchcommand.sh sessions lists them)")
        self.source = source
        self.info: dict[str, Any] = info
        self._laps: Laps | None = None

    @property
    def track(self) -> str:
        """The track the session was driven on, as its sender recorded it ("" when unknown)."""
        return str(self.info.get("track") or "")

    @property
    def quality(self) -> dict[str, Any]:
        return self.data.quality(self.session_id) or {}

    @property
    def laps(self) -> Laps:
        if self._laps is None:
            rows = self.data.laps(self.session_id)
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
                df = df.drop(columns=["session_id"]).sort_values("LapNumber").reset_index(drop=True)
            laps = Laps(df)
            laps.session = self
            self._laps = laps
        return self._laps

    def _windows(self, lap: int, window_ms: int, channels: Sequence[str] | None, stat: str) -> Telemetry:
        names = list(channels) if channels else list(CATALOG.payload_names)
        block = self.data.window_blocks([(self.session_id, lap)], window_ms, [stat], names)[(self.session_id, lap)]
        out = pd.DataFrame(
            {
                "Date": pd.to_datetime(block.ts_ms, unit="ms", utc=True),
                "SessionTime": block.window_start,
                "LapTime": block.lap_time,
                "Distance": block.lap_distance,
            }
        )
        values = pd.DataFrame(block.values[stat], columns=names, index=out.index)
        return Telemetry(pd.concat([out, values], axis=1))

    def _raw(
        self,
        start: float,
        end: float,
        channels: Sequence[str] | None,
        end_included: bool = False,
        header: bool = False,
    ) -> Telemetry:
        names = list(channels) if channels else list(CATALOG.payload_names)
        unknown = [c for c in names if c not in CATALOG.payload_index]
        if unknown:
            raise KeyError(f"not payload channels of catalog {CATALOG.version}: {', '.join(unknown)}")
        idx = [CATALOG.payload_index[c] for c in names]
        rows = [
            r
            for r in self.data.frames(self.session_id, start, end)
            if end_included or r["sim_time"] < end  # not the next lap's first frame
        ]
        data = decode_values_many([r["frame"] for r in rows])[:, idx] if rows else np.empty((0, len(names)))
        times = [r["sim_time"] for r in rows]
        dists = [r["lap_distance"] for r in rows]
        out = pd.DataFrame(data.astype("float64"), columns=names)
        if header:
            out.insert(0, "Markers", np.array([r["markers"] for r in rows], dtype=np.int64))
            out.insert(0, "Lap", np.array([r["lap"] for r in rows], dtype=np.int64))
            out.insert(0, "Sequence", np.array([r["seq"] for r in rows], dtype=np.int64))
        out.insert(0, "Distance", dists)
        out.insert(0, "LapTime", np.asarray(times) - start)
        out.insert(0, "SessionTime", times)
        return Telemetry(out.sort_values("SessionTime", kind="stable").reset_index(drop=True))

    def profile(self, lap: int) -> pd.DataFrame:
        df = pd.DataFrame(self.data.profiles([(self.session_id, lap)])[(self.session_id, lap)])
        keys = [c for c in ("session_id", "lap", "sim_time") if c in df.columns]  # silver's rows also carry sim_time
        return df.drop(columns=keys)

    def theoretical_best(self, settings: MiniSectorSettings | None = None) -> TheoreticalBest:
        """The sum of the session's best mini-sector times, against its fastest lap (``minisectors``)."""
        return minisectors.theoretical_best(self.laps.mini_sectors(settings))


def by_source(laps: Sequence[Lap]) -> list[tuple[SessionData, list[tuple[int, int]]]]:
    """Laps of any sessions grouped by the store each is read from, as (source, lap keys)."""
    groups: dict[int, tuple[SessionData, list[tuple[int, int]]]] = {}
    for lap in laps:
        session: Session = lap.session
        _, keys = groups.setdefault(id(session.data), (session.data, []))
        keys.append((session.session_id, int(lap["LapNumber"])))
    return list(groups.values())


def _archive(store: TelemetryStore, archive: ArchiveReader | None) -> ArchiveReader:
    if archive is not None:
        return archive
    from p424.archive import ArchiveReader, ArchiveStore

    return ArchiveReader(ArchiveStore.from_config(store.cfg))


def get_session(
    session_id: int, store: TelemetryStore | None = None, source: str = "auto", archive: ArchiveReader | None = None
) -> Session:
    """A stored session: from Cassandra while it holds the session's frames and windows, else from the
    archive (``source`` "cassandra" or "archive" to choose)."""
    return Session(session_id, store or TelemetryStore(), source, archive)


def list_sessions(store: TelemetryStore | None = None) -> pd.DataFrame:
    store = store or TelemetryStore()
    df = pd.DataFrame(store.sessions())
    return df.sort_values("started_at", ascending=False).reset_index(drop=True) if not df.empty else df


LAP_KEY_COLUMNS = ("SessionId", "LapNumber", "CarId", "LapTimeSeconds", "Distance", "Complete", "Invalidated")


def lap_keys(laps: Sequence[Lap]) -> pd.DataFrame:
    """What identifies and times each lap, across sessions: SessionId, LapNumber, CarId,
    LapTimeSeconds, Distance, Complete, Invalidated."""
    rows = [
        {
            "SessionId": lap.session.session_id,
            "LapNumber": int(lap["LapNumber"]),
            "CarId": lap.get("CarId"),
            "LapTimeSeconds": float(lap["LapTimeSeconds"]),
            "Distance": float(lap["Distance"]),
            "Complete": bool(lap["Complete"]),
            "Invalidated": bool(lap.get("Invalidated") or False),
        }
        for lap in laps
    ]
    return pd.DataFrame(rows, columns=list(LAP_KEY_COLUMNS))


def profiles(laps: Sequence[Lap]) -> dict[tuple[int, int], pd.DataFrame]:
    """The stored distance profiles of laps of any sessions: ``distance`` (m) and ``elapsed`` (s)."""
    if not laps:
        return {}
    columns = ("distance", "elapsed")
    rows = {k: v for data, group in by_source(laps) for k, v in data.profiles(group, columns).items()}
    return {
        key: pd.DataFrame({c: np.array([r[c] for r in found], dtype=np.float64) for c in columns})
        for key, found in rows.items()
    }


def mini_sectors(
    laps: Sequence[Lap], settings: MiniSectorSettings | None = None, track_length_m: float | None = None
) -> pd.DataFrame:
    """Mini-sector times of laps of any sessions, classified against each other (``minisectors``).

    The track length defaults to the median distance of the complete laps given.
    """
    table = lap_keys(laps)
    complete = table[table["Complete"]]
    if complete.empty:
        return minisectors.empty_table()
    settings = settings or MiniSectorSettings.from_config(laps[0].session.store.cfg)
    length = track_length_m if track_length_m is not None else minisectors.track_length(complete["Distance"])
    cuts = minisectors.layout(length, settings)
    done = [lap for lap in laps if bool(lap["Complete"])]
    return minisectors.classify(minisectors.mini_sector_times(complete, profiles(done), cuts))


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
