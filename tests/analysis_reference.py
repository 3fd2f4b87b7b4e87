"""Real laps as frames, and independent pandas computations of what the analysis API answers.

Nothing here uses p424.analysis or p424.export: mini-sector times, bests and colours, the time
delta and channels by distance are recomputed from the frames sent, as a race engineer would in a
notebook.

Two real laps feed the tests:
- tests/data/perrinn424_lap_start_mgu_50hz.csv: the first 22 s of a 2021 Nordschleife lap (upper-case
  headers, SI values), read with the platform's lap-file reader;
- tests/data/perrinn424_training_data_excerpt_15s.csv: the first 15 s of today's simulator export
  (PERRINN/project-424-unity, Assets/Features/AI Speed Estimator/Trainer/data/training_data.csv @
  77288b99ff19: mixed-case headers, a units row, display units). It is read here as upstream's own
  consumer reads it (train_speed_estimator.py: ``pd.read_csv(path, header=0, skiprows=[1])``), each
  column converted from its written unit with p424/units.py and the catalog's axis sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder, FrameHeader
from p424.markers import MARKER_START_LINE
from p424.units import conversion
from unity_bridge.lapfile import read_lap_file

DATA = Path(__file__).resolve().parent / "data"
FIXTURE = DATA / "perrinn424_lap_start_mgu_50hz.csv"
EXCERPT = DATA / "perrinn424_training_data_excerpt_15s.csv"
PROFILE_STEP = 10.0  # the stored profile's step, written here again on purpose (independent of the code)


@dataclass(frozen=True)
class RealLap:
    """One lap's samples: seconds since the lap started, lap distance (m) and channels in stored units."""

    name: str
    time: np.ndarray
    distance: np.ndarray
    channels: pd.DataFrame  # catalog payload channels present in the file

    @property
    def period(self) -> float:
        """Replayed as a stint, one lap lasts to one sample after its last row."""
        return float(self.time[-1] - self.time[0] + np.median(np.diff(self.time)))


def fixture_lap() -> RealLap:
    lap = read_lap_file(FIXTURE)
    channels = pd.DataFrame({k: v for k, v in lap.columns.items() if k in CATALOG.payload_index})
    return RealLap("fixture", lap.lap_time - lap.lap_time[0], lap.columns["lap_distance"], channels)


def excerpt_lap() -> RealLap:
    units = pd.read_csv(EXCERPT, nrows=1, header=0, keep_default_na=False).iloc[0]
    table = pd.read_csv(EXCERPT, header=0, skiprows=[1])
    by_csv = CATALOG.by_csv_column()
    channels = {}
    for column in table.columns:
        channel = by_csv.get(column.upper())
        if channel is None or channel.name not in CATALOG.payload_index or channel.name in channels:
            continue
        factor = conversion(str(units[column]), channel.unit).factor * channel.sim_sign
        values = table[column].to_numpy(np.float64) * factor
        channels[channel.name] = values + 1 if channel.name == "sector" else values  # the file counts sectors from 0
    return RealLap(
        "excerpt",
        table["Time"].to_numpy(np.float64),
        table["Distance"].to_numpy(np.float64),
        pd.DataFrame(channels),
    )


def warped(lap: RealLap, amplitude: float, phase: float) -> RealLap:
    """The lap driven a little differently: time stretched by 1 + a sin(2 pi d / L + phase) along the lap,
    so it gains in some mini-sectors and loses in others."""
    length = float(lap.distance[-1])
    dt = np.diff(lap.time)
    factor = 1 + amplitude * np.sin(2 * np.pi * lap.distance[1:] / length + phase)
    return RealLap(lap.name, np.concatenate(([0.0], np.cumsum(dt * factor))), lap.distance, lap.channels)


