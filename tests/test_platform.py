"""Issue 2 smoke tests: each real server of the native stack does its job, and `down` + `up` keeps data."""

from __future__ import annotations

import io
import subprocess
import time
import uuid
from pathlib import Path

import mlflow
import pytest
import requests
from kafka import KafkaProducer
from kafka.admin import NewTopic

from launcher.flink_submit import JobSpec
from launcher.provision import minio_client
from launcher.services.airflow import api_token
from p424.config import REPO_ROOT
from p424.kafka import auth as kafka_auth
from p424.kafka.access import grant
from p424.kafka.admin import admin_client
from p424.security.identities import identity
from p424.security.kafka import KafkaPrincipal
from p424.storage.cluster import connect
from tests.helpers import Stack, wait_for

pytestmark = pytest.mark.platform


def test_kafka_produce_and_consume(stack: Stack) -> None:
    topic = f"smoke.{uuid.uuid4().hex[:8]}"
    admin = admin_client(stack.cfg)
    admin.create_topics([NewTopic(topic, 2, 1)])
    try:
        producer = KafkaProducer(bootstrap_servers=stack.cfg.kafka_bootstrap, acks="all", **kafka_auth.kafka_python(stack.cfg))
        for i in range(10):
            producer.send(topic, key=b"k", value=f"m{i}".encode())
        producer.flush()
        producer.close()
        start = {tp: 0 for tp in stack.end_offsets(topic)}
        values = [r.value.decode() for r in stack.records_since(topic, start, until_count=10)]
        assert values == [f"m{i}" for i in range(10)]  # one key: one partition, in order
    finally:
        admin.delete_topics([topic])
        admin.close()


def test_cassandra_ddl_insert_select(stack: Stack) -> None:
    cluster, session = connect(stack.cfg)
    table = f"{stack.cfg.cassandra_keyspace}.smoke_{uuid.uuid4().hex[:8]}"
    try:
        session.execute(f"CREATE TABLE {table} (k int PRIMARY KEY, v text)")
        session.execute(f"INSERT INTO {table} (k, v) VALUES (%s, %s)", (1, "one"))
        assert session.execute(f"SELECT v FROM {table} WHERE k = 1").one().v == "one"
    finally:
        session.execute(f"DROP TABLE IF EXISTS {table}")
        cluster.shutdown()


def test_minio_put_and_get(stack: Stack) -> None:
    client = minio_client(stack.cfg)
    name = f"smoke/{uuid.uuid4().hex}.txt"
    client.put_object(stack.cfg.minio_bucket_telemetry, name, io.BytesIO(b"lap data"), 8)
    try:
        assert client.get_object(stack.cfg.minio_bucket_telemetry, name).read() == b"lap data"
        assert set(stack.cfg.buckets) <= {b.name for b in client.list_buckets()}
    finally:
        client.remove_object(stack.cfg.minio_bucket_telemetry, name)


def test_an_mlflow_artifact_lands_in_the_minio_bucket(stack: Stack, tmp_path: Path) -> None:
    mlflow.set_tracking_uri(stack.cfg.mlflow_url)
    mlflow.set_experiment("p424-smoke")
    note = tmp_path / "note.txt"
    note.write_text("artifact via the tracking server")
    with mlflow.start_run() as run:
        mlflow.log_metric("lap_time_s", 313.0)
        mlflow.log_artifact(str(note))
    objects = [
        o.object_name
        for o in minio_client(stack.cfg).list_objects(stack.cfg.minio_bucket_mlflow, recursive=True)
        if run.info.run_id in (o.object_name or "")
    ]
    assert any(o.endswith("/artifacts/note.txt") for o in objects), objects


