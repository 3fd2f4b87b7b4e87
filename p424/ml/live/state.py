"""Per-session lap-so-far state of the live predictor, and the error of a lap's predictions (pure).

The service feeds every WindowMessage to ``LiveState.observe``, which folds it into the lap's
``LapSoFar`` (the same feature code as training) and returns the features to predict from. When the
lap's summary arrives (LapMessage, complete) and the lap's last windows are in, ``finished`` compares
what was predicted during the lap with what happened: the drift record stored in ``prediction_errors``.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from p424.kafka.messages import LapMessage, WindowMessage
from p424.ml.evaluate import EVAL_FROM_PROGRESS
from p424.ml.features import SPEC, FeatureSpec, LapSoFar, WindowObs
from p424.ml.live.records import LapError

F64 = npt.NDArray[np.float64]
MAX_OPEN_LAPS = 3  # per session: the current lap and the ones whose summary may still be on its way
CLOSED_MEMORY = 10_000  # (session, lap) pairs remembered as closed, so late windows do not reopen them
SUMMARY_GRACE_S = 30.0  # a summary whose session sends no further lap is scored after this long


@dataclass(frozen=True, kw_only=True)
class WindowContext:
    """Where a prediction was made: identifies its row and message."""

    session_id: int
    car_id: int
    lap: int
    ts_ms: int
    window_start: float
    lap_distance: float
    lap_time_so_far: float
    energy_so_far_kwh: float


@dataclass(kw_only=True)
class LapTrack:
    car_id: int
    acc: LapSoFar
    distance: list[float] = field(default_factory=list)
    predicted: list[tuple[float, float]] = field(default_factory=list)
    baseline: list[tuple[float, float]] = field(default_factory=list)
    models: Counter[tuple[str, str]] = field(default_factory=Counter)  # (registered model, version) -> windows


def lap_error(track: LapTrack, msg: LapMessage) -> LapError | None:
    """How wrong the lap's predictions were (None if it had none beyond the lap start), under the model
    (the track's registered model and version) that made most of them."""
    if not track.predicted or msg.energy_net_kwh is None or msg.distance <= 0:
        return None
    progress = np.asarray(track.distance) / msg.distance
    pred = np.asarray(track.predicted)
    base = np.asarray(track.baseline)
    actual = np.array([msg.lap_time, msg.energy_net_kwh])
    scored = progress >= EVAL_FROM_PROGRESS
    if not scored.any():
        return None
    err = pred - actual
    berr = np.abs(base - actual)

    def at(q: float, k: int) -> float | None:
        hit = np.flatnonzero(progress >= q)
        return float(err[hit[0], k]) if len(hit) else None

    done_ms = msg.start_ts_ms + round(msg.lap_time * 1000)
    done = datetime.fromtimestamp(done_ms / 1000, tz=UTC)
    (model_name, model_version), _ = track.models.most_common(1)[0]
    return LapError(
        model_name=model_name,
        month=done.strftime("%Y-%m"),
        completed_at_ms=done_ms,
        session_id=msg.session_id,
        lap=msg.lap,
        car_id=msg.car_id,
        model_version=model_version,
        windows=len(pred),
        actual_lap_time=float(msg.lap_time),
        actual_energy_kwh=float(msg.energy_net_kwh),
        mae_lap_time=float(np.abs(err[scored, 0]).mean()),
        mae_energy_kwh=float(np.abs(err[scored, 1]).mean()),
        baseline_mae_lap_time=float(berr[scored, 0].mean()),
        baseline_mae_energy_kwh=float(berr[scored, 1].mean()),
        error_lap_time_at_25=at(0.25, 0),
        error_lap_time_at_50=at(0.5, 0),
        error_lap_time_at_75=at(0.75, 0),
        error_energy_at_25=at(0.25, 1),
        error_energy_at_50=at(0.5, 1),
        error_energy_at_75=at(0.75, 1),
    )


class LiveState:
    def __init__(self, spec: FeatureSpec = SPEC) -> None:
        self.spec = spec
        self.sessions: dict[int, OrderedDict[int, LapTrack]] = {}
        self.last_seen: dict[int, float] = {}
        self._closed: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._pending: dict[tuple[int, int], tuple[LapMessage, float]] = {}
        self._latest_lap: dict[int, int] = {}  # per session, the highest lap a window was seen for

    # ---------------------------------------------------------------- windows
    def is_closed(self, session_id: int, lap: int) -> bool:
        return (session_id, lap) in self._closed

    def needs_backfill(self, msg: WindowMessage) -> bool:
        """A lap first seen well after it started (predictor restarted, consumer joined late)."""
        laps = self.sessions.get(msg.session_id)
        started_unseen = laps is None or msg.lap not in laps
        late_join = msg.lap_time > 2 * msg.window_ms / 1000.0
        return started_unseen and late_join and not self.is_closed(msg.session_id, msg.lap)

    def _track(self, session_id: int, lap: int, car_id: int) -> LapTrack:
        laps = self.sessions.setdefault(session_id, OrderedDict())
        track = laps.get(lap)
        if track is None:
            track = laps[lap] = LapTrack(car_id=car_id, acc=LapSoFar(self.spec))
            while len(laps) > MAX_OPEN_LAPS:
                laps.popitem(last=False)
        return track

    def seed(self, session_id: int, lap: int, car_id: int, earlier: list[WindowObs]) -> None:
        """Fold in a lap's earlier windows (read back from Cassandra) before its live ones."""
        track = self._track(session_id, lap, car_id)
        for w in earlier:
            track.acc.update(w)

    def observe(self, msg: WindowMessage, now: float, obs: WindowObs | None = None) -> tuple[WindowContext, F64] | None:
        """Fold a live window into its lap; the features after it (None for a lap already closed).

        ``obs`` is the window's statistics when the caller decoded them already (else from ``msg``)."""
        if self.is_closed(msg.session_id, msg.lap):
            return None
        self.last_seen[msg.session_id] = now
        self._latest_lap[msg.session_id] = max(self._latest_lap.get(msg.session_id, 0), msg.lap)
        track = self._track(msg.session_id, msg.lap, msg.car_id)
        features = track.acc.update(obs if obs is not None else WindowObs.from_message(msg, self.spec))
        ctx = WindowContext(
            session_id=msg.session_id,
            car_id=msg.car_id,
            lap=msg.lap,
            ts_ms=msg.ts_ms,
            window_start=msg.window_start,
            lap_distance=track.acc.distance,
            lap_time_so_far=track.acc.elapsed,
            energy_so_far_kwh=track.acc.energy_kwh,
        )
        return ctx, features

    def record(
        self,
        ctx: WindowContext,
        predicted: tuple[float, float],
        baseline: tuple[float, float],
        model: str,
        version: str,
    ) -> None:
        track = self.sessions.get(ctx.session_id, OrderedDict()).get(ctx.lap)
        if track is None:
            return
        track.distance.append(ctx.lap_distance)
        track.predicted.append(predicted)
        track.baseline.append(baseline)
        track.models[(model, version)] += 1

    # ---------------------------------------------------------------- laps
    def lap_summary(self, msg: LapMessage, now: float) -> None:
        """A lap summary arrived. A complete one is scored by ``finished`` once the lap's last windows
        are in: summaries travel on their own topic and may overtake the windows they close.

        A provisional summary (session idle, ``complete`` false) keeps the lap open.
        """
        if msg.complete:
            self._pending[(msg.session_id, msg.lap)] = (msg, now)

    def finished(self, now: float, grace_s: float = SUMMARY_GRACE_S) -> list[LapError]:
        """Errors of the laps whose summary arrived and whose windows are all in: a window of a later
        lap of the session was seen (a session's windows arrive in order), or ``grace_s`` passed."""
        out: list[LapError] = []
        for key, (msg, at) in list(self._pending.items()):
            if self._latest_lap.get(msg.session_id, 0) > msg.lap or now - at > grace_s:
                del self._pending[key]
                err = self._close(msg)
                if err is not None:
                    out.append(err)
        return out

    def _close(self, msg: LapMessage) -> LapError | None:
        laps = self.sessions.get(msg.session_id)
        track = laps.pop(msg.lap, None) if laps is not None else None
        self._closed[(msg.session_id, msg.lap)] = None
        while len(self._closed) > CLOSED_MEMORY:
            self._closed.popitem(last=False)
        if track is None or msg.invalidated:
            return None
        return lap_error(track, msg)

    def forget_idle(self, now: float, idle_s: float) -> int:
        stale = [s for s, seen in self.last_seen.items() if now - seen > idle_s]
        for s in stale:
            self.sessions.pop(s, None)
            self.last_seen.pop(s, None)
            self._latest_lap.pop(s, None)
        return len(stale)

    @property
    def open_laps(self) -> int:
        return sum(len(laps) for laps in self.sessions.values())
