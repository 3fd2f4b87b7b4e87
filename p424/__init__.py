"""Shared package of the PERRINN 424 telemetry platform: channel catalog, frame codec,
configuration, Kafka topics, Cassandra storage access, stream-processing core, analysis API and ML."""

__version__ = "0.1.0"
