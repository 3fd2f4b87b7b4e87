"""`python -m grafana.live`: run the Grafana Live pusher until interrupted (SIGINT or SIGTERM)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from grafana.live.service import LiveService, http_port
from p424.config import load_config
from unity_bridge.server import setup_logging

log = logging.getLogger("p424.grafana.live")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.live", description=__doc__)
    parser.add_argument("--http-port", type=int, default=None, help="health and metrics port (default 9426)")
    args = parser.parse_args(argv)
    setup_logging()
    cfg = load_config()
    if not cfg.grafana_url:
        log.error("GRAFANA_URL is not set: nothing to push to")
        return 2
    if not cfg.grafana_token:
        log.warning("GRAFANA_TOKEN is not set (run ./launchcommand.sh grafana-sync); pushes will be refused")
    service = LiveService(cfg)
    host, port = service.start_http(port=args.http_port if args.http_port is not None else http_port(cfg))
    log.info("grafana live pusher: health and metrics on http://%s:%d", host, port)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
