"""Who gets a track's ``champion`` alias: the rules, as a pure function of scores on the same laps.

1. A model that does not beat every baseline (pace extrapolation and the reference lap) on both
   targets, on held-out sessions, is never champion (it gets ``challenger``): an engineer would do
   better without it. A baseline that had no window to be compared on counts as not beaten: the
   model has not shown it is better.
2. With no champion for the track yet, or a champion that cannot be scored on these laps (its
   features differ, e.g. after a catalog change), a model that beats every baseline becomes champion.
3. Otherwise the candidate must also beat the track's champion on the same validation windows: a
   lower relative error (mean over the targets of MAE / pace-baseline MAE) by more than
   ``min_improvement``. Ties keep the champion, so repeated runs on the same data do not churn the alias.
"""

from __future__ import annotations

from dataclasses import dataclass

from p424.ml.baseline import BASELINE_TITLES
from p424.ml.steps import TARGET_TITLES, Comparison, Evaluation

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True, kw_only=True)
class Decision:
    alias: str
    reason: str

    @property
    def promoted(self) -> bool:
        return self.alias == CHAMPION


def describe(c: Comparison) -> str:
    """e.g. "lap time MAE 0.412 s vs reference-lap baseline 0.380 s on 12 laps"."""
    title, unit = TARGET_TITLES[c.target]
    if not c.other.windows:
        return f"{title}: no held-out window had a {BASELINE_TITLES[c.baseline]} baseline to compare with"
    return (
        f"{title} MAE {c.model.mae:.3f} {unit} vs {BASELINE_TITLES[c.baseline]} baseline "
        f"{c.other.mae:.3f} {unit} on {c.laps} laps"
    )


def decide(
    candidate: Evaluation,
    champion: Evaluation | None,
    champion_version: str | None = None,
    min_improvement: float = 1e-6,
    note: str = "",
) -> Decision:
    """The alias for ``candidate``; ``champion`` is the track's champion scored on the same windows
    (None when there is none or it cannot be scored; ``note`` says why, and is appended to the reason)."""
    suffix = f"; {note}" if note else ""
    lost = candidate.unbeaten
    if lost:
        return Decision(
            alias=CHALLENGER,
            reason=f"does not beat every baseline on held-out sessions: {'; '.join(describe(c) for c in lost)}{suffix}",
        )
    won = "; ".join(describe(c) for c in candidate.comparisons)
    if champion is None:
        return Decision(alias=CHAMPION, reason=f"beats every baseline ({won}){suffix or '; no champion yet'}")
    if champion.windows != candidate.windows:
        raise ValueError("candidate and champion must be scored on the same validation windows")
    label = f"champion v{champion_version}" if champion_version else "the champion"
    verdict = "beats" if candidate.relative_error < champion.relative_error - min_improvement else "does not beat"
    return Decision(
        alias=CHAMPION if verdict == "beats" else CHALLENGER,
        reason=(
            f"{verdict} {label} on the same {candidate.laps} validation laps: relative error "
            f"{candidate.relative_error:.4f} vs {champion.relative_error:.4f}{suffix}"
        ),
    )
