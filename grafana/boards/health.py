"""Platform health: bridge intake, Kafka consumer lag, Flink job and checkpoints, Cassandra writes,
and the Grafana Live pusher.

Datasources: Prometheus (compose scrapes the bridge's /metrics, Flink's Prometheus reporter, the
pusher's /metrics and a Kafka exporter: ``grafana/prometheus/prometheus.yml``) for rates over time;
Cassandra itself for its write rates, read from the ``system_views`` virtual tables through the
same Cassandra datasource (no JMX exporter needed, and it works against any Cassandra 4+).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.builders.prometheus import Dataquery as PromQuery
from grafana_foundation_sdk.models import common as mcommon
from grafana_foundation_sdk.models import dashboard as mdash

from grafana.boards.common import TAGS, PanelBuilder, number_panels, table_panel
from grafana.queries import Cql, cassandra_ref, prometheus_ref

UID = "p424-platform-health"
FLINK_JOB = 'job_name="p424-telemetry"'


def prom(expr: str, legend: str = "", ref: str = "A") -> PromQuery:
    q = PromQuery().expr(" ".join(expr.split())).ref_id(ref).range()
    return q.legend_format(legend) if legend else q


def series(
    title: str, targets: list[PromQuery], unit: str, *, description: str = "", width: int = 8, height: int = 7
) -> PanelBuilder:
    p = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(prometheus_ref())
        .unit(unit)
        .height(height)
        .span(width)
        .fill_opacity(10)
        .show_points(mcommon.VisibilityMode.NEVER)
        .legend(
            VizLegendOptions()
            .show_legend(True)
            .display_mode(mcommon.LegendDisplayMode.LIST)
            .placement(mcommon.LegendPlacement.BOTTOM)
        )
    )
    for t in targets:
        p = p.with_target(t)
    return p


def single(title: str, target: PromQuery, unit: str, *, description: str = "", width: int = 4) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(prometheus_ref())
        .with_target(target)
        .unit(unit)
        .height(4)
        .span(width)
        .graph_mode(mcommon.BigValueGraphMode.AREA)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def _state(title: str, target: PromQuery, ok: str, bad: str, description: str) -> PanelBuilder:
    return (
        single(title, target, "none", description=description)
        .mappings(
            [
                mdash.ValueMap(
                    options={
                        "1": mdash.ValueMappingResult(text=ok, color="green"),
                        "0": mdash.ValueMappingResult(text=bad, color="red"),
                    }
                ),
            ]
        )
        .color_mode(mcommon.BigValueColorMode.BACKGROUND)
        .graph_mode(mcommon.BigValueGraphMode.NONE)
    )


CASSANDRA_WRITES_CQL = """
SELECT keyspace_name, table_name, per_second, count, p99th_ms
FROM system_views.coordinator_write_latency WHERE keyspace_name = '${keyspace}'
"""


def build() -> mdash.Dashboard:
    keyspace = dash.ConstantVariable("keyspace").value("telemetry")
    d = (
        dash.Dashboard("PERRINN 424 · Platform health")
        .uid(UID)
        .tags([*TAGS, "health"])
        .description("Bridge intake and rejects, Kafka consumer lag, Flink job and checkpoints, Cassandra writes.")
        .time("now-30m", "now")
        .refresh("10s")
        .timezone("browser")
        .tooltip(mdash.DashboardCursorSync.CROSSHAIR)
        .with_variable(keyspace)
    )
    d = d.with_row(dash.Row("Bridge (UDP -> Kafka)"))
    for p in (
        single("Frames/s", prom("sum(rate(p424_bridge_frames_accepted_total[30s]))"), "short"),
        single("Rejects/s", prom("sum(rate(p424_bridge_frames_rejected_total[1m]))"), "short"),
        _state(
            "Kafka link",
            prom("max(p424_bridge_kafka_connected)"),
            "connected",
            "spooling",
            "1 when the bridge's forwarder is connected to Kafka; frames are spooled to disk meanwhile",
        ),
        single("Spool backlog", prom("max(p424_bridge_spool_backlog_bytes)"), "bytes"),
        single("Ack latency p99", prom('max(p424_bridge_ack_latency_ms{quantile="p99"})'), "ms"),
        single("Kernel drops/s", prom("sum(rate(p424_bridge_socket_drops_total[1m]))"), "short"),
        series(
            "Frames accepted per second",
            [prom("sum by (input) (rate(p424_bridge_frames_accepted_total[30s]))", "{{input}}")],
            "short",
        ),
        series(
            "Rejects per second by reason",
            [prom("sum by (reason) (rate(p424_bridge_frames_rejected_total[1m]))", "{{reason}}")],
            "short",
        ),
        series(
            "UDP receive to Kafka ack", [prom("max by (quantile) (p424_bridge_ack_latency_ms)", "{{quantile}}")], "ms"
        ),
    ):
        d = d.with_panel(p)
    d = d.with_row(dash.Row("Kafka consumer lag"))
    d = d.with_panel(
        series(
            "Consumer lag (records)",
            [
                prom("sum by (consumergroup, topic) (kafka_consumergroup_lag)", "{{consumergroup}} {{topic}}", "A"),
                prom(
                    f"sum(flink_taskmanager_job_task_operator_pendingRecords{{{FLINK_JOB}}})",
                    "flink source pending",
                    "B",
                ),
                prom("max(p424_grafana_live_consumer_lag)", "grafana live pusher", "C"),
            ],
            "short",
            width=24,
            description="Kafka exporter lag per consumer group, the Flink Kafka source's pending "
            "records and the Live pusher's own lag",
        )
    )
    d = d.with_row(dash.Row("Flink job"))
    checkpoint_age = (
        f"time() - max_over_time((timestamp(changes(flink_jobmanager_job_numberOfCompletedCheckpoints"
        f"{{{FLINK_JOB}}}[1m]) > 0))[1h:15s])"
    )
    for p in (
        _state(
            "Job state",
            prom(f"max(flink_jobmanager_job_runningState{{{FLINK_JOB}}})"),
            "RUNNING",
            "NOT RUNNING",
            "Flink's job status metric (metrics.job.status.enable: STATE)",
        ),
        single("Uptime", prom(f"max(flink_jobmanager_job_uptime{{{FLINK_JOB}}}) / 1000"), "s"),
        single("Restarts", prom(f"max(flink_jobmanager_job_numRestarts{{{FLINK_JOB}}})"), "none"),
        single(
            "Checkpoint age",
            prom(checkpoint_age),
            "s",
            description="Time since the completed-checkpoint count last rose (15 s resolution)",
        ),
        single(
            "Last checkpoint duration", prom(f"max(flink_jobmanager_job_lastCheckpointDuration{{{FLINK_JOB}}})"), "ms"
        ),
        single(
            "Failed checkpoints", prom(f"max(flink_jobmanager_job_numberOfFailedCheckpoints{{{FLINK_JOB}}})"), "none"
        ),
        series(
            "Records in/out per second",
            [
                prom(f"sum(rate(flink_taskmanager_job_task_numRecordsIn{{{FLINK_JOB}}}[1m]))", "in", "A"),
                prom(f"sum(rate(flink_taskmanager_job_task_numRecordsOut{{{FLINK_JOB}}}[1m]))", "out", "B"),
            ],
            "short",
            width=12,
        ),
        series(
            "Checkpoint duration and size",
            [
                prom(f"max(flink_jobmanager_job_lastCheckpointDuration{{{FLINK_JOB}}})", "duration (ms)", "A"),
            ],
            "ms",
            width=12,
        ),
    ):
        d = d.with_panel(p)
    d = d.with_row(dash.Row("Cassandra writes"))
    writes = (
        bargauge.Panel()
        .title("Writes per second by table")
        .datasource(cassandra_ref())
        .description("Coordinator write rate (one-minute rate) from system_views.coordinator_write_latency")
        .with_target(Cql(CASSANDRA_WRITES_CQL))
        .unit("wps")
        .height(8)
        .span(12)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(True).fields("per_second"))
    )
    d = d.with_panel(writes)
    d = d.with_panel(table_panel("Write latency by table", Cql(CASSANDRA_WRITES_CQL), width=12, height=8))
    d = d.with_row(dash.Row("Grafana Live pusher"))
    d = d.with_panel(
        series(
            "Lines per second",
            [
                prom("sum(rate(p424_grafana_live_lines_pushed_total[1m]))", "pushed", "A"),
                prom("sum(rate(p424_grafana_live_lines_dropped_total[1m]))", "dropped (buffer full)", "B"),
                prom("sum(rate(p424_grafana_live_lines_failed_total[1m]))", "failed pushes", "C"),
            ],
            "short",
            width=16,
        )
    )
    d = d.with_panel(single("Push back-off", prom("max(p424_grafana_live_backoff_seconds)"), "s", width=8))
    return number_panels(d.build())
