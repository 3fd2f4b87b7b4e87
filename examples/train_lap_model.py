"""Train the lap-outcome model by hand: the standalone counterpart of the Airflow training DAG.

Runs the same three steps as `p424_train_lap_model` (p424.ml.pipeline: extract laps and windows from
Cassandra, train and score against the baseline on held-out sessions, register and promote in
MLflow) in this process, logging to the platform's MLflow. Needs a running platform with some
complete laps stored, e.g. after `./launchcommand.sh simulate --cars 4 --laps 3 --max`.

    .platform/venvs/platform/bin/python examples/train_lap_model.py [--model-name NAME]
        [--session ID ...] [--min-laps N] [--max-iter N]
"""

from __future__ import annotations

import argparse

from p424.config import load_config
from p424.ml import pipeline
from p424.ml.settings import Hyperparameters, TrainingSettings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-name", default=None, help="registered model (default: MODEL_NAME of the platform)")
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
        extracted = pipeline.extract(settings)
    except pipeline.SkipTrainingError as why:
        print(f"not training: {why}")
        return 0
    print(
        f"data: {extracted['laps']} laps ({extracted['train_laps']} train, {extracted['validation_laps']} validation), "
        f"{extracted['windows']} windows"
    )
    trained = pipeline.train(settings, extracted)
    m = trained["metrics"]
    print(f"lap time: MAE {m['mae_lap_time_s']:.3f} s vs baseline {m['baseline_mae_lap_time_s']:.3f} s")
    print(f"energy:   MAE {m['mae_energy_net_kwh']:.4f} kWh vs baseline {m['baseline_mae_energy_net_kwh']:.4f} kWh")
    print(f"run:      {cfg.mlflow_url}/#/experiments/{trained['experiment_id']}/runs/{trained['run_id']}")
    registered = pipeline.register(settings, extracted, trained)
    print(
        f"model:    {registered['model_name']} v{registered['version']} -> '{registered['alias']}': "
        f"{registered['reason']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
