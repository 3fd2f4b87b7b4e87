"""Grafana alert rules, contact point, notification policy and annotations from the alarms file.

The stream job evaluates every limit of ``ALARMS_FILE`` (config/alarms.toml) with hysteresis and
writes each raise and clear to Cassandra (``recent_alerts``, one partition per limit, a week).
Grafana mirrors them, one alert rule per limit, so notifications and Grafana's alert list follow
the same file without a second definition of any limit:

    A  the limit's transitions in the rule's look-back (Cassandra datasource, alert mode: one
       series per session, labelled session and car): raised = 1 for a raise, 0 for a clear
    B  reduce A: last value per series (the session's latest transition)
    C  threshold B > 0: firing while the session's latest transition is a raise

The hysteresis is the job's (the rule fires and resolves at its raises and clears, ``for: 0s``); a
session without a transition in the look-back is "no data", which is normal (``noDataState: OK``).
Rules carry the limit's severity, channel and summary; they go to one webhook contact point
(``GRAFANA_ALERT_WEBHOOK_URL``, expanded by Grafana from its environment) through the notification
policy. Compose mounts grafana/provisioning, so Grafana loads ``provisioning/alerting/p424.yaml``
at start.

File format: Grafana's alerting file provisioning, ``apiVersion: 1`` (``groups``, ``contactPoints``,
``policies``), as read by grafana/grafana pkg/services/provisioning/alerting (types.go
AlertingFileV1, rules_types.go AlertRuleGroupV1/AlertRuleV1/QueryV1, contact_point_types.go
ContactPointV1/ReceiverV1, notification_policy_types.go) and documented for Grafana 12 under
"Use configuration files to provision alerting resources"; the expression models (reduce:
``expression``, ``reducer``, ``settings.mode``; threshold: ``expression``, ``conditions[].evaluator``)
are those of pkg/expr/commands.go and threshold.go. The Cassandra query model (``rawQuery``,
``queryType: "alert"``, ``target`` with ``$__timeFrom``/``$__timeTo``) is the one the
hadesarchitect-cassandra-datasource 3.2.0 backend reads (pkg/handler/data_query.go; in alert mode
pkg/plugin/plugin.go turns text columns into labels).

Annotations: ``annotation_queries()`` gives the dashboard annotation queries over ``lap_events`` and
``alerts`` (one per severity the file uses) for boards with a ``$session`` variable; Grafana's
standard annotation support maps the columns named time, timeEnd, text and tags.
"""

from __future__ import annotations

from typing import Any

import yaml

from grafana.cqlcheck import problems, schema
from grafana.queries import CASSANDRA_TYPE, CASSANDRA_UID
from p424 import derived
from p424.config import Config
from p424.derived.alarms import SEVERITIES, AlarmSet, Limit

ALERTING_FILE = "provisioning/alerting/p424.yaml"
FOLDER = "PERRINN 424 alarms"  # not the dashboards' folder: rule provisioning would create it by title first
GROUP = "p424-alarms"
CONTACT_POINT = "p424-alarms-webhook"
WEBHOOK_URL = "${GRAFANA_ALERT_WEBHOOK_URL}"  # expanded by Grafana from its environment (compose)
EXPRESSION_UID = "__expr__"
RULE_UID_PREFIX = "p424-"
SEVERITY_COLOURS = {"critical": "red", "warning": "orange", "info": "blue"}
FIRING = {"type": "gt", "params": [0]}  # the session's latest transition is a raise (raised = 1)


def rule_query(limit: Limit) -> str:
    """A limit's transitions in the rule's time range, one series per session."""
    return (
        "SELECT CAST(session_id AS text) AS session, raised, ts, CAST(car_id AS text) AS car "
        f"FROM recent_alerts WHERE limit_name = '{limit.name}' AND ts >= $__timeFrom AND ts <= $__timeTo"
    )


def events_annotation_query() -> str:
    return (
        "SELECT session_id, ts AS time, end_ts AS timeend, summary AS text, kind AS tags "
        "FROM lap_events WHERE session_id = $session"
    )


def alerts_annotation_query(severity: str) -> str:
    return (
        "SELECT session_id, ts AS time, summary AS text, limit_name AS tags "
        f"FROM alerts WHERE session_id = $session AND severity = '{severity}' ALLOW FILTERING"
    )


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if not duration or duration[-1] not in units or not duration[:-1].isdigit():
        raise ValueError(f"a duration such as 10s, 5m or 6h, not {duration!r}")
    return int(duration[:-1]) * units[duration[-1]]


def _cassandra(ref: str, cql: str) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": {"type": CASSANDRA_TYPE, "uid": CASSANDRA_UID},
        "rawQuery": True,
        "queryType": "alert",
        "target": cql,
    }


