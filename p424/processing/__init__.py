"""Stream processing core: pure, checkpointable per-session logic that the Flink job runs."""
