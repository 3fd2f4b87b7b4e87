"""Smallest PyFlink job that proves the cluster, the connector jar and the Python workers work:
read strings from one Kafka topic, upper-case them in Python, write them to another topic.
Used by the platform smoke test; not part of the running platform."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyflink.common import Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)

# The job runs from the repository (flink run --python); make the shared package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p424.config import load_config
from p424.kafka import auth as kafka_auth


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--job-name", required=True)
    p.add_argument("--pipeline-jars", required=True)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--source-topic", required=True)
    p.add_argument("--sink-topic", required=True)
    a = p.parse_args()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.add_jars(*a.pipeline_jars.split(";"))
    env.set_parallelism(1)
    # SASL/SCRAM as the Flink job's user when auth is on, with the connector jar's relocated client.
    login = kafka_auth.java_client(load_config(), kafka_auth.FLINK_CONNECTOR_SHADING)
    source_builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(a.bootstrap)
        .set_topics(a.source_topic)
        .set_group_id(a.job_name)
        .set_starting_offsets(KafkaOffsetsInitializer.earliest())
        .set_value_only_deserializer(SimpleStringSchema())
    )
    sink_builder = (
        KafkaSink.builder()
        .set_bootstrap_servers(a.bootstrap)
        .set_record_serializer(
            KafkaRecordSerializationSchema.builder()
            .set_topic(a.sink_topic)
            .set_value_serialization_schema(SimpleStringSchema())
            .build()
        )
        .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
    )
    for key, value in login.items():
        source_builder = source_builder.set_property(key, value)
        sink_builder = sink_builder.set_property(key, value)
    source, sink = source_builder.build(), sink_builder.build()
    (
        env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka")
        .map(lambda s: s.upper(), output_type=Types.STRING())
        .name("upper-case in Python")
        .sink_to(sink)
    )
    env.execute_async(a.job_name)


if __name__ == "__main__":
    main()
