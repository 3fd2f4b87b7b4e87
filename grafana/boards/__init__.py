"""The platform's dashboards, built from the channel catalog with grafana-foundation-sdk."""

import grafana.sdk  # noqa: F401  (first: imports the SDK with its v1-schema warning silenced)
