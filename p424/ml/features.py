"""Lap-so-far features, derived from the channel catalog, computed the same way offline and live.

A lap is seen as a sequence of windows (1 s rows from Cassandra when training, 100 ms
WindowMessages live). After each window, ``LapSoFar.update`` returns the feature vector of the
lap so far. Every feature is cumulative and weighted by time, so it does not depend on the window
size: a channel's mean so far is the time-weighted mean of its window means, its min and max so far
are the extremes of the window extremes, and the energy so far integrates the window means of total
electrical power over the time each window covers.

Features (names are stable; the catalog decides the per-channel ones):
- core: ``elapsed_s``, ``distance_m``, ``pace_mps``, ``energy_kwh``, ``energy_rate_kwh_per_km``;
- every continuous payload channel: ``<channel>_mean`` and ``<channel>_last``;
- key channels (catalog ``key=True``) also ``<channel>_min`` and ``<channel>_max``;
- discrete payload channels (sector, gear): ``<channel>_last``.
Absent channels give NaN features (the model handles missing values).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from p424.catalog import CATALOG, Catalog, Kind
from p424.kafka.messages import WindowMessage
from p424.units import KWS_PER_KWH

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

POWER_CHANNEL = "power_electrical_total"  # kW; integrated into the lap energy, as processing does
CORE_FEATURES = ("elapsed_s", "distance_m", "pace_mps", "energy_kwh", "energy_rate_kwh_per_km")
MIN_DISTANCE_M = 1.0  # below this, pace and rates are undefined (reported as NaN)


@dataclass(frozen=True)
class FeatureSpec:
    """Which channels feed which features; built from a catalog so adding a channel adds features."""

    catalog_hash: str
    channels: tuple[str, ...]  # payload channels, catalog order
    continuous: tuple[str, ...]
    key: tuple[str, ...]
    names: tuple[str, ...]
    power_index: int | None
    positions: dict[str, I64] = field(repr=False, compare=False)  # channel indices per feature group

    @classmethod
    def from_catalog(cls, catalog: Catalog = CATALOG) -> FeatureSpec:
        payload = catalog.payload_channels
        channels = tuple(c.name for c in payload)
        continuous = tuple(c.name for c in payload if c.kind is Kind.CONTINUOUS)
        key = tuple(c.name for c in payload if c.key and c.kind is Kind.CONTINUOUS)
        pos = {n: i for i, n in enumerate(channels)}
        names = (
            *CORE_FEATURES,
            *(f"{c}_mean" for c in continuous),
            *(f"{c}_last" for c in channels),
            *(f"{c}_min" for c in key),
            *(f"{c}_max" for c in key),
        )
        idx = {
            "continuous": np.array([pos[c] for c in continuous], dtype=np.int64),
            "key": np.array([pos[c] for c in key], dtype=np.int64),
        }
        return cls(catalog.hash_hex, channels, continuous, key, names, pos.get(POWER_CHANNEL), idx)

    @property
    def fingerprint(self) -> str:
        """Short hash of the feature names: two models are comparable only if these match."""
        return hashlib.sha256("\n".join(self.names).encode()).hexdigest()[:12]

    def window_columns(self) -> list[str]:
        """The ``channel_windows`` columns the features read (everything else is left in Cassandra)."""
        cols = [f"{c}_mean" for c in self.continuous]
        cols += [f"{c}_last" for c in self.channels]
        cols += [f"{c}_{s}" for c in self.key for s in ("min", "max")]
        if self.power_index is not None and f"{POWER_CHANNEL}_mean" not in cols:
            cols.append(f"{POWER_CHANNEL}_mean")
        return cols


SPEC = FeatureSpec.from_catalog()


@dataclass(frozen=True)
class WindowObs:
    """One window as the features see it, whatever its source: arrays in ``spec.channels`` order."""

    lap_time: float  # elapsed lap time at the window's last frame, s
    lap_distance: float  # lap distance at the window's last frame, m
    means: F64
    lasts: F64
    mins: F64
    maxs: F64

    @classmethod
    def from_row(cls, row: Mapping[str, Any], spec: FeatureSpec = SPEC) -> WindowObs:
        """From a ``channel_windows`` row (a dict, as ``TelemetryStore`` returns); missing columns are NaN."""

        def stat(s: str) -> F64:
            return np.array([_num(row.get(f"{c}_{s}")) for c in spec.channels], dtype=np.float64)

        return cls(
            float(row["lap_time"]), float(row["lap_distance"]), stat("mean"), stat("last"), stat("min"), stat("max")
        )

    @classmethod
    def from_json_dict(cls, doc: Mapping[str, Any], spec: FeatureSpec = SPEC) -> WindowObs:
        """From a decoded WindowMessage JSON document: the live predictor's fast path (no dataclass per
        channel); gives exactly what ``from_message`` gives."""
        n = len(spec.channels)
        means, lasts, mins, maxs = (np.full(n, np.nan) for _ in range(4))
        channels = doc["channels"]
        for i, c in enumerate(spec.channels):
            s = channels.get(c)
            if s is not None:
                means[i], lasts[i], mins[i], maxs[i] = s["mean"], s["last"], s["min"], s["max"]
        return cls(float(doc["lap_time"]), float(doc["lap_distance"]), means, lasts, mins, maxs)

    @classmethod
    def from_message(cls, msg: WindowMessage, spec: FeatureSpec = SPEC) -> WindowObs:
        """From a live ``WindowMessage`` (telemetry.windows.v1); channels it omits are NaN."""
        n = len(spec.channels)
        means, lasts, mins, maxs = (np.full(n, np.nan) for _ in range(4))
        for i, c in enumerate(spec.channels):
            s = msg.channels.get(c)
            if s is not None:
                means[i], lasts[i], mins[i], maxs[i] = s.mean, s.last, s.min, s.max
        return cls(float(msg.lap_time), float(msg.lap_distance), means, lasts, mins, maxs)


def _num(v: object) -> float:
    return float(v) if isinstance(v, (int, float)) else math.nan


class LapSoFar:
    """Running state of one lap; ``update`` folds in the next window and returns the features so far.

    Windows must arrive in time order; a window that does not advance the lap clock adds no weight
    (its extremes and last values still count).
    """

    def __init__(self, spec: FeatureSpec = SPEC) -> None:
        n = len(spec.channels)
        self.spec = spec
        self.windows = 0
        self.elapsed = 0.0
        self.distance = 0.0
        self.energy_kws = 0.0
        self._wsum = np.zeros(n)
        self._weight = np.zeros(n)
        self._lasts = np.full(n, np.nan)
        self._mins = np.full(n, np.inf)
        self._maxs = np.full(n, -np.inf)
        self._cont = spec.positions["continuous"]
        self._key = spec.positions["key"]

    def update(self, w: WindowObs) -> F64:
        dt = max(w.lap_time - self.elapsed, 0.0) if self.windows else max(w.lap_time, 0.0)
        present = ~np.isnan(w.means)
        self._wsum[present] += w.means[present] * dt
        self._weight[present] += dt
        p = self.spec.power_index
        if p is not None and present[p]:
            self.energy_kws += float(w.means[p]) * dt
        has_last = ~np.isnan(w.lasts)
        self._lasts[has_last] = w.lasts[has_last]
        self._mins = np.fmin(self._mins, w.mins)
        self._maxs = np.fmax(self._maxs, w.maxs)
        self.windows += 1
        self.elapsed = max(self.elapsed, w.lap_time)
        self.distance = max(self.distance, w.lap_distance)
        return self.features()

    @property
    def energy_kwh(self) -> float:
        return self.energy_kws / KWS_PER_KWH

    def features(self) -> F64:
        moved = self.distance >= MIN_DISTANCE_M
        pace = self.distance / self.elapsed if moved and self.elapsed > 0 else math.nan
        rate = self.energy_kwh / (self.distance / 1000.0) if moved else math.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(self._weight > 0, self._wsum / np.where(self._weight > 0, self._weight, 1.0), np.nan)
        mins = np.where(np.isinf(self._mins), np.nan, self._mins)
        maxs = np.where(np.isinf(self._maxs), np.nan, self._maxs)
        return np.concatenate(
            (
                [self.elapsed, self.distance, pace, self.energy_kwh, rate],
                means[self._cont],
                self._lasts,
                mins[self._key],
                maxs[self._key],
            )
        )


def lap_features(windows: Sequence[WindowObs], spec: FeatureSpec = SPEC) -> F64:
    """Feature matrix of one lap: row ``i`` is the lap so far after window ``i`` (training path)."""
    acc = LapSoFar(spec)
    if not windows:
        return np.empty((0, len(spec.names)))
    return np.vstack([acc.update(w) for w in windows])
