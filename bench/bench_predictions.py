"""Live prediction latency per window on the running native stack.

Streams N simulated cars in real time through the bridge for a while; every 100 ms window Flink
publishes should come back as a prediction on `telemetry.predictions.v1`. Latency per window is
measured outside the predictor: the Kafka timestamp of the prediction record minus the Kafka
timestamp of the window record it answers (matched by session and window time), so it covers the
predictor's consumption, features, model and publication. The predictor's own figures (``/health``:
compute time per window) are printed too. Target: p95 under 200 ms.

Uses the predictor already serving at PREDICTOR_HTTP_PORT if there is one; otherwise starts one
(`python -m p424.ml.live`) for the duration, for ``--model-name`` (which needs a `champion`).

    .platform/venvs/platform/bin/python bench/bench_predictions.py [--cars 10] [--rate 20] [--seconds 60]
        [--model-name p424_lap_outcome]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import numpy as np
import requests
from kafka import KafkaConsumer, TopicPartition

from p424.catalog import CATALOG
from p424.codec.frame import FrameEncoder
from p424.config import Config, load_config
from p424.kafka import auth as kafka_auth
from p424.kafka.messages import PredictionMessage, WindowMessage
from p424.ml import tracking
from p424.ml.promotion import CHAMPION
from unity_bridge.sender import FrameSender, Pacer
from unity_bridge.streams import interleave, simulated_cars


def predictor_health(url: str) -> dict[str, Any] | None:
    try:
        r = requests.get(f"{url}/health", timeout=2)
        body: dict[str, Any] | None = r.json() if r.ok else None
        return body
    except requests.RequestException:
        return None


def ensure_predictor(cfg: Config, model_name: str) -> tuple[str, subprocess.Popen[bytes] | None]:
    url = f"http://{cfg.platform_bind_address}:{cfg.predictor_http_port}"
    health = predictor_health(url)
    if health is not None:
        if health["model"]["name"] != model_name:
            sys.exit(
                f"the predictor at {url} serves {health['model']['name']}, not {model_name}; "
                f"pass --model-name {health['model']['name']}"
            )
        return url, None
    client = tracking.connect(cfg.mlflow_url)
    if tracking.version_by_alias(client, model_name, CHAMPION) is None:
        sys.exit(f"{model_name} has no '{CHAMPION}' version: run ./launchcommand.sh train --wait first")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p424.ml.live",
            "--set",
            f"MODEL_NAME={model_name}",
            "--group",
            f"p424-bench-{uuid.uuid4().hex[:8]}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while (h := predictor_health(url)) is None or h["status"] != "ok":
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.terminate()
            sys.exit(f"the predictor did not become ready: {h}")
        time.sleep(1)
    return url, proc


seen_after: list[float] = []  # ms from a window's Kafka timestamp to this script's consumer seeing it


def collect(
    cfg: Config, start: dict[str, dict[TopicPartition, int]], sessions: set[int], idle_s: float, stop: threading.Event
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], tuple[int, float]]]:
    """Kafka timestamps of our windows and predictions, keyed by (session, window ts)."""
    consumer = KafkaConsumer(
        bootstrap_servers=cfg.kafka_bootstrap, enable_auto_commit=False, **kafka_auth.kafka_python(cfg)
    )
    parts = [tp for offsets in start.values() for tp in offsets]
    consumer.assign(parts)
    for offsets in start.values():
        for tp, off in offsets.items():
            consumer.seek(tp, off)
    windows: dict[tuple[int, int], int] = {}
    seen_after.clear()
    predictions: dict[tuple[int, int], tuple[int, float]] = {}
    last = time.monotonic()
    while not (stop.is_set() and time.monotonic() - last > idle_s):
        for tp, recs in consumer.poll(timeout_ms=200).items():
            for r in recs:
                if tp.topic == cfg.kafka_topic_windows:
                    w = WindowMessage.from_json(r.value)
                    if w.session_id in sessions and w.window_ms == cfg.live_window_ms:
                        windows[(w.session_id, w.ts_ms)] = r.timestamp
                        seen_after.append(time.time() * 1000 - r.timestamp)
                        last = time.monotonic()
                else:
                    p = PredictionMessage.from_json(r.value)
                    if p.session_id in sessions:
                        predictions[(p.session_id, p.ts_ms)] = (r.timestamp, p.latency_ms)
                        last = time.monotonic()
    consumer.close()
    return windows, predictions


def end_offsets(cfg: Config, topic: str) -> dict[TopicPartition, int]:
    c = KafkaConsumer(bootstrap_servers=cfg.kafka_bootstrap, **kafka_auth.kafka_python(cfg))
    try:
        parts = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or []]
        return dict(c.end_offsets(parts))
    finally:
        c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cars", type=int, default=10)
    ap.add_argument("--rate", type=float, default=20.0, help="frames per second per car")
    ap.add_argument("--seconds", type=float, default=60.0, help="session time streamed per car (real time)")
    ap.add_argument("--model-name", default=None, help="registered model (default: MODEL_NAME)")
    ap.add_argument("--seed", type=int, default=424)
    args = ap.parse_args()
    cfg = load_config()
    model_name = args.model_name or cfg.model_name
    url, proc = ensure_predictor(cfg, model_name)
    try:
        start = {t: end_offsets(cfg, t) for t in (cfg.kafka_topic_windows, cfg.kafka_topic_predictions)}
        stop = threading.Event()
        sessions: set[int] = set()
        result: dict[str, Any] = {}

        def consume() -> None:
            result["data"] = collect(cfg, start, sessions, 10.0, stop)

        reader = threading.Thread(target=consume)
        t0 = time.monotonic()
        sent_sessions = stream_and_register(cfg, args, sessions, reader)
        stop.set()
        reader.join()
        windows, predictions = result["data"]
        wall = time.monotonic() - t0
    finally:
        health = predictor_health(url) or {}
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    matched = [(predictions[k][0] - ts) for k, ts in windows.items() if k in predictions]
    lat = np.array(matched, dtype=np.float64)
    self_reported = np.array([v[1] for v in predictions.values()], dtype=np.float64)

    def pct(a: np.ndarray[Any, Any]) -> dict[str, float]:
        if not len(a):
            return {}
        return {f"p{q}": round(float(np.percentile(a, q)), 1) for q in (50, 95, 99)} | {"max": round(float(a.max()), 1)}

    out = {
        "cars": args.cars,
        "rate_hz": args.rate,
        "session_seconds": args.seconds,
        "wall_seconds": round(wall, 1),
        "sessions": len(sent_sessions),
        "windows": len(windows),
        "predicted_windows": len(matched),
        "model": health.get("model"),
        "latency_ms_window_to_prediction": pct(lat),
        "latency_ms_self_reported": pct(self_reported),
        "predictor_compute_ms_per_window": health.get("compute_ms_per_window"),
        "predictor_fetch_ms": health.get("fetch_ms"),
        # the same delay for this script's own consumer, which does nothing else: the floor any
        # consumer of telemetry.windows.v1 sees on this machine (includes the Flink producer's delivery)
        "bench_consumer_fetch_ms": pct(np.array(seen_after, dtype=np.float64)),
        "target_p95_ms": 200,
        "meets_target": bool(len(lat)) and float(np.percentile(lat, 95)) < 200,
    }
    print(json.dumps(out, indent=2))
    return 0 if out["meets_target"] else 1


def stream_and_register(
    cfg: Config, args: argparse.Namespace, sessions: set[int], reader: threading.Thread
) -> list[int]:
    """Create the cars, publish their session ids to the reader, start it, then stream in real time."""
    sims = simulated_cars(args.cars, args.rate, 1, args.seed)
    sessions.update(s.session_id for s in sims)
    reader.start()
    samples = itertools.takewhile(lambda s: s[0].sim_time < args.seconds, interleave(sims))
    enc = FrameEncoder(None, CATALOG)
    pacer = Pacer(1.0)
    with FrameSender(cfg.host_of("bridge"), cfg.bridge_udp_port) as sender:
        for header, values in samples:
            pacer.wait(header.sim_time)
            sender.send(enc.encode(header, values))
    return sorted(sessions)


if __name__ == "__main__":
    raise SystemExit(main())
