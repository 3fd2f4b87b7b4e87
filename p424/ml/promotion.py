"""Who gets the ``champion`` alias: the rules, as a pure function of scores on the same laps.

1. A model that does not beat the baseline on both targets is never champion (it gets
   ``challenger``): predicting worse than "the rest of the lap like the lap so far" is no help.
2. With no champion yet, or a champion that cannot be scored on these laps (its features differ,
   e.g. after a catalog change), a model that beats the baseline becomes champion.
3. Otherwise the candidate must beat the champion on the same validation laps: a lower relative
   error (mean of the two MAE-to-baseline ratios) by more than ``min_improvement``. Ties keep the
   champion, so repeated runs on the same data do not churn the alias.
"""

from __future__ import annotations

from dataclasses import dataclass

from p424.ml.evaluate import Scores

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class Decision:
    alias: str
    reason: str

    @property
    def promoted(self) -> bool:
        return self.alias == CHAMPION


def _fmt(s: Scores) -> str:
    return (
        f"lap time MAE {s.lap_time.mae:.3f} s (baseline {s.lap_time.baseline_mae:.3f}), "
        f"energy MAE {s.energy.mae:.4f} kWh (baseline {s.energy.baseline_mae:.4f})"
    )


def decide(
    candidate: Scores,
    champion: Scores | None,
    champion_version: str | None = None,
    min_improvement: float = 1e-6,
    note: str = "",
) -> Decision:
    """The alias for ``candidate``; ``champion`` is the current champion scored on the same windows
    (None when there is none or it cannot be scored; ``note`` says why, and is appended to the reason)."""
    suffix = f"; {note}" if note else ""
    if not candidate.beats_baseline:
        return Decision(CHALLENGER, f"does not beat the baseline on held-out laps: {_fmt(candidate)}{suffix}")
    if champion is None:
        return Decision(CHAMPION, f"beats the baseline ({_fmt(candidate)}){suffix or '; no champion yet'}")
    if champion.windows != candidate.windows:
        raise ValueError("candidate and champion must be scored on the same validation windows")
    label = f"champion v{champion_version}" if champion_version else "the champion"
    if candidate.relative_error < champion.relative_error - min_improvement:
        return Decision(
            CHAMPION,
            (
                f"beats {label} on the same {candidate.laps} validation laps: relative error "
                f"{candidate.relative_error:.4f} vs {champion.relative_error:.4f}{suffix}"
            ),
        )
    return Decision(
        CHALLENGER,
        (
            f"does not beat {label} on the same {candidate.laps} validation laps: relative error "
            f"{candidate.relative_error:.4f} vs {champion.relative_error:.4f}{suffix}"
        ),
    )
