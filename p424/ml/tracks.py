"""Which track a session ran on, and which registered model serves that track (pure, standard library).

A session's track is the ``track`` column of its ``sessions`` row: ``replay`` writes the lap file's
``trackName`` metadata, ``simulate`` writes "Nordschleife (simulated)" (``unity_bridge/cli.py``).
Sessions whose sender names no track (the Unity sender, DMG1) run on ``DEFAULT_TRACK``.

Registry scheme: one registered model per track, named ``<MODEL_NAME>__<track slug>``, each with
its own ``champion`` and ``challenger`` aliases and version history. One model per track (rather
than one model with per-track aliases) keeps versions, descriptions and the drift records
(``prediction_errors`` is partitioned by model name) of different tracks apart, and the MLflow UI
lists one row per track. The full track name is the registered model's tag ``p424.track``.
"""

from __future__ import annotations

import re

SEPARATOR = "__"  # between MODEL_NAME and the track slug
# Written when the sender gave nothing: replay stores "unknown" for a lap file without metadata.
UNNAMED = frozenset({"", "unknown"})
MAX_SLUG = 60


def slug(track: str) -> str:
    """Lower-case letters, digits and single hyphens: "Nordschleife (simulated)" -> "nordschleife-simulated"."""
    out = re.sub(r"[^a-z0-9]+", "-", track.strip().lower()).strip("-")[:MAX_SLUG].rstrip("-")
    if not out:
        raise ValueError(f"track name {track!r} has no letter or digit to name a model by")
    return out


def named(stored: str | None) -> bool:
    """Whether a stored ``sessions.track`` names a track (one with a letter or digit to name a model by)."""
    name = (stored or "").strip()
    return name.lower() not in UNNAMED and re.search(r"[A-Za-z0-9]", name) is not None


def resolve(stored: str | None, default: str) -> str:
    """The track of a session whose ``sessions.track`` is ``stored`` (``default`` when it names none)."""
    if named(stored):
        return (stored or "").strip()
    if not named(default):
        raise ValueError(f"the session names no track and DEFAULT_TRACK ({default!r}) names none either")
    return default.strip()


def registered_name(model_name: str, track: str) -> str:
    """The registered model that holds ``track``'s versions and aliases."""
    if not model_name or SEPARATOR in model_name:
        raise ValueError(f"MODEL_NAME {model_name!r} must be non-empty and must not contain {SEPARATOR!r}")
    return f"{model_name}{SEPARATOR}{slug(track)}"


def track_slug_of(registered: str, model_name: str) -> str | None:
    """The track slug of a registered model of ``model_name`` (None for another model)."""
    prefix = f"{model_name}{SEPARATOR}"
    return registered[len(prefix) :] if registered.startswith(prefix) and len(registered) > len(prefix) else None
