"""PyFlink job: telemetry frames from Kafka -> per-session processing -> Cassandra and Kafka.

    telemetry.frames.v1 (protocol-v1 bytes)
      -> key by session id
      -> SessionFunction: dedup, per-session event-time re-ordering, tumbling windows of whole
         frames (vectorised), lap detection and summaries, distance profile, session quality,
         maths channels, lap events and alarms (the files MATHS_CHANNELS_FILE, EVENTS_FILE, ALARMS_FILE)
      -> TelemetrySink (async): idempotent Cassandra upserts; windows, laps and alerts as JSON to Kafka

Delivery guarantee: at-least-once (checkpoints in AT_LEAST_ONCE mode, Kafka offsets in the
checkpoint) with idempotent writes, so a restore leaves Cassandra complete and duplicate-free.
Topics, hosts and sizes come from the platform configuration; nothing is hard-coded here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyflink.common import Configuration, Types, WatermarkStrategy
from pyflink.common.serialization import ByteArraySchema
from pyflink.common.time import Time
from pyflink.datastream import AsyncDataStream, CheckpointingMode, StreamExecutionEnvironment
from pyflink.datastream.connectors.base import Sink
from pyflink.datastream.connectors.kafka import KafkaOffsetResetStrategy, KafkaOffsetsInitializer, KafkaSource
from pyflink.java_gateway import get_gateway

# The job runs from the repository (flink run --python); make the shared package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flink_jobs.session_function import SessionFunction
from flink_jobs.sink import TelemetrySink
from p424 import derived
from p424.codec.frame import frame_session_id
from p424.config import Config, load_config
from p424.kafka import auth as kafka_auth
from p424.processing.idle import horizons_of
from p424.processing.session import ProcessingSettings


def build(env: StreamExecutionEnvironment, cfg: Config) -> None:
    builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(cfg.kafka_bootstrap)
        .set_topics(cfg.kafka_topic_frames)
        .set_group_id(cfg.flink_job_name)
        # Resume from committed offsets; a brand-new group starts at the beginning of the topic.
        .set_starting_offsets(KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST))
        .set_value_only_deserializer(ByteArraySchema())
        .set_property("commit.offsets.on.checkpoint", "true")
        .set_property("partition.discovery.interval.ms", "60000")
    )
    # SASL/SCRAM as the job's user when auth is on, with the connector jar's relocated Kafka client.
    for key, value in kafka_auth.java_client(cfg, kafka_auth.FLINK_CONNECTOR_SHADING).items():
        builder = builder.set_property(key, value)
    source = builder.build()
    # Event time is each session's own clock, handled per session inside SessionFunction (Kafka
    # partitions multiplex sessions with unrelated clocks), so no Flink watermarks are generated.
    frames = env.from_source(source, WatermarkStrategy.no_watermarks(), f"kafka: {cfg.kafka_topic_frames}").uid(
        "kafka-frames"
    )
    settings = ProcessingSettings(
        window_sizes_ms=cfg.window_sizes,
        out_of_orderness_s=cfg.out_of_orderness_ms / 1000.0,
    )
    definitions = derived.load(cfg)  # checked here: a wrong file fails the submission with its error
    outputs = (
        frames.key_by(frame_session_id, key_type=Types.LONG())
        .process(
            SessionFunction(settings, horizons_of(cfg), cfg.flink_emit_interval_ms, definitions),
            output_type=Types.PICKLED_BYTE_ARRAY(),
        )
        .name("sessions: dedup, re-order, windows, laps, quality, maths, events, alarms")
        .uid("session-processor")
    )
    written = (
        AsyncDataStream.unordered_wait(
            outputs,
            TelemetrySink(cfg),
            # No operator timeout: PyFlink starts a timer thread per element for one (measured: a
            # sixth of the Python worker's time). The sink bounds its own waits: CQL requests
            # time out after 20 s and are retried, Kafka deliveries after their delivery timeout.
            Time.milliseconds(0),
            cfg.flink_sink_capacity,
            Types.INT(),
        )
        .name("sink: cassandra upserts + kafka windows/laps/alerts")
        .uid("telemetry-sink")
    )
    discard = get_gateway().jvm.org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink()
    written.sink_to(Sink(discard)).name("end")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job-name", required=True)
    parser.add_argument("--pipeline-jars", required=True, help="';'-separated file:// URLs of connector jars")
    args = parser.parse_args(argv)
    cfg = load_config()
    conf = Configuration()
    # Python bundles bound the latency between Kafka and Cassandra.
    conf.set_string("python.fn-execution.bundle.time", str(cfg.flink_bundle_time_ms))
    conf.set_string("python.fn-execution.bundle.size", "2000")
    conf.set_string("pipeline.name", args.job_name)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.add_jars(*args.pipeline_jars.split(";"))
    env.set_parallelism(cfg.flink_parallelism)
    env.set_buffer_timeout(20)
    env.enable_checkpointing(cfg.flink_checkpoint_interval_ms, CheckpointingMode.AT_LEAST_ONCE)
    checkpoints = env.get_checkpoint_config()
    checkpoints.set_min_pause_between_checkpoints(1000)
    checkpoints.set_checkpoint_timeout(10 * 60 * 1000)
    checkpoints.set_tolerable_checkpoint_failure_number(3)
    build(env, cfg)
    env.execute_async(args.job_name)


if __name__ == "__main__":
    main()
