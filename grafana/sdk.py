"""The grafana-foundation-sdk modules this package uses, imported once with one warning silenced.

The SDK marks its v1 dashboard schema deprecated in favour of v2 at import time. Grafana 12 still
provisions v1 dashboards (schemaVersion 42) and serves v2 only behind feature flags, so the v1
schema is the right target; the warning says nothing actionable, and importing here first keeps
it out of every caller (the tests turn warnings into errors).
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Prefer using dashboardv2", category=DeprecationWarning)
    from grafana_foundation_sdk.builders import (  # noqa: F401  (imported for their side effect too)
        barchart,
        bargauge,
        stat,
        table,
        timeseries,
        trend,
        xychart,
    )
    from grafana_foundation_sdk.builders import dashboard as dashboard_builders  # noqa: F401
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models import dashboard as mdash
    from grafana_foundation_sdk.models import prometheus as prometheus_model

__all__ = ["JSONEncoder", "mdash", "prometheus_model", "register_default_plugins"]
