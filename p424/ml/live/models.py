"""Which model serves which track: the predictor's model watcher, and where each session runs.

``ModelWatcher`` (a thread) keeps, for every track the predictor has seen a session of and every
track the registry has a model for, the version the track's ``champion`` alias points to
(``<MODEL_NAME>__<track slug>``, ``p424.ml.tracks``), loading a new version in the background so a
reload never stalls the Kafka loop. A track without a champion is reported as such (``status``,
``/health`` and one log line per change): its sessions get no predictions.

``SessionTracks`` resolves a session's track from its ``sessions`` row (cached); a session whose row
names no track runs on ``DEFAULT_TRACK`` and is looked at again every ``RECHECK_S``, because
``replay`` and ``simulate`` write the track only when they have sent the session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from p424.ml import tracks
from p424.ml.features import SPEC
from p424.ml.promotion import CHAMPION

log = logging.getLogger("p424.predictor")
RECHECK_S = 30.0


@dataclass(frozen=True, kw_only=True)
class ServingModel:
    track: str
    name: str  # registered model
    version: str
    model: Any  # a fitted p424.ml.model.LapOutcomeModel, loaded through MLflow
    loaded_at: float


@dataclass(frozen=True, kw_only=True)
class TrackStatus:
    """What the predictor can do for a track, as /health shows it."""

    track: str
    model: str  # the track's registered model
    version: str | None  # the champion being served; None: none
    note: str  # why there is none, or a problem with the registry

    def to_health(self) -> dict[str, Any]:
        return {"model": self.model, "alias": CHAMPION, "version": self.version, "note": self.note}


def no_champion(track: str, model: str, registered: bool) -> str:
    what = (
        f"registered model {model} has no version with alias '{CHAMPION}'"
        if registered
        else f"no model is registered for it ({model})"
    )
    return (
        f"no champion for track {track!r}: {what}; sessions on this track get no predictions until one is "
        "trained (./launchcommand.sh train)"
    )


class ModelWatcher(threading.Thread):
    """Per track, keeps ``serving`` at the version the track's alias points to; reloads when it moves."""

    def __init__(self, tracking_uri: str, model_name: str, alias: str = CHAMPION, poll_s: float = 10.0) -> None:
        super().__init__(name="model-watcher", daemon=True)
        self.tracking_uri, self.model_name, self.alias, self.poll_s = tracking_uri, model_name, alias, poll_s
        self.serving: dict[str, ServingModel] = {}  # track slug -> model in use (replaced, never mutated)
        self.status: dict[str, TrackStatus] = {}  # track slug -> what /health says
        self.last_error = ""
        self._wanted: dict[str, str] = {}  # track slug -> track name, from sessions seen
        self._names: dict[str, str] = {}  # track slug -> track name, from the registry's tags
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.checked = threading.Event()  # set after the first poll, found or not

    def want(self, track: str) -> None:
        """A session on ``track`` appeared: check its champion now rather than at the next poll."""
        key = tracks.slug(track)
        if key not in self._wanted:
            self._wanted = {**self._wanted, key: track}
            self.wake.set()

    def model_for(self, track: str) -> ServingModel | None:
        return self.serving.get(tracks.slug(track))

    def status_of(self, track: str) -> TrackStatus | None:
        return self.status.get(tracks.slug(track))

    def poll_once(self) -> None:
        from p424.ml import tracking

        client = tracking.connect(self.tracking_uri)
        registered = tracking.track_models(client, self.model_name)
        for key in {**registered, **self._wanted}:
            name = f"{self.model_name}{tracks.SEPARATOR}{key}"
            track = self._wanted.get(key) or self._names.get(key)
            if track is None:
                track = self._names[key] = tracking.track_of(client, name) or key
            mv = tracking.version_by_alias(client, name, self.alias) if key in registered else None
            if mv is None:
                self._set(
                    key,
                    TrackStatus(
                        track=track, model=name, version=None, note=no_champion(track, name, key in registered)
                    ),
                )
                self.serving = {k: v for k, v in self.serving.items() if k != key}
                continue
            current = self.serving.get(key)
            if current is not None and current.version == str(mv.version):
                continue
            model = tracking.load_version(name, str(mv.version))
            missing = [str(f) for f in getattr(model, "feature_names_in_", []) if str(f) not in SPEC.names]
            if missing:
                self._set(
                    key,
                    TrackStatus(
                        track=track,
                        model=name,
                        version=None,
                        note=(
                            f"{name} v{mv.version} expects features this catalog does not produce ({missing[:3]}...); "
                            "retrain it"
                        ),
                    ),
                )
                continue
            loaded = ServingModel(track=track, name=name, version=str(mv.version), model=model, loaded_at=time.time())
            self.serving = {**self.serving, key: loaded}
            self._set(key, TrackStatus(track=track, model=name, version=loaded.version, note=""))

    def _set(self, key: str, status: TrackStatus) -> None:
        before = self.status.get(key)
        self.status = {**self.status, key: status}
        if before != status:
            if status.version is None:
                log.warning(
                    "no model for track", extra={"track": status.track, "model": status.model, "note": status.note}
                )
            else:
                log.info(
                    "serving model", extra={"track": status.track, "model": status.model, "version": status.version}
                )

    def run(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                self.poll_once()
                self.last_error = ""
            except Exception as err:  # the registry may be restarting; keep serving the loaded models
                self.last_error = f"model registry poll failed: {err!r}"
                log.warning("model poll failed", extra={"error": repr(err)})
            self.checked.set()
            self.wake.wait(self.poll_s)


@dataclass(frozen=True, kw_only=True)
class _Resolved:
    track: str
    named: bool  # the sessions row named it (else DEFAULT_TRACK, looked at again later)
    at: float


class SessionTracks:
    """Session id -> track, from the ``sessions`` row (``lookup``), cached."""

    def __init__(self, lookup: Callable[[int], dict[str, Any] | None], default_track: str) -> None:
        self.lookup = lookup
        self.default_track = default_track
        self._cache: dict[int, _Resolved] = {}

    def track_of(self, session_id: int, now: float) -> str:
        hit = self._cache.get(session_id)
        if hit is not None and (hit.named or now - hit.at < RECHECK_S):
            return hit.track
        try:
            row = self.lookup(session_id)
        except Exception as err:  # Cassandra busy: keep what we knew, or the default, and look again later
            log.warning("session track lookup failed", extra={"session_id": session_id, "error": repr(err)})
            track = hit.track if hit is not None else tracks.resolve(None, self.default_track)
            self._cache[session_id] = _Resolved(track=track, named=False, at=now)
            return track
        stored = (row or {}).get("track")
        track = tracks.resolve(stored, self.default_track)
        named = tracks.named(stored)
        self._cache[session_id] = _Resolved(track=track, named=named, at=now)
        if hit is None or hit.track != track:
            log.info("session track", extra={"session_id": session_id, "track": track, "named": named})
        return track

    def forget(self, keep: set[int]) -> None:
        self._cache = {s: r for s, r in self._cache.items() if s in keep}