def _expression(ref: str, model: dict[str, Any]) -> dict[str, Any]:
    return {
        "refId": ref,
        "relativeTimeRange": {"from": 0, "to": 0},
        "datasourceUid": EXPRESSION_UID,
        "model": {"refId": ref, "datasource": {"type": EXPRESSION_UID, "uid": EXPRESSION_UID}, **model},
    }


def rule(limit: Limit, lookback_s: int) -> dict[str, Any]:
    shown = f"{limit.direction} {limit.threshold * limit.factor:g} {limit.unit}".rstrip()
    return {
        "uid": f"{RULE_UID_PREFIX}{limit.name}"[:40],
        "title": limit.name,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": lookback_s, "to": 0},
                "datasourceUid": CASSANDRA_UID,
                "model": _cassandra("A", rule_query(limit)),
            },
            _expression("B", {"type": "reduce", "expression": "A", "reducer": "last", "settings": {"mode": "dropNN"}}),
            _expression("C", {"type": "threshold", "expression": "B", "conditions": [{"evaluator": FIRING}]}),
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": "0s",
        "annotations": {
            "summary": limit.summary,
            "description": (
                f"Session {{{{ $labels.session }}}} (car {{{{ $labels.car }}}}): {limit.channel} {limit.stat} {shown} "
                f"for {limit.for_s:g} s (clears {limit.clear_margin * limit.factor:g} {limit.unit} back inside for "
                f"{limit.clear_for_s:g} s). Raised by the stream job (config/alarms.toml)."
            ),
        },
        "labels": {"severity": limit.severity, "limit": limit.name, "channel": limit.channel, "source": "p424-stream"},
        "isPaused": False,
    }


def provisioning(alarms: AlarmSet, webhook_url: str = WEBHOOK_URL) -> dict[str, Any]:
    """The alerting provisioning document (rules, contact point, policy) for an alarms file."""
    lookback = _seconds(alarms.grafana.lookback)
    _seconds(alarms.grafana.interval)  # checked here, written as the file says
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": GROUP,
                "folder": FOLDER,
                "interval": alarms.grafana.interval,
                "rules": [rule(limit, lookback) for limit in alarms.limits],
            }
        ],
        "contactPoints": [
            {
                "orgId": 1,
                "name": CONTACT_POINT,
                "receivers": [
                    {
                        "uid": CONTACT_POINT,
                        "type": "webhook",
                        "settings": {"url": webhook_url, "httpMethod": "POST"},
                        "disableResolveMessage": False,
                    }
                ],
            }
        ],
        "policies": [
            {
                "orgId": 1,
                "receiver": CONTACT_POINT,
                "group_by": ["grafana_folder", "alertname", "session"],
                "group_wait": "5s",
                "group_interval": "1m",
                "repeat_interval": "4h",
            }
        ],
    }


def annotation_queries(alarms: AlarmSet) -> list[dict[str, Any]]:
    """Dashboard annotation queries (Grafana dashboard JSON ``annotations.list`` entries) for boards with
    a ``$session`` variable: the session's lap events, and its alarm transitions per severity."""
    source = {"type": CASSANDRA_TYPE, "uid": CASSANDRA_UID}

    def entry(name: str, colour: str, ref: str, cql: str) -> dict[str, Any]:
        target = {"refId": ref, "datasource": source, "queryType": "query", "rawQuery": True, "target": cql}
        shown = {"enable": True, "hide": False, "iconColor": colour}
        return {"name": name, **shown, "datasource": source, "target": target}

    used = [s for s in SEVERITIES[::-1] if any(limit.severity == s for limit in alarms.limits)]
    return [
        entry("Lap events", "purple", "events", events_annotation_query()),
        *(entry(f"Alarms: {s}", SEVERITY_COLOURS[s], f"alarms_{s}", alerts_annotation_query(s)) for s in used),
    ]


def default_alarms() -> AlarmSet:
    """The alarms of the built-in default files (committed files never depend on the local environment)."""
    cfg = Config()
    return derived.from_sources(*derived.sources(cfg)).alarms


def check_queries(alarms: AlarmSet) -> None:
    """Every query the rules and annotations run, checked against the Cassandra schema."""
    tables = schema()
    errors = [f"rule {limit.name}: {p}" for limit in alarms.limits for p in problems(rule_query(limit), tables)]
    for a in annotation_queries(alarms):
        errors += [f"annotation {a['name']!r}: {p}" for p in problems(a["target"]["target"], tables)]
    if errors:
        raise ValueError("alerting queries do not match the Cassandra schema:\n  " + "\n  ".join(errors))


HEADER = "# Generated by `python -m grafana generate` from config/alarms.toml (grafana/alerting.py): edit those.\n"


def provisioning_files() -> dict[str, str]:
    """Relative path -> text of the alerting provisioning file (for grafana/generate.py)."""
    alarms = default_alarms()
    check_queries(alarms)
    text = yaml.safe_dump(provisioning(alarms), sort_keys=False, width=120, allow_unicode=True)
    return {ALERTING_FILE: HEADER + text}
