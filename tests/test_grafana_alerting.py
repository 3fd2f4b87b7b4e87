"""The Grafana alerting provisioning file generated from config/alarms.toml.

Checked against what Grafana's file provisioning requires, as its loader enforces it
(grafana/grafana pkg/services/provisioning/alerting: rules_types.go AlertRuleGroupV1.MapToModel and
AlertRuleV1.mapToModel: a group name, folder and Prometheus-style interval, rules with title, uid and
data, a condition unless the rule records; models.NoDataStateFromString / ErrStateFromString values;
contact_point_types.go: a name, receivers with uid, type and settings; notification_policy_types.go:
the policy is a route whose receiver must exist), and against the Cassandra schema.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from grafana import alerting
from grafana.cqlcheck import problems, schema
from grafana.generate import PROVISIONING_DIR
from grafana.queries import CASSANDRA_UID
from p424 import derived
from p424.config import REPO_ROOT, parse_env_file

FILE = PROVISIONING_DIR.parent / alerting.ALERTING_FILE
NO_DATA_STATES = {"NoData", "Alerting", "OK", "KeepLast"}
ERROR_STATES = {"Alerting", "Error", "OK", "KeepLast"}
DURATION = re.compile(r"^\d+[smhdwy]$")


def doc() -> dict:
    return yaml.safe_load(FILE.read_text())


def test_the_committed_file_is_what_the_alarms_file_renders() -> None:
    assert FILE.read_text() == alerting.provisioning_files()[alerting.ALERTING_FILE]
    assert doc()["apiVersion"] == 1


def test_every_limit_is_a_rule_grafana_accepts() -> None:
    alarms = derived.default().alarms
    (group,) = doc()["groups"]
    assert group["name"] and group["folder"] == alerting.FOLDER and DURATION.match(group["interval"])
    rules = {r["title"]: r for r in group["rules"]}
    assert list(rules) == [limit.name for limit in alarms.limits]
    assert len({r["uid"] for r in rules.values()}) == len(rules)
    for limit in alarms.limits:
        r = rules[limit.name]
        assert 0 < len(r["uid"]) <= 40 and re.fullmatch(r"[a-zA-Z0-9_-]+", r["uid"])
        assert r["noDataState"] in NO_DATA_STATES and r["execErrState"] in ERROR_STATES and DURATION.match(r["for"])
        refs = {q["refId"]: q for q in r["data"]}
        assert r["condition"] in refs
        query = refs["A"]
        assert query["datasourceUid"] == CASSANDRA_UID and query["model"]["queryType"] == "alert"
        assert query["model"]["rawQuery"] is True and f"limit_name = '{limit.name}'" in query["model"]["target"]
        assert query["relativeTimeRange"] == {"from": 6 * 3600, "to": 0}  # [grafana] lookback = "6h"
        assert refs["B"]["model"] | {"datasource": None} == {
            "refId": "B", "datasource": None, "type": "reduce", "expression": "A", "reducer": "last", "settings": {"mode": "dropNN"},
        }
        assert refs["C"]["model"]["conditions"] == [{"evaluator": {"type": "gt", "params": [0]}}]
        assert r["labels"]["severity"] == limit.severity and r["annotations"]["summary"] == limit.summary
        assert not problems(query["model"]["target"], schema())


def test_the_contact_point_is_the_configurable_webhook_and_the_policy_routes_to_it() -> None:
    d = doc()
    (point,) = d["contactPoints"]
    (receiver,) = point["receivers"]
    assert receiver["type"] == "webhook" and receiver["uid"] and receiver["settings"]["url"] == "${GRAFANA_ALERT_WEBHOOK_URL}"
    (policy,) = d["policies"]
    assert policy["receiver"] == point["name"]
    # Grafana expands ${GRAFANA_ALERT_WEBHOOK_URL} from its environment: compose gives the Grafana
    # container every setting (toolchain-config.env), where the variable has a default.
    compose = yaml.safe_load((REPO_ROOT / "compose" / "docker-compose.yml").read_text())
    files = compose["services"]["grafana"]["env_file"]
    paths = [f["path"] if isinstance(f, dict) else f for f in files]
    assert any(Path(p).name == "toolchain-config.env" for p in paths)
    assert parse_env_file(REPO_ROOT / "toolchain-config.env")["GRAFANA_ALERT_WEBHOOK_URL"].startswith("http")
    assert compose["services"]["grafana"]["environment"]["GF_UNIFIED_ALERTING_ENABLED"] == "true"


def test_annotation_queries_cover_events_and_each_severity_and_match_the_schema() -> None:
    alarms = derived.default().alarms
    entries = alerting.annotation_queries(alarms)
    assert [e["name"] for e in entries] == ["Lap events", "Alarms: critical", "Alarms: warning"]
    for e in entries:
        cql = e["target"]["target"]
        assert "$session" in cql and not problems(cql, schema())
        # Grafana's standard annotation support reads the fields named time and text (timeEnd, tags).
        assert " AS time," in cql and " AS text" in cql


def test_rules_read_a_session_s_latest_transition_last() -> None:
    # The rule reduces each session's series to its last value: recent_alerts must return rows oldest first.
    cql = (REPO_ROOT / "p424" / "storage" / "cql" / "0005_maths_events_alerts.cql").read_text()
    table = cql[cql.index("CREATE TABLE IF NOT EXISTS ${keyspace}.recent_alerts") :]
    assert "PRIMARY KEY ((limit_name), ts, session_id, kind)" in table and "CLUSTERING ORDER BY (ts ASC" in table
