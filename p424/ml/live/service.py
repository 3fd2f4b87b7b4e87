"""The live prediction service: windows in, lap-time and energy predictions out, every window.

Threads: the Kafka loop (this class's ``run``: poll windows and lap summaries, update the lap-so-far
state, predict in one batch per poll, write), the Kafka delivery poller (serves the producer's
delivery reports), the model watcher (``p424.ml.live.models``: polls the registry for each track's
``champion`` and loads a new version in the background, so a reload never stalls the loop) and the
HTTP server (``/health`` JSON, ``/metrics`` Prometheus).

Tracks: each session is predicted by the champion of its track (the ``sessions`` row's track, else
``DEFAULT_TRACK``). A session on a track without a champion gets no predictions at all (rather than
baseline-only rows, which a dashboard or a drift record could mistake for a model's): /health lists
the track under ``models`` with the reason and the session under ``sessions_without_model``, and the
log says so once per track. Its lap-so-far state is kept, so predictions start mid-lap, with the
features of the whole lap, as soon as a champion appears.

Delivery: at most once per window. Offsets are committed automatically by the consumer group; after
a restart the service resumes where the group left off, and a lap it joins mid-way is rebuilt from
the lap's windows already in Cassandra (``backfill``), so features stay the same as in training.
Writes to Cassandra are asynchronous upserts keyed by session, lap and window: a replay rewrites the
same rows.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any

import numpy as np
import orjson
import pandas as pd
from cassandra.cluster import ResponseFuture
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from threadpoolctl import threadpool_limits

from p424.config import Config
from p424.kafka import live as kafka_live
from p424.kafka.live import Record
from p424.kafka.messages import LapMessage, PredictionMessage, WindowMessage
from p424.ml.features import SPEC, WindowObs
from p424.ml.live.models import ModelWatcher, ServingModel, SessionTracks
from p424.ml.live.records import LapError, PredictionRow
from p424.ml.live.state import LiveState, WindowContext
from p424.ml.model import THREADS
from p424.records import fields_from
from p424.security.http import HttpAuth
from p424.status_http import serve_status
from p424.storage import writes
from p424.storage.batches import unlogged_batches
from p424.storage.reader import TelemetryStore

log = logging.getLogger("p424.predictor")
LATENCY_SAMPLES = 50_000
POLL_RECORDS = 200
BATCH_ROWS = 100
IDLE_SESSION_S = 600.0
GIL_SWITCH_INTERVAL_S = 0.001  # the Kafka I/O threads get the GIL without waiting 5 ms behind the model
UNSERVED_SHOWN = 50  # sessions without a model listed in /health (the most recent)
_message_fields = fields_from(PredictionRow, PredictionMessage, "latency_ms")


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.windows = 0
        self.predictions = 0
        self.laps_scored = 0
        self.backfills = 0
        self.unserved = 0  # windows of sessions whose track has no champion
        self.write_errors = 0
        self.batches = 0
        self.latency = deque[float](maxlen=LATENCY_SAMPLES)  # ms, window on Kafka -> prediction sent
        self.compute = deque[float](maxlen=LATENCY_SAMPLES)  # ms per window, features + model, per batch
        self.fetch = deque[float](maxlen=LATENCY_SAMPLES)  # ms, window on Kafka -> in a poll result

    @staticmethod
    def percentiles(values: deque[float]) -> dict[str, float]:
        if not values:
            return {}
        a = np.fromiter(values, dtype=np.float64)
        return {
            "p50": float(np.percentile(a, 50)),
            "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)),
            "max": float(a.max()),
            "samples": float(len(a)),
        }


class PrometheusView(Collector):
    def __init__(self, predictor: Predictor) -> None:
        self.p = predictor

    def collect(self) -> Iterator[Metric]:
        m = self.p.metrics
        for name, doc, value in (
            ("p424_predictor_windows", "Window messages consumed", m.windows),
            ("p424_predictor_predictions", "Predictions written", m.predictions),
            ("p424_predictor_laps_scored", "Completed laps whose prediction error was stored", m.laps_scored),
            ("p424_predictor_backfills", "Laps joined mid-way and rebuilt from Cassandra", m.backfills),
            ("p424_predictor_unserved_windows", "Windows of sessions on a track without a champion", m.unserved),
            ("p424_predictor_write_errors", "Failed Cassandra or Kafka writes", m.write_errors),
        ):
            c = CounterMetricFamily(name, doc)
            c.add_metric([], value)
            yield c
        g = GaugeMetricFamily("p424_predictor_latency_ms", "Window on Kafka to prediction sent", labels=["quantile"])
        for q, v in Metrics.percentiles(m.latency).items():
            if q.startswith("p"):
                g.add_metric([q], v)
        yield g
        g = GaugeMetricFamily(
            "p424_predictor_model_version", "Champion version served per track (0: none)", labels=["model", "track"]
        )
        for status in self.p.watcher.status.values():
            g.add_metric([status.model, status.track], float(status.version or 0))
        yield g
        g = GaugeMetricFamily("p424_predictor_open_laps", "Laps with live state")
        g.add_metric([], self.p.state.open_laps)
        yield g


class Predictor:
    def __init__(
        self, cfg: Config, group_id: str = "p424-predictor", model_poll_s: float = 10.0, from_beginning: bool = False
    ) -> None:
        self.cfg = cfg
        self.model_name = cfg.model_name
        self.group_id = group_id
        self.state = LiveState()
        self.metrics = Metrics()
        self.watcher = ModelWatcher(cfg.mlflow_url, cfg.model_name, poll_s=model_poll_s)
        self.stopping = threading.Event()
        self.store = TelemetryStore(cfg)
        self.tracks = SessionTracks(self.store.session_row, cfg.default_track)
        self.unserved: OrderedDict[int, str] = OrderedDict()  # session -> track without a champion, newest last
        self._prepare_statements()
        self.consumer = kafka_live.consumer(cfg, group_id, "p424-predictor", from_beginning)
        # The assignment is tracked from the rebalance callbacks: the consumer's own methods wait
        # while another thread is inside consume(), and /health must answer at once.
        self.assigned_partitions = 0
        self.consumer.subscribe(
            [cfg.kafka_topic_windows, cfg.kafka_topic_laps], on_assign=self._assigned, on_revoke=self._revoked
        )
        # acks=all like every producer of the platform: in a cluster a prediction acknowledged by its
        # partition leader alone would be lost with that broker (one replica in a single topology).
        self.producer = kafka_live.producer(cfg, "p424-predictor")
        self.deliveries = kafka_live.DeliveryPoller(self.producer, "prediction-deliveries")
        self.http: ThreadingHTTPServer | None = None

    def _prepare_statements(self) -> None:
        ks = self.cfg.cassandra_keyspace
        session = self.store.session
        tables = session.cluster.metadata.keyspaces.get(ks)
        if tables is None or "predictions" not in tables.tables or "prediction_errors" not in tables.tables:
            raise RuntimeError(
                f"tables {ks}.predictions / {ks}.prediction_errors are missing: apply the schema with "
                "`./launchcommand.sh provision` (migration 0002_predictions.cql)"
            )
        statements = writes.Statements(ks)
        self.ps_prediction = session.prepare(statements.prediction)
        self.ps_error = session.prepare(statements.prediction_error)

    def _assigned(self, _consumer: kafka_live.Consumer, partitions: list[kafka_live.TopicPartition]) -> None:
        self.assigned_partitions = len(partitions)

    def _revoked(self, _consumer: kafka_live.Consumer, _partitions: list[kafka_live.TopicPartition]) -> None:
        self.assigned_partitions = 0

    # ------------------------------------------------------------------ health
    def health(self) -> dict[str, Any]:
        assigned = self.assigned_partitions if not self.stopping.is_set() else 0
        m = self.metrics
        return {
            "status": "ok" if assigned else "joining",
            "model_name": self.model_name,
            # per track: its registered model and the champion version served, or why there is none
            "models": {s.track: s.to_health() for s in self.watcher.status.values()},
            "registry_note": self.watcher.last_error,
            "sessions_without_model": {str(sid): track for sid, track in self.unserved.items()},
            "unserved_windows": m.unserved,
            "assigned_partitions": assigned,
            "group_id": self.group_id,
            "windows": m.windows,
            "predictions": m.predictions,
            "laps_scored": m.laps_scored,
            "backfills": m.backfills,
            "write_errors": m.write_errors,
            "open_laps": self.state.open_laps,
            "sessions": len(self.state.sessions),
            "latency_ms": Metrics.percentiles(m.latency),
            "compute_ms_per_window": Metrics.percentiles(m.compute),
            "fetch_ms": Metrics.percentiles(m.fetch),
            "uptime_s": time.time() - m.started,
        }

    def start_http(self, port: int) -> None:
        registry = CollectorRegistry()
        registry.register(PrometheusView(self))
        self.http = serve_status(
            self.cfg.platform_bind_address,
            port,
            registry,
            {"/health": lambda: (200, self.health())},
            auth=HttpAuth.of(self.cfg),
        )

    # ------------------------------------------------------------------ processing
    def backfill(self, msg: WindowMessage) -> None:
        """Rebuild a lap joined mid-way from its windows already stored (same window size)."""
        rows = self.store.windows(msg.session_id, msg.lap, msg.window_ms, SPEC.window_columns(), msg.lap_time)
        cutoff = datetime.fromtimestamp(msg.ts_ms / 1000, tz=UTC).replace(tzinfo=None)
        earlier = [WindowObs.from_row(r) for r in rows if r["frame_count"] and r["ts"] < cutoff]
        self.state.seed(msg.session_id, msg.lap, msg.car_id, earlier)
        self.metrics.backfills += 1
        log.info(
            "lap joined mid-way, rebuilt from Cassandra",
            extra={"session_id": msg.session_id, "lap": msg.lap, "windows": len(earlier)},
        )

    def handle(self, records: list[Record]) -> None:
        """One poll's records: windows first (predicted in one batch), then lap summaries."""
        now = time.time()
        live_ms = self.cfg.live_window_ms
        self.metrics.fetch.extend(now * 1000 - r.timestamp_ms for r in records if r.topic != self.cfg.kafka_topic_laps)
        batch: list[tuple[WindowContext, np.ndarray[Any, Any], int, str]] = []
        laps: list[LapMessage] = []
        for r in records:
            if r.topic == self.cfg.kafka_topic_laps:
                laps.append(LapMessage.from_json(r.value))
                continue
            doc = orjson.loads(r.value)
            if doc["window_ms"] != live_ms:
                continue
            msg = _window_header(doc)
            self.metrics.windows += 1
            if self.state.needs_backfill(msg):
                try:
                    self.backfill(msg)
                except Exception as err:
                    log.warning("backfill failed; the lap's features start here", extra={"error": repr(err)})
            seen = self.state.observe(msg, now, WindowObs.from_json_dict(doc))
            if seen is not None:
                track = self.tracks.track_of(msg.session_id, now)
                self.watcher.want(track)
                batch.append((seen[0], seen[1], r.timestamp_ms, track))
        if batch:
            self.predict(batch)
        for lap in laps:
            self.state.lap_summary(lap, now)
        self.finish_laps()

    def predict(self, batch: list[tuple[WindowContext, np.ndarray[Any, Any], int, str]]) -> None:
        """Each window by its track's champion, one model call per track; windows of tracks without one
        are counted and their sessions listed in /health."""
        by_model: dict[str, tuple[ServingModel, list[int]]] = {}
        for i, (ctx, _, _, track) in enumerate(batch):
            serving = self.watcher.model_for(track)
            if serving is None:
                self.metrics.unserved += 1
                self.unserved.pop(ctx.session_id, None)
                self.unserved[ctx.session_id] = track
                while len(self.unserved) > UNSERVED_SHOWN:
                    self.unserved.popitem(last=False)
                continue
            self.unserved.pop(ctx.session_id, None)
            by_model.setdefault(serving.name, (serving, []))[1].append(i)
        rows: dict[tuple[int, int], list[tuple[object, ...]]] = defaultdict(list)
        for serving, picked in by_model.values():
            self._predict_with(serving, [batch[i] for i in picked], rows)
        for partition_rows in rows.values():
            self._write_partition(partition_rows)

    def _predict_with(
        self,
        serving: ServingModel,
        batch: list[tuple[WindowContext, np.ndarray[Any, Any], int, str]],
        rows: dict[tuple[int, int], list[tuple[object, ...]]],
    ) -> None:
        started = time.perf_counter()
        features = pd.DataFrame(np.vstack([f for _, f, _, _ in batch]), columns=list(SPEC.names))
        pred = np.asarray(serving.model.predict(features), dtype=np.float64)
        base = np.asarray(serving.model.baseline(features), dtype=np.float64)
        self.metrics.compute.append((time.perf_counter() - started) * 1000 / len(batch))
        self.metrics.batches += 1
        for (ctx, _, kafka_ts, _), p, b in zip(batch, pred, base, strict=True):
            latency = time.time() * 1000 - kafka_ts
            predicted, baseline = (float(p[0]), float(p[1])), (float(b[0]), float(b[1]))
            self.state.record(ctx, predicted, baseline, serving.name, serving.version)
            row = PredictionRow(
                session_id=ctx.session_id,
                lap=ctx.lap,
                ts_ms=ctx.ts_ms,
                car_id=ctx.car_id,
                window_start=ctx.window_start,
                lap_distance=ctx.lap_distance,
                lap_time_so_far=ctx.lap_time_so_far,
                energy_so_far_kwh=ctx.energy_so_far_kwh,
                predicted_lap_time=predicted[0],
                predicted_energy_kwh=predicted[1],
                baseline_lap_time=baseline[0],
                baseline_energy_kwh=baseline[1],
                model_name=serving.name,
                model_version=serving.version,
                latency_ms=latency,
            )
            # Kafka first: it is the live path (Grafana Live); Cassandra keeps the history.
            kafka_live.produce(
                self.producer,
                self.cfg.kafka_topic_predictions,
                str(row.session_id).encode(),
                prediction_message(row).to_json(),
                self._delivered,
            )
            rows[(row.session_id, row.lap)].append(writes.prediction_params(row))
            self.metrics.latency.append(latency)
            self.metrics.predictions += 1

    def _write_partition(self, rows: list[tuple[object, ...]]) -> None:
        """One session-lap partition's predictions: one request per BATCH_ROWS rows."""
        for statement in unlogged_batches([(self.ps_prediction, r) for r in rows], BATCH_ROWS):
            fut: ResponseFuture = self.store.session.execute_async(statement, timeout=20)
            fut.add_errback(self._write_failed)

    def finish_laps(self) -> None:
        for err in self.state.finished(time.time()):
            self.store_error(err)

    def store_error(self, err: LapError) -> None:
        self._execute(self.ps_error, writes.prediction_error_params(err))
        self.metrics.laps_scored += 1
        log.info(
            "lap scored",
            extra={
                "session_id": err.session_id,
                "lap": err.lap,
                "mae_lap_time": err.mae_lap_time,
                "mae_energy_kwh": err.mae_energy_kwh,
            },
        )

    def _execute(self, ps: Any, params: tuple[object, ...]) -> None:
        fut: ResponseFuture = self.store.session.execute_async(ps, params, timeout=20)
        fut.add_errback(self._write_failed)

    def _delivered(self, err: kafka_live.KafkaError | None, _msg: kafka_live.Message) -> None:
        if err is not None:
            self._write_failed(err)

    def _write_failed(self, err: object) -> None:
        self.metrics.write_errors += 1
        if self.metrics.write_errors % 100 == 1:
            log.warning("write failed", extra={"error": repr(err), "write_errors": self.metrics.write_errors})

    # ------------------------------------------------------------------ lifecycle
    def run(self, http_port: int | None = None) -> None:
        # For the process's lifetime: small batches every 100 ms must not wait on a busy OpenMP pool.
        self._thread_limit = threadpool_limits(THREADS)
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self.watcher.start()
        self.deliveries.start()
        port = self.cfg.predictor_http_port if http_port is None else http_port
        self.start_http(port)
        log.info(
            "predictor running",
            extra={
                "model": self.model_name,
                "group": self.group_id,
                "windows": self.cfg.kafka_topic_windows,
                "http_port": port,
            },
        )
        last_sweep = time.monotonic()
        try:
            while not self.stopping.is_set():
                # Small batches: a burst is predicted and published in slices, not after all of it is decoded.
                records, errors = kafka_live.records(kafka_live.poll_batch(self.consumer, POLL_RECORDS, 0.1))
                for err in errors:
                    log.warning("kafka consumer error", extra={"error": str(err)})
                if records:
                    # Stable: keeps each partition's order; lap summaries after the windows they close.
                    records.sort(key=lambda r: r.topic == self.cfg.kafka_topic_laps)
                    self.handle(records)
                else:
                    self.finish_laps()  # summaries waiting for their grace period
                if time.monotonic() - last_sweep > 60:
                    self.state.forget_idle(time.time(), IDLE_SESSION_S)
                    self.tracks.forget(set(self.state.sessions))
                    last_sweep = time.monotonic()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.stopping.set()
        self.watcher.stopping.set()
        undelivered = self.deliveries.stop(flush_timeout_s=10)
        if undelivered:
            log.warning("predictions not delivered at shutdown", extra={"records": undelivered})
        self.consumer.close()
        self.store.close()
        if self.http is not None:
            self.http.shutdown()
        log.info("predictor stopped", extra={"predictions": self.metrics.predictions})

    def install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: object) -> None:
            log.info("signal received, stopping", extra={"signal": signal.Signals(signum).name})
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)


def prediction_message(row: PredictionRow) -> PredictionMessage:
    """The live message of a stored prediction: its fields by name, the latency to the microsecond."""
    return PredictionMessage(**_message_fields(row, round(row.latency_ms, 3)))


def _window_header(doc: dict[str, Any]) -> WindowMessage:
    """The window's identity and clocks; its channel statistics are decoded once, by ``WindowObs``."""
    return WindowMessage(
        session_id=doc["session_id"],
        car_id=doc["car_id"],
        window_ms=doc["window_ms"],
        lap=doc["lap"],
        window_start=doc["window_start"],
        ts_ms=doc["ts_ms"],
        lap_time=doc["lap_time"],
        lap_distance=doc["lap_distance"],
        frame_count=doc["frame_count"],
        channels={},
    )
