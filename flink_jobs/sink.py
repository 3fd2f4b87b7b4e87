"""The job's sink: Cassandra upserts and the derived Kafka topics, as a PyFlink AsyncFunction.

Why an AsyncFunction: Flink waits for every in-flight async call before a checkpoint completes
(and at the end of each Python bundle), so a checkpoint never covers a write that has not been
acknowledged. Together with upserts of absolute values this gives at-least-once delivery with
idempotent results: after a failure the job rewinds to its last checkpoint and rewrites the same
rows. Failed writes are retried with back-off; if Cassandra stays down the call times out, the
job restarts from its checkpoint, and data waits in Kafka.

Kafka messages (windows, laps and alarm transitions as JSON) are produced here rather than with
Flink's KafkaSink so they can be keyed by session, which keeps each session's messages in order for
live consumers.

Maths channels: every window row's maths blob is written; the 1 s rows (``WINDOW_COLUMNS_MS``)
also get the ``<name>_<stat>`` columns of the row's maths channels that the table has (the
migrator adds the configured file's on ``up``), with one prepared statement per set of names, so
a maths file edited before the schema catches up loses no row, only columns (the blob has them).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from cassandra.cluster import Cluster, ResponseFuture, Session
from cassandra.query import UNSET_VALUE, PreparedStatement
from pyflink.datastream import RuntimeContext
from pyflink.datastream.functions import AsyncFunction

from p424.config import Config
from p424.kafka import live as kafka_live
from p424.kafka.messages import alert_message, lap_message, quality_snapshot, window_message_json
from p424.processing.outputs import Outputs
from p424.storage import writes
from p424.storage.batches import unlogged_batches
from p424.storage.cluster import connect
from p424.storage.schema import maths_stat_columns

GIL_SWITCH_INTERVAL_S = 0.001
log = logging.getLogger("p424.sink")
BATCH_ROWS = 64  # rows per unlogged batch: ~20 KiB of frames, well under Cassandra's 50 KiB batch limit
RETRIES = 8
# How long open() waits for Cassandra. Short on purpose: while it waits the task cannot be cancelled,
# and a task not cancelled within Flink's task.cancellation.timeout (3 min) takes its TaskManager down
# with a fatal error (FLINK-4715), which nothing restarts natively. Failing fast leaves the waiting to
# the job's restart strategy (exponential delay, up to 1 min between attempts).
OPEN_CONNECT_TIMEOUT_S = 30.0


def _unset(params: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(UNSET_VALUE if p is None else p for p in params)


class TelemetrySink(AsyncFunction):  # type: ignore[misc]
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def open(self, runtime_context: RuntimeContext) -> None:
        cfg = self.cfg
        # The worker's I/O threads (driver, Kafka sender, event loop) each need the GIL briefly;
        # a shorter switch interval than the default 5 ms stops them queueing behind the bundle thread.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self.cluster: Cluster
        self.session: Session
        self.cluster, self.session = connect(cfg, timeout_s=OPEN_CONNECT_TIMEOUT_S)
        st = writes.Statements(cfg.cassandra_keyspace)
        prep: Callable[[str], PreparedStatement] = self.session.prepare
        self.ps = {
            "frame_block": prep(st.frame_block),
            "frame": prep(st.frame),
            "window": prep(st.window),
            "window_with_columns": prep(st.window_with_columns),
            "lap": prep(st.lap),
            "profile": prep(st.profile),
            "quality": prep(st.quality),
            "session": prep(st.session),
            "event": prep(st.event),
            "alert": prep(st.alert),
            "recent_alert": prep(st.recent_alert),
        }
        self._statements = st
        self._maths_ps: dict[tuple[str, ...], tuple[PreparedStatement, Callable[[Any], tuple[object, ...]]]] = {}
        # librdkafka: batching, compression and network I/O off the GIL this bundle thread holds.
        # Idempotent, so retries keep each session's windows in order for live consumers.
        self.producer = kafka_live.producer(
            cfg,
            "p424-flink-sink",
            enable_idempotence=True,
            delivery_timeout_ms=120_000,
        )
        self.deliveries = kafka_live.DeliveryPoller(self.producer, "sink-deliveries")
        self.deliveries.start()

    def close(self) -> None:
        undelivered = self.deliveries.stop(flush_timeout_s=30)
        if undelivered:
            log.warning("kafka records not delivered at close", extra={"records": undelivered})
        self.cluster.shutdown()

    # ---------- statements for one Outputs element ----------
    def rows(self, out: Outputs) -> list[tuple[PreparedStatement, tuple[object, ...]]]:
        """Every upsert of one element as (statement, parameters)."""
        now_ms = int(time.time() * 1000)
        ps = self.ps
        # Raw frames: one map-entry upsert per (bucket, block) of the element, and a row in `frames`
        # for each marked frame (Grafana reads those there); see p424.storage.writes.
        rows: list[tuple[PreparedStatement, tuple[object, ...]]] = [
            (ps["frame_block"], p) for p in writes.frame_block_params(out.frames)
        ]
        rows += [(ps["frame"], writes.frame_params(f)) for f in writes.marked(out.frames)]
        column_sizes = self.cfg.window_column_sizes
        for w in out.windows:
            if w.window_ms not in column_sizes:
                rows.append((ps["window"], _unset(writes.window_params(w))))
            elif w.maths is None:
                rows.append((ps["window_with_columns"], _unset(writes.window_with_columns_params(w))))
            else:
                statement, params = self._maths_statement(w.maths.names)
                rows.append((statement, _unset(params(w))))
        rows += [(ps["profile"], _unset(writes.profile_params(p))) for p in out.profile]
        rows += [(ps["lap"], _unset(writes.lap_params(lap))) for lap in out.laps]
        if out.quality:
            rows.append((ps["quality"], writes.quality_params(out.quality[-1], now_ms)))
        if out.sessions:
            rows.append((ps["session"], writes.session_params(out.sessions[-1], now_ms)))
        rows += [(ps["event"], _unset(writes.event_params(e))) for e in out.events]
        for a in out.alerts:
            rows.append((ps["alert"], writes.alert_params(a)))
            rows.append((ps["recent_alert"], writes.recent_alert_params(a)))
        return rows

    def _maths_statement(
        self, names: tuple[str, ...]
    ) -> tuple[PreparedStatement, Callable[[Any], tuple[object, ...]]]:
        """The 1 s window upsert with the columns of these maths channels that the table has."""
        found = self._maths_ps.get(names)
        if found is None:
            self.cluster.refresh_table_metadata(self.cfg.cassandra_keyspace, "channel_windows")
            existing = self.cluster.metadata.keyspaces[self.cfg.cassandra_keyspace].tables["channel_windows"].columns
            present = tuple(n for n in names if all(c in existing for c in maths_stat_columns((n,))))
            if present != names:
                missing = sorted(set(names) - set(present))
                log.warning("maths channels without window columns (run provision)", extra={"channels": missing})
            statement = self.session.prepare(self._statements.window_with_maths_columns(present))
            found = (statement, writes.window_with_maths_columns(present).params)
            self._maths_ps[names] = found
        return found

    def statements(self, out: Outputs) -> list[Any]:
        """The element's upserts as few requests: unlogged batches of up to BATCH_ROWS rows.

        An element belongs to one session and spans a handful of its partitions (a frame bucket,
        a window partition per size, a lap's profile, the session's rows), so a batch is one
        request instead of one per row (measured: ~8 % more throughput than per-partition
        batches).
        """
        # At the session's consistency, LOCAL_QUORUM (p424.storage.cluster).
        return unlogged_batches(self.rows(out), BATCH_ROWS)

    def messages(self, out: Outputs) -> list[tuple[str, bytes, bytes]]:
        cfg = self.cfg
        quality = quality_snapshot(out.quality[-1]) if out.quality else None
        msgs = []
        for w in out.windows:
            if w.window_ms == cfg.live_window_ms:
                key = str(w.session_id).encode()
                msgs.append((cfg.kafka_topic_windows, key, window_message_json(w, quality=quality)))
        for lap in out.laps:
            msgs.append((cfg.kafka_topic_laps, str(lap.session_id).encode(), lap_message(lap).to_json()))
        for a in out.alerts:
            msgs.append((cfg.kafka_topic_alerts, str(a.session_id).encode(), alert_message(a).to_json()))
        return msgs

    # ---------- async execution ----------
    async def async_invoke(self, value: Outputs) -> list[int]:
        """Write one element's rows and messages; return when all are acknowledged.

        Completions arrive on the driver's I/O thread and the Kafka delivery thread; they are counted there
        and the event loop is woken once per element, not once per statement.
        """
        loop = asyncio.get_running_loop()
        pending = list(self.statements(value))
        messages = self.messages(value)
        delay = 0.2
        for attempt in range(RETRIES):
            failed = await self._round(loop, pending, messages)
            messages = []  # Kafka retries internally (delivery timeout); only CQL is retried here
            if not failed:
                return [len(pending)]
            if attempt == RETRIES - 1:
                raise failed[0][1]
            log.warning(
                "cassandra writes failed, retrying", extra={"attempt": attempt + 1, "error": repr(failed[0][1])}
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            pending = [stmt for stmt, _ in failed]
        return [0]

    async def _round(
        self, loop: asyncio.AbstractEventLoop, stmts: list[Any], messages: list[tuple[str, bytes, bytes]]
    ) -> list[tuple[Any, BaseException]]:
        done: asyncio.Future[None] = loop.create_future()
        remaining = [len(stmts) + len(messages)]
        failed: list[tuple[Any, BaseException]] = []
        lock = threading.Lock()
        kafka_error: list[BaseException] = []

        def finish_one(stmt: Any = None, err: BaseException | None = None, kafka: bool = False) -> None:
            with lock:
                if err is not None:
                    (kafka_error.append(err) if kafka else failed.append((stmt, err)))
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                loop.call_soon_threadsafe(_resolve, done, None)

        if remaining[0] == 0:
            return failed
        for stmt in stmts:
            rf: ResponseFuture = self.session.execute_async(stmt, timeout=20)
            rf.add_callbacks(lambda _rows, st=stmt: finish_one(st), lambda err, st=stmt: finish_one(st, err))

        def delivered(err: kafka_live.KafkaError | None, _msg: kafka_live.Message) -> None:
            finish_one(err=None if err is None else kafka_live.KafkaException(err), kafka=True)

        for topic, key, payload in messages:
            kafka_live.produce(self.producer, topic, key, payload, delivered)
        await done
        if kafka_error:
            raise kafka_error[0]  # delivery timed out after librdkafka's own retries: fail, restore, replay
        return failed


def _resolve(fut: asyncio.Future[None], err: BaseException | None) -> None:
    if fut.done():
        return
    if err is None:
        fut.set_result(None)
    else:
        fut.set_exception(err)
