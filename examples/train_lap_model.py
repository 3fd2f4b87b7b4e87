"""Train the lap-outcome model by hand: the standalone counterpart of the Airflow training DAG.

Runs the same three steps as `p424_train_lap_model` (p424.ml.pipeline: extract laps and windows from
Cassandra per track, train and score against every baseline on held-out sessions, register and
promote each track's model in MLflow) in this process, logging to the platform's MLflow, and prints
what `./launchcommand.sh train --wait` prints. Needs a running platform with some
complete laps stored, e.g. after `./launchcommand.sh simulate --cars 4 --laps 3 --max`.

    .platform/venvs/platform/bin/python examples/train_lap_model.py [--model-name NAME]
        [--session ID ...] [--min-laps N] [--max-iter N]
"""

from __future__ import annotations

import argparse

from launcher.commands_ml import RunOutcome, outcome_lines
from p424.config import load_config
from p424.ml import pipeline
from p424.ml.settings import Hyperparameters, TrainingSettings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model-name", default=None, help="model name; each track registers <NAME>__<track> (default: MODEL_NAME)"
    )
    ap.add_argument("--session", type=int, action="append", default=[], help="train on this session (repeatable)")
    ap.add_argument("--min-laps", type=int, default=None, help="default: MIN_TRAINING_LAPS")
    ap.add_argument("--max-iter", type=int, default=Hyperparameters().max_iter, help="boosting iterations per target")
    args = ap.parse_args()

    cfg = load_config()
    overrides: dict[str, object] = {
        "session_ids": tuple(args.session),
        "run_label": "examples/train_lap_model.py",
        "hyperparameters": Hyperparameters(max_iter=args.max_iter),
    }
    if args.model_name:
        overrides["model_name"] = args.model_name
    if args.min_laps is not None:
        overrides["min_laps"] = args.min_laps
    settings = TrainingSettings.from_config(cfg, **overrides)

    try:
        run = pipeline.run(settings)
    except pipeline.SkipTrainingError as why:
        print(f"not training: {why}")
        return 0
    outcome = RunOutcome(
        dag_id="(this process)",
        run_id=settings.run_label,
        state="success",
        extracted=run.extracted,
        trained=run.trained,
        registered=run.registered,
    )
    print("\n".join(outcome_lines(outcome, cfg)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
