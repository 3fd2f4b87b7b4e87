"""``python -m p424.ml.live``: run the live prediction service until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from p424.config import load_config


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m p424.ml.live",
        description="Predict lap time and energy for every live window with the champion model",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting (e.g. MODEL_NAME=..., PREDICTOR_HTTP_PORT=...)",
    )
    p.add_argument("--group", default="p424-predictor", help="Kafka consumer group")
    p.add_argument("--model-poll", type=float, default=10.0, help="seconds between checks of the champion alias")
    p.add_argument(
        "--from-beginning",
        action="store_true",
        help="a new consumer group starts at the oldest retained window instead of the newest",
    )
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            p.error(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip().upper()] = value
    cfg = load_config(overrides=overrides)

    from p424.ml.live.service import Predictor
    from unity_bridge.server import setup_logging

    setup_logging(args.log_level)
    try:
        predictor = Predictor(cfg, args.group, args.model_poll, args.from_beginning)
    except RuntimeError as err:
        print(f"predictor cannot start: {err}", file=sys.stderr)
        return 2
    predictor.install_signal_handlers()
    predictor.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