def stint_frames(laps: list[RealLap], session_id: int, car_id: int) -> tuple[list[bytes], pd.DataFrame]:
    """The laps one after the other as frames, as replay sends them (the first row of each lap marked
    as the start-line crossing, the last lap closed by the first row once more), and the same samples
    as a table: sim_time, lap, lap_distance, markers, seq and the channels."""
    rows = []
    t0 = 0.0
    for k, lap in enumerate(laps, start=1):
        for i in range(len(lap.time)):
            rows.append((t0 + lap.time[i], k, lap.distance[i], MARKER_START_LINE if i == 0 else 0, lap, i))
        t0 += lap.period
    first = laps[0]
    rows.append((t0, len(laps) + 1, first.distance[0], MARKER_START_LINE, first, 0))
    names = list(CATALOG.payload_names)
    present = np.zeros(len(names), dtype=bool)
    for lap in laps:
        present |= np.isin(names, lap.channels.columns)
    encoder = FrameEncoder(present)
    frames, table = [], []
    for seq, (t, number, d, markers, lap, i) in enumerate(rows):
        values = np.full(len(names), np.nan, dtype=np.float32)
        for name, v in lap.channels.iloc[i].items():
            values[CATALOG.payload_index[str(name)]] = v
        header = FrameHeader(
            car_id=car_id,
            session_id=session_id,
            sequence=seq,
            sim_time=float(t),
            lap=number,
            lap_distance=float(d),
            markers=markers,
        )
        frames.append(encoder.encode(header, np.nan_to_num(values)))
        table.append(
            {
                "sim_time": float(t),
                "lap": number,
                "lap_distance": float(d),
                "markers": markers,
                "seq": seq,
                **{n: float(values[j]) for j, n in enumerate(names) if present[j]},
            }
        )
    return frames, pd.DataFrame(table)


# ---------------------------------------------------------------- reference computations
def lap_spans(df: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Each complete lap's frames (a lap is complete when the next one has started)."""
    laps = sorted(df["lap"].unique())
    return {int(n): df[df["lap"] == n] for n in laps if (df["lap"] == n + 1).any() and (df["lap"] == n).sum() > 1}


def lap_times(df: pd.DataFrame) -> dict[int, float]:
    starts = df.groupby("lap")["sim_time"].min()
    return {n: float(starts[n + 1] - starts[n]) for n in lap_spans(df)}


def lap_lengths(df: pd.DataFrame) -> dict[int, float]:
    """Distance driven in each complete lap, to the next lap's first frame (a reset counts its new distance)."""
    out = {}
    for n, g in lap_spans(df).items():
        d = np.concatenate((g["lap_distance"].to_numpy(), df[df["lap"] == n + 1]["lap_distance"].head(1).to_numpy()))
        step = np.diff(d)
        out[n] = float(np.where(step < -100, d[1:], np.maximum(step, 0)).sum())
    return out


def edges(track_length: float, count: int) -> np.ndarray:
    """Equal mini-sectors, interior boundaries rounded to the 10 m profile grid, the finish last."""
    inner = [round(k * track_length / count / PROFILE_STEP) * PROFILE_STEP for k in range(1, count)]
    return np.array([0.0, *inner, track_length])


def mini_sector_times(df: pd.DataFrame, cuts: np.ndarray, session_id: int, car_id: int) -> pd.DataFrame:
    """Time in each mini-sector of each complete lap: crossing times interpolated in the lap's own
    frames; the finish is the next lap's first frame."""
    rows = []
    ends = lap_times(df)
    for n, g in lap_spans(df).items():
        t = g["sim_time"].to_numpy() - g["sim_time"].iloc[0]
        at = np.interp(cuts[1:-1], g["lap_distance"].to_numpy(), t)
        crossing = np.concatenate(([0.0], at, [ends[n]]))
        for k, dt in enumerate(np.diff(crossing), start=1):
            rows.append({"SessionId": session_id, "CarId": car_id, "LapNumber": n, "MiniSector": k, "Time": dt})
    return pd.DataFrame(rows)


def classified(times: pd.DataFrame, tie: float = 1e-6) -> pd.DataFrame:
    """Purple for the best of everyone, green for the car's own best, yellow otherwise."""
    out = times.copy()
    session_best = out.groupby("MiniSector")["Time"].min()
    personal = out.groupby(["CarId", "MiniSector"])["Time"].min()
    status = []
    for r in out.itertuples():
        if r.Time <= session_best[r.MiniSector] + tie:
            status.append("session_best")
        elif r.Time <= personal[(r.CarId, r.MiniSector)] + tie:
            status.append("personal_best")
        else:
            status.append("slower")
    out["Status"] = status
    return out


def theoretical_best(times: pd.DataFrame) -> float:
    return float(times.groupby("MiniSector")["Time"].min().sum())


def elapsed_by_distance(df: pd.DataFrame, lap: int, grid: np.ndarray) -> np.ndarray:
    """A complete lap's elapsed time at the grid distances, from its frames; its lap time beyond its end."""
    g = lap_spans(df)[lap]
    t = g["sim_time"].to_numpy() - g["sim_time"].iloc[0]
    d = g["lap_distance"].to_numpy()
    finish = lap_lengths(df)[lap]
    return np.interp(grid, np.concatenate(([0.0], d, [finish])), np.concatenate(([0.0], t, [lap_times(df)[lap]])))
