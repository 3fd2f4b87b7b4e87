"""Smallest PyFlink job that proves the cluster, the connector jar and the Python workers work:
read strings from one Kafka topic, upper-case them in Python, write them to another topic.
Used by the platform smoke test; not part of the running platform."""

from __future__ import annotations

import argparse

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
    source = (
        KafkaSource.builder()
        .set_bootstrap_servers(a.bootstrap)
        .set_topics(a.source_topic)
        .set_group_id(a.job_name)
        .set_starting_offsets(KafkaOffsetsInitializer.earliest())
        .set_value_only_deserializer(SimpleStringSchema())
        .build()
    )
    sink = (
        KafkaSink.builder()
        .set_bootstrap_servers(a.bootstrap)
        .set_record_serializer(
            KafkaRecordSerializationSchema.builder()
            .set_topic(a.sink_topic)
            .set_value_serialization_schema(SimpleStringSchema())
            .build()
        )
        .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
        .build()
    )
    (
        env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka")
        .map(lambda s: s.upper(), output_type=Types.STRING())
        .name("upper-case in Python")
        .sink_to(sink)
    )
    env.execute_async(a.job_name)


if __name__ == "__main__":
    main()
