"""The model card of a training run (pure): what the model learnt from, how it does against each baseline,
and where it is weak. Logged with the run as ``model_card.md`` and ``model_card.json`` and summarised
in ``p424.card.*`` tags; the register step adds the promotion decision.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from p424.ml.baseline import BASELINE_TITLES, REFERENCE
from p424.ml.dataset import MIN_VALIDATION_SESSIONS
from p424.ml.steps import TARGET_TITLES, TARGETS, THIRDS, TRAIN, VALIDATION, Errors, Evaluation, Lineage
from p424.ml.typed import JsonRecord

MARKDOWN_ARTIFACT = "model_card.md"
JSON_ARTIFACT = "model_card.json"
TAG_PREFIX = "p424.card."
R2_WEAK = 0.5


@dataclass(frozen=True, kw_only=True)
class CardData(JsonRecord):
    source: str
    track: str
    train_sessions: tuple[int, ...]
    validation_sessions: tuple[int, ...]
    train_laps: int
    validation_laps: int
    validation_laps_with_reference: int
    train_windows: int
    validation_windows: int
    cars: tuple[int, ...]
    catalog_versions: dict[str, int]  # catalog version the sessions were written with -> sessions
    features: int
    feature_fingerprint: str
    feature_catalog: str  # the catalog version and hash the features derive from
    window_ms: int
    rejected: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class ModelCard(JsonRecord):
    model_name: str
    track: str
    trained_at: str  # ISO 8601, UTC
    data: CardData
    evaluation: Evaluation
    weaknesses: tuple[str, ...]
    decision: str | None = None  # "champion: <reason>", set by the register step

    def with_decision(self, alias: str, version: str, reason: str) -> ModelCard:
        return replace(self, decision=f"v{version} -> {alias}: {reason}")

    def tags(self) -> dict[str, str]:
        """A few lines of the card as run tags (the MLflow run list shows them)."""
        d, e = self.data, self.evaluation
        out = {
            f"{TAG_PREFIX}track": self.track,
            f"{TAG_PREFIX}data": (
                f"{len(d.train_sessions)}/{len(d.validation_sessions)} sessions, "
                f"{d.train_laps}/{d.validation_laps} laps (train/validation), catalogs "
                + ", ".join(sorted(d.catalog_versions))
            ),
            f"{TAG_PREFIX}weakness": self.weaknesses[0] if self.weaknesses else "none found",
        }
        for target in TARGETS:
            unit = TARGET_TITLES[target][1]
            parts = [f"model {e.model[target].mae:.3g} {unit}"]
            parts += [
                f"{c.baseline} {c.other.mae:.3g}" if c.other.windows else f"{c.baseline} n/a"
                for c in e.comparisons
                if c.target == target
            ]
            out[f"{TAG_PREFIX}{target}_mae"] = ", ".join(parts)
        if self.decision:
            out[f"{TAG_PREFIX}decision"] = self.decision[:250]
        return out

    def markdown(self) -> str:
        d, e = self.data, self.evaluation
        lines = [
            f"# Model card: {self.model_name}",
            "",
            f"Track **{self.track}**; trained {self.trained_at}. From the lap so far, predicts the lap's final "
            "time (s) and net electrical energy (kWh).",
            "",
            "## Data",
            f"- Source: {d.source}; {d.window_ms} ms windows; {d.features} features "
            f"(fingerprint {d.feature_fingerprint}, catalog {d.feature_catalog}).",
            f"- Training: {d.train_laps} laps from {len(d.train_sessions)} sessions "
            f"({_ids(d.train_sessions)}), {d.train_windows} windows.",
            f"- Validation (whole sessions held out): {d.validation_laps} laps from {len(d.validation_sessions)} "
            f"sessions ({_ids(d.validation_sessions)}), {d.validation_windows} windows; "
            f"{d.validation_laps_with_reference} of those laps had an earlier lap on the track (reference lap).",
            f"- Cars: {_ids(d.cars)}. Sessions by catalog version: "
            + ", ".join(f"{v}: {n}" for v, n in sorted(d.catalog_versions.items())),
            f"- Laps left out: {', '.join(f'{k}: {v}' for k, v in sorted(d.rejected.items())) or 'none'}.",
            "",
            "## Against each baseline (held-out laps)",
            f"Windows from {e.from_progress:.0%} of the lap on; each baseline on the windows where it predicts, "
            "the model on the same windows. MAE overall, then by third of the lap distance.",
            "",
            "| target | predictor | laps | MAE | first third | middle third | last third |",
            "|---|---|---|---|---|---|---|",
        ]
        for target in TARGETS:
            title, unit = TARGET_TITLES[target]
            lines.append(_row(f"{title} ({unit})", "model, every scored window", e.laps, e.model[target]))
            for c in e.comparisons:
                if c.target != target:
                    continue
                name = BASELINE_TITLES[c.baseline]
                lines.append(_row("", f"{name} baseline", c.laps, c.other))
                lines.append(_row("", f"model on the {name} windows", c.laps, c.model))
        r2 = ", ".join(
            f"{TARGET_TITLES[t][0]} {v:.3f}" if v is not None else f"{TARGET_TITLES[t][0]} n/a" for t, v in e.r2.items()
        )
        lines += [
            "",
            f"R²: {r2}. Relative error (MAE / pace-baseline MAE, mean of the targets): {e.relative_error:.4f}.",
            f"Beats every baseline: {'yes' if e.beats_every_baseline else 'no'}.",
            "",
            "## Where it is weak",
            *([f"- {w}" for w in self.weaknesses] or ["- nothing found on these laps"]),
        ]
        if self.decision:
            lines += ["", "## Registry", f"- {self.decision}"]
        return "\n".join(lines) + "\n"


def _ids(values: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in values) if len(values) <= 12 else f"{len(values)} of them"


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def _row(target: str, who: str, laps: int, err: Errors) -> str:
    if not err.windows:
        return f"| {target} | {who} | {laps} | - | - | - | - |"
    return f"| {target} | {who} | {laps} | {_fmt(err.mae)} | " + " | ".join(_fmt(t) for t in err.thirds) + " |"


def weaknesses(evaluation: Evaluation, data: CardData) -> tuple[str, ...]:
    """Plain statements of where the model falls short, worst first (pure)."""
    out: list[str] = []
    for c in evaluation.comparisons:
        title, unit = TARGET_TITLES[c.target]
        name = BASELINE_TITLES[c.baseline]
        if not c.other.windows:
            why = " (no held-out lap had an earlier lap on its track)" if c.baseline == REFERENCE else ""
            out.append(f"{title}: not compared with the {name} baseline{why}")
            continue
        if not c.beaten:
            out.append(f"{title}: loses to the {name} baseline overall ({c.model.mae:.3g} vs {c.other.mae:.3g} {unit})")
        for third, m, b in zip(THIRDS, c.model.thirds, c.other.thirds, strict=True):
            if m is not None and b is not None and m >= b:
                out.append(f"{title}, {third} third of the lap: {m:.3g} {unit} vs the {name} baseline's {b:.3g}")
    for target in TARGETS:
        title, unit = TARGET_TITLES[target]
        thirds = [(v, name) for v, name in zip(evaluation.model[target].thirds, THIRDS, strict=True) if v is not None]
        if len(thirds) > 1:
            worst, name = max(thirds)
            out.append(f"{title}: largest error in the {name} third of the lap ({worst:.3g} {unit} MAE)")
        r2 = evaluation.r2[target]
        if r2 is None or r2 < R2_WEAK:
            shown = "n/a" if r2 is None else f"{r2:.2f}"
            out.append(
                f"{title}: R² {shown} on held-out laps (the outcome varies little between them, or the model "
                "explains little of it)"
            )
    if len(data.validation_sessions) <= MIN_VALIDATION_SESSIONS:
        n = len(data.validation_sessions)
        out.append(f"validated on {n} sessions ({data.validation_laps} laps): the figures are rough")
    if len(data.cars) == 1:
        out.append(f"every lap comes from car {data.cars[0]}: other drivers and set-ups are unseen")
    if len(data.catalog_versions) > 1:
        out.append(
            "sessions of several catalog versions: channels newer than a session's catalog are missing from its laps"
        )
    return tuple(out)


def build(
    *,
    model_name: str,
    trained_at: str,
    lineage: Lineage,
    evaluation: Evaluation,
    train_windows: int,
    validation_windows: int,
) -> ModelCard:
    folds = Counter(lap.fold for lap in lineage.laps)
    with_reference = sum(1 for lap in lineage.laps if lap.fold == VALIDATION and lap.reference is not None)
    data = CardData(
        source=lineage.source,
        track=lineage.track,
        train_sessions=lineage.train_sessions,
        validation_sessions=lineage.validation_sessions,
        train_laps=folds[TRAIN],
        validation_laps=folds[VALIDATION],
        validation_laps_with_reference=with_reference,
        train_windows=train_windows,
        validation_windows=validation_windows,
        cars=tuple(sorted({lap.car_id for lap in lineage.laps})),
        catalog_versions=dict(Counter(lineage.session_catalogs.values())),
        features=len(lineage.features),
        feature_fingerprint=lineage.feature_fingerprint,
        feature_catalog=f"{lineage.catalog_version} ({lineage.catalog_hash})",
        window_ms=lineage.window_ms,
        rejected=lineage.rejected,
    )
    return ModelCard(
        model_name=model_name,
        track=lineage.track,
        trained_at=trained_at,
        data=data,
        evaluation=evaluation,
        weaknesses=weaknesses(evaluation, data),
    )