def test_a_pyflink_job_reads_a_kafka_topic(stack: Stack) -> None:
    suffix = uuid.uuid4().hex[:8]
    src, dst = f"smoke.in.{suffix}", f"smoke.out.{suffix}"
    admin = admin_client(stack.cfg)
    admin.create_topics([NewTopic(src, 1, 1), NewTopic(dst, 1, 1)])
    jobs = stack.platform.flink_jobs()
    name = f"p424-smoke-{suffix}"
    if stack.cfg.auth_enabled:  # the job runs as the Flink job's Kafka user: allow it these topics too
        grant(stack.cfg, [KafkaPrincipal(user=identity("flink").kafka_user, reads=(src,), writes=(dst,), group=name)])
    try:
        producer = KafkaProducer(bootstrap_servers=stack.cfg.kafka_bootstrap, **kafka_auth.kafka_python(stack.cfg))
        producer.send(src, b"perrinn 424")
        producer.flush()
        producer.close()
        spec = JobSpec(
            name,
            REPO_ROOT / "flink_jobs" / "smoke_job.py",
            ("--bootstrap", stack.cfg.kafka_bootstrap, "--source-topic", src, "--sink-topic", dst),
        )
        job = jobs.submit(spec)
        # generous: right after the outage tests the telemetry job may still be catching up on both cores
        out = stack.records_since(dst, {tp: 0 for tp in stack.end_offsets(dst)}, until_count=1, timeout=240)
        assert [r.value for r in out] == [b"PERRINN 424"]
    finally:
        running = jobs.active(name)
        if running is not None:
            requests.patch(f"{stack.cfg.flink_url}/jobs/{running.job_id}?mode=cancel", timeout=10)
            wait_for(lambda: jobs.active(name) is None, 60, "the smoke job to cancel")
        admin.delete_topics([src, dst])
        admin.close()
    assert job.state == "RUNNING"


def test_an_airflow_dag_run_is_triggered_and_finishes(stack: Stack) -> None:
    cfg = stack.cfg
    headers = {"Authorization": f"Bearer {api_token(cfg)}"}
    base = f"{cfg.airflow_url}/api/v2/dags/p424_platform_smoke"
    wait_for(
        lambda: requests.get(base, headers=headers, timeout=10).ok, 120, "the DAG processor to parse the smoke DAG"
    )
    r = requests.post(f"{base}/dagRuns", json={"logical_date": None}, headers=headers, timeout=10)
    assert r.ok, r.text
    run_id = r.json()["dag_run_id"]

    def finished() -> str | None:
        state = requests.get(f"{base}/dagRuns/{run_id}", headers=headers, timeout=10).json()["state"]
        return state if state in ("success", "failed") else None

    assert wait_for(finished, 240, "the smoke DAG run to finish", interval=2) == "success"
    tis = requests.get(f"{base}/dagRuns/{run_id}/taskInstances", headers=headers, timeout=10).json()["task_instances"]
    assert {t["task_id"]: t["state"] for t in tis} == {"from_airflow": "success", "from_platform_env": "success"}


@pytest.mark.slow
def test_down_then_up_keeps_topics_rows_runs_and_objects(stack: Stack) -> None:
    cfg = stack.cfg
    marker = uuid.uuid4().hex
    producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, acks="all", **kafka_auth.kafka_python(cfg))
    producer.send(cfg.kafka_topic_deadletter, value=marker.encode(), headers=[("reason", b"smoke")]).get(timeout=30)
    producer.close()
    minio_client(cfg).put_object(cfg.minio_bucket_telemetry, f"smoke/{marker}", io.BytesIO(b"x"), 1)
    stack.store.describe_session(hash(marker) & (2**62 - 1) | 1, description=marker)
    mlflow.set_tracking_uri(cfg.mlflow_url)
    mlflow.set_experiment("p424-smoke")
    with mlflow.start_run(run_name=marker) as run:
        mlflow.log_param("marker", marker)
    job_before = stack.platform.flink_jobs().active(cfg.flink_job_name)
    assert job_before is not None

    launch = REPO_ROOT / "launchcommand.sh"
    t0 = time.monotonic()
    subprocess.run([str(launch), "down"], check=True, timeout=300)
    down_s = time.monotonic() - t0
    assert not any(s.running() for s in stack.platform.services)
    subprocess.run([str(launch), "up"], check=True, timeout=600)

    topics = admin_client(cfg)
    assert set(cfg.topics) <= set(topics.list_topics())
    topics.close()
    start = {tp: 0 for tp in stack.end_offsets(cfg.kafka_topic_deadletter)}
    assert marker.encode() in [r.value for r in stack.records_since(cfg.kafka_topic_deadletter, start, timeout=20)]
    assert minio_client(cfg).stat_object(cfg.minio_bucket_telemetry, f"smoke/{marker}").size == 1
    assert stack.store.session_row(hash(marker) & (2**62 - 1) | 1)["description"] == marker  # type: ignore[index]
    assert mlflow.get_run(run.info.run_id).data.params["marker"] == marker
    job_after = stack.platform.flink_jobs().active(cfg.flink_job_name)
    assert job_after is not None and job_after.job_id != job_before.job_id  # resubmitted from its savepoint
    assert down_s < 60
