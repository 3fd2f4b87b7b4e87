"""Authentication and authorisation against real servers, each started by the test with auth on.

Every service is started from the launcher's own service class with PLATFORM_AUTH=on in the tests'
own state dir and loopback address (tests/auth_services.py), provisioned as `up` provisions it,
and stopped afterwards; the shared stack is never touched. For each service: a client without
credentials is refused, and a component's credentials are refused what that component is not
granted (the grants are p424/security/kafka.py, roles.py and identities.py).
"""

from __future__ import annotations

import itertools
import json
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from cassandra import AuthenticationFailed, Unauthorized
from cassandra.cluster import Cluster, NoHostAvailable, Session
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAuthorizationFailedError
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from launcher import provision, tls
from launcher.flink_submit import JobSpec
from launcher.native import NativePlatform
from p424.config import REPO_ROOT, Config
from p424.kafka import auth as kafka_auth
from p424.kafka import live
from p424.kafka.access import grant
from p424.kafka.admin import admin_client
from p424.security.kafka import PREDICTOR_GROUP, KafkaPrincipal
from p424.security.roles import KEYSPACE, ROLES
from p424.storage.cluster import connect
from p424.storage.reader import TelemetryStore
from tests import auth_services as own
from tests.helpers import wait_for

pytestmark = [pytest.mark.platform, pytest.mark.own_services]

PROBE = REPO_ROOT / "tests" / "java" / "KafkaClientProbe.java"


# ---------------------------------------------------------------- Kafka
@pytest.fixture(scope="class", params=[False, True], ids=["sasl", "sasl-over-tls"])
def kafka(request: pytest.FixtureRequest) -> Iterator[NativePlatform]:
    """A broker with SASL/SCRAM, then one with KAFKA_TLS=on: every Kafka test runs against both, through
    the three client libraries the platform uses (kafka-python, librdkafka, Kafka's Java client)."""
    with own.own_service("kafka", tls=request.param) as platform:
        provision.provision_topics(platform.cfg)
        provision.provision_kafka_access(platform.cfg, own.credentials(platform))
        yield platform


DENIED = ("TOPIC_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED")


def consume_error(cfg: Config, group: str, topic: str) -> str | None:
    """The error name a librdkafka group consumer (the predictor's client) gets, or None if it may read."""
    consumer = live.consumer(cfg, group, "test-auth", True)
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            msg = consumer.poll(1)
            if msg is not None and msg.error() is not None and msg.error().name().endswith("AUTHORIZATION_FAILED"):
                return str(msg.error().name())
            if consumer.assignment():  # joined the group and got partitions: allowed
                return None
        raise AssertionError(f"{cfg.kafka_sasl_username} neither got {topic} nor was refused in 15 s")
    finally:
        consumer.close()


def java_client(platform: NativePlatform, component: str, mode: str, topic: str, group: str,
                tmp: Path, password: str = "") -> str:
    """Kafka's Java client (the Flink source's) with the properties the job sets, as ``component``."""
    cfg = own.as_(platform, component)
    if password:
        cfg = cfg.replace(kafka_sasl_password=password)
    props = tmp / f"{component}.properties"
    props.write_text("".join(f"{k}={v}\n" for k, v in
                             {"bootstrap.servers": cfg.kafka_bootstrap, **kafka_auth.java_client(cfg)}.items()))
    result = own.run(["java", "-cp", f"{platform.kafka.libs}/*", str(PROBE), str(props), mode, topic, group])
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.usefixtures("kafka")
class TestKafka:
    def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(
        self, kafka: NativePlatform, tmp_path: Path
    ) -> None:
        bootstrap = kafka.cfg.kafka_bootstrap
        # A PLAINTEXT client cannot even complete the handshake on a SASL listener.
        with pytest.raises(KafkaException):
            AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=5)
        wrong = own.as_(kafka, "bridge").replace(kafka_sasl_password="not-the-password")
        errors: list[KafkaError] = []
        client = AdminClient(
            {"bootstrap.servers": bootstrap, "log_level": 0, "error_cb": errors.append, **kafka_auth.librdkafka(wrong)}
        )
        with pytest.raises(KafkaException):
            client.list_topics(timeout=5)
        client.poll(1)  # serves the error callback
        assert KafkaError._AUTHENTICATION in {e.code() for e in errors}, errors
        refused = java_client(kafka, "bridge", "produce", kafka.cfg.kafka_topic_frames, "", tmp_path,
                              password="not-the-password")
        assert refused.startswith("DENIED SaslAuthenticationException"), refused

    def test_the_bridge_writes_frames_and_reads_nothing(self, kafka: NativePlatform) -> None:
        cfg = own.as_(kafka, "bridge")
        producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, max_block_ms=10000, acks="all",
                                 **kafka_auth.kafka_python(cfg))
        try:
            assert producer.send(cfg.kafka_topic_frames, b"frame").get(timeout=15).offset >= 0
            assert producer.send(cfg.kafka_topic_deadletter, b"dead letter").get(timeout=15).offset >= 0
            with pytest.raises(TopicAuthorizationFailedError):
                producer.send(cfg.kafka_topic_predictions, b"not mine").get(timeout=15)
        finally:
            producer.close(timeout=5)
        assert consume_error(cfg, "p424-bridge", cfg.kafka_topic_frames) in DENIED

    def test_the_predictor_cannot_write_frames(self, kafka: NativePlatform) -> None:
        cfg = own.as_(kafka, "predictor")
        producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, max_block_ms=10000,
                                 **kafka_auth.kafka_python(cfg))
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                producer.send(cfg.kafka_topic_frames, b"forged frame").get(timeout=15)
            assert producer.send(cfg.kafka_topic_predictions, b"prediction").get(timeout=15).offset >= 0
        finally:
            producer.close(timeout=5)

    def test_the_predictor_consumes_windows_in_its_own_group_only(self, kafka: NativePlatform) -> None:
        cfg = own.as_(kafka, "predictor")
        assert consume_error(cfg, PREDICTOR_GROUP, cfg.kafka_topic_windows) is None
        assert consume_error(cfg, f"someone-else-{uuid.uuid4().hex[:6]}", cfg.kafka_topic_windows) in DENIED
        assert consume_error(cfg, PREDICTOR_GROUP, cfg.kafka_topic_frames) in DENIED

    def test_the_flink_source_reads_frames_with_its_java_client_and_the_predictor_cannot(
        self, kafka: NativePlatform, tmp_path: Path
    ) -> None:
        frames, group = kafka.cfg.kafka_topic_frames, kafka.cfg.flink_job_name
        assert java_client(kafka, "flink", "consume", frames, group, tmp_path) == "OK"
        assert java_client(kafka, "flink", "produce", kafka.cfg.kafka_topic_windows, group, tmp_path) == "OK"
        denied = java_client(kafka, "predictor", "consume", frames, group, tmp_path)
        assert denied.startswith("DENIED TopicAuthorizationException"), denied
        denied = java_client(kafka, "flink", "produce", frames, group, tmp_path)
        assert denied.startswith("DENIED TopicAuthorizationException"), denied

    def test_the_admin_provisions_and_the_broker_keeps_no_password_in_its_log(self, kafka: NativePlatform) -> None:
        # Provisioning again changes nothing it need not (users exist; ACLs are idempotent).
        changes = provision.provision_kafka_access(kafka.cfg, own.credentials(kafka))
        assert not [c for c in changes if c.startswith("SCRAM user")], changes
        log = kafka.ctx.supervisor.log_path(kafka.kafka.name).read_text(errors="replace")
        for key, value in own.credentials(kafka).items():
            assert value not in log, f"{key} appears in the Kafka log"
        assert (kafka.kafka.conf_dir / "server.properties").stat().st_mode & 0o077 == 0

    def test_the_listener_speaks_tls_exactly_when_asked_and_proves_its_name(
        self, kafka: NativePlatform, tmp_path: Path
    ) -> None:
        """Python's ssl module (OpenSSL) as the TLS client, independent of the Kafka clients: with
        KAFKA_TLS=on the broker shows a certificate for its address, chained to the platform's CA; a
        client trusting another CA, or expecting another name, refuses it. Without TLS there is no
        handshake to make."""
        cfg = kafka.cfg
        address = (cfg.kafka_nodes[0], cfg.kafka_port)

        def handshake(ca_file: Path, name: str) -> dict[str, Any]:
            context = ssl.create_default_context(cafile=str(ca_file))
            with socket.create_connection(address, timeout=10) as raw, \
                    context.wrap_socket(raw, server_hostname=name) as tls_socket:
                return tls_socket.getpeercert() or {}

        if not cfg.kafka_tls_enabled:
            other_ca = tmp_path / "ca.crt"
            other_ca.write_bytes(tls.issue_ca().certificate)
            with pytest.raises((ssl.SSLError, ConnectionError, TimeoutError)):
                handshake(other_ca, address[0])
            return
        peer = handshake(cfg.kafka_ca_file, address[0])
        assert ("IP Address", address[0]) in peer["subjectAltName"], peer
        assert dict(x[0] for x in peer["issuer"])["commonName"] == tls.CA_NAME
        other_ca = tmp_path / "other-ca.crt"
        other_ca.write_bytes(tls.issue_ca().certificate)
        with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
            handshake(other_ca, address[0])
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            handshake(cfg.kafka_ca_file, "p424-not-this-broker.example")
        for private in (tls.ca_key_file(cfg), tls.node_keystore(cfg, kafka.kafka.name)):
            assert private.stat().st_mode & 0o077 == 0, f"{private} is readable by others"
        log = kafka.ctx.supervisor.log_path(kafka.kafka.name).read_text(errors="replace")
        for name, key in tls_private_keys(cfg).items():
            assert key not in log, f"the private key of {name} appears in the Kafka log"

    def test_status_shows_no_credential(self, kafka: NativePlatform, capsys: pytest.CaptureFixture[str]) -> None:
        rows = kafka.status()
        assert next(r for r in rows if r.name == kafka.kafka.name).healthy  # its probe logs in as the admin
        shown = json.dumps([r.as_json() for r in rows]) + repr(kafka.cfg) + capsys.readouterr().out
        for key, value in own.credentials(kafka).items():
            assert value not in shown, f"status shows {key}"


# ---------------------------------------------------------------- Cassandra
@pytest.fixture(scope="class")
def cassandra() -> Iterator[NativePlatform]:
    with own.own_service("cassandra") as platform:
        first = provision.ensure_cassandra_admin(platform.cfg)
        assert first == [f"replicated system_auth as {platform.cfg.keyspace_replication}",
                         "created the admin role p424_admin", "dropped the default superuser cassandra"], first
        provision.ensure_schema(platform.cfg)
        provision.ensure_cassandra_roles(platform.cfg, own.credentials(platform))
        yield platform


@contextmanager
def cql(platform: NativePlatform, component: str) -> Iterator[Session]:
    """A session logged in as ``component``'s role (p424.storage.cluster.connect, as every client)."""
    cluster, session = connect(own.as_(platform, component), timeout_s=30)
    try:
        yield session
    finally:
        cluster.shutdown()


def refused_login(cfg: Config) -> AuthenticationFailed:
    with pytest.raises(NoHostAvailable) as caught:
        connect(cfg, timeout_s=10)
    [error] = caught.value.errors.values()
    assert isinstance(error, AuthenticationFailed), error
    return error


@pytest.mark.usefixtures("cassandra")
class TestCassandra:
    def test_a_client_without_credentials_a_wrong_password_or_the_default_superuser_is_refused(
        self, cassandra: NativePlatform
    ) -> None:
        admin = cassandra.cfg
        # No credentials at all: the driver's own connection, as a client that knows nothing of auth.
        cluster = Cluster([admin.cassandra_contact], port=admin.cassandra_port, protocol_version=4)
        try:
            with pytest.raises(NoHostAvailable, match="requires authentication"):
                cluster.connect()
        finally:
            cluster.shutdown()
        refused_login(admin.replace(cassandra_password="not-the-password"))
        refused_login(admin.replace(cassandra_username="cassandra", cassandra_password="cassandra"))

    def test_each_role_has_exactly_its_grants(self, cassandra: NativePlatform) -> None:
        ks = cassandra.cfg.cassandra_keyspace
        with cql(cassandra, "admin") as session:
            for r in ROLES:
                if r.superuser:  # may do anything (and holds what it created, as its creator)
                    continue
                rows = session.execute(f"LIST ALL PERMISSIONS OF {r.name} NORECURSIVE")
                got = {(row.resource, row.permission) for row in rows}
                want = {(f"<keyspace {ks}>" if g.table == KEYSPACE else f"<table {ks}.{g.table}>", p)
                        for g in r.grants for p in g.permissions}
                assert got == want, r.name

    def test_the_predictor_cannot_drop_tables_or_write_frames(self, cassandra: NativePlatform) -> None:
        ks = cassandra.cfg.cassandra_keyspace
        with cql(cassandra, "predictor") as session:
            with pytest.raises(Unauthorized, match="DROP"):
                session.execute(f"DROP TABLE {ks}.frames")
            with pytest.raises(Unauthorized, match="MODIFY"):
                session.execute(f"DELETE FROM {ks}.frames WHERE session_id = 1 AND bucket = 0")
            session.execute(f"SELECT * FROM {ks}.channel_windows LIMIT 1")
            session.execute(f"DELETE FROM {ks}.predictions WHERE session_id = 1 AND lap = 1")  # MODIFY on its own table

    def test_the_reader_only_reads_and_the_flink_job_writes_only_its_tables(self, cassandra: NativePlatform) -> None:
        ks = cassandra.cfg.cassandra_keyspace
        with cql(cassandra, "reader") as session:
            session.execute(f"SELECT * FROM {ks}.laps LIMIT 1")
            with pytest.raises(Unauthorized, match="MODIFY"):
                session.execute(f"TRUNCATE {ks}.sessions")
            with pytest.raises(Unauthorized):
                session.execute("CREATE ROLE intruder WITH PASSWORD = 'x' AND LOGIN = true")
        with cql(cassandra, "flink") as session:
            session.execute(f"DELETE FROM {ks}.lap_events WHERE session_id = 1")
            with pytest.raises(Unauthorized, match="MODIFY"):
                session.execute(f"DELETE FROM {ks}.predictions WHERE session_id = 1 AND lap = 1")
            with pytest.raises(Unauthorized, match="ALTER"):
                session.execute(f"ALTER TABLE {ks}.frames WITH comment = 'mine'")

    def test_system_auth_is_replicated_like_the_data_keyspace(self, cassandra: NativePlatform) -> None:
        cfg = cassandra.cfg
        with cql(cassandra, "admin") as session:
            def replication(keyspace: str) -> dict[str, str]:
                row = session.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s",
                                      (keyspace,)).one()
                return dict(row.replication)

            assert replication("system_auth") == replication(cfg.cassandra_keyspace)
            # a node whose logins have fewer copies (a deployment older than this) gets them on the next run
            session.execute("ALTER KEYSPACE system_auth WITH replication = "
                            "{'class': 'NetworkTopologyStrategy', 'datacenter1': 1}")
            assert provision.ensure_cassandra_admin(cfg) == [
                f"replicated system_auth as {cfg.keyspace_replication}; run `nodetool repair system_auth` on every "
                "node so the roles made before reach their new replicas"]
            assert replication("system_auth") == replication(cfg.cassandra_keyspace)

    def test_provisioning_again_changes_no_password_and_keeps_no_default_superuser(
        self, cassandra: NativePlatform
    ) -> None:
        assert provision.ensure_cassandra_admin(cassandra.cfg) == []
        changes = provision.ensure_cassandra_roles(cassandra.cfg, own.credentials(cassandra))
        assert [c for c in changes if not c.startswith("granted")] == [], changes
        log = cassandra.ctx.supervisor.log_path(cassandra.cassandra.name).read_text(errors="replace")
        for key, value in own.credentials(cassandra).items():
            assert value not in log, f"{key} appears in the Cassandra log"


# ---------------------------------------------------------------- MLflow
@pytest.fixture(scope="class")
def mlflow_server() -> Iterator[NativePlatform]:
    with own.own_service("mlflow") as platform:
        assert provision.ensure_mlflow_users(platform.cfg, own.credentials(platform)) == [
            "created user airflow", "created user viewer"]
        yield platform


def mlflow_as(monkeypatch: pytest.MonkeyPatch, platform: NativePlatform, component: str) -> MlflowClient:
    """MLflow's own client, logged in the way a platform process is: MLFLOW_TRACKING_* in its environment."""
    for key, value in own.component_env(platform, component).items():
        if key.startswith("MLFLOW_"):
            monkeypatch.setenv(key, value)
    return MlflowClient(platform.cfg.mlflow_url)


@pytest.mark.usefixtures("mlflow_server")
class TestMLflow:
    def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(
        self, mlflow_server: NativePlatform
    ) -> None:
        url = f"{mlflow_server.cfg.mlflow_url}/api/2.0/mlflow/experiments/search"
        assert requests.get(url, params={"max_results": 1}, timeout=10).status_code == 401
        assert requests.get(url, params={"max_results": 1}, auth=("viewer", "not-the-password"),
                            timeout=10).status_code == 401
        assert requests.get(f"{mlflow_server.cfg.mlflow_url}/health", timeout=10).status_code == 200  # probes

    def test_training_registers_a_version_and_the_viewer_can_read_but_not_add_one(
        self, mlflow_server: NativePlatform, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        name = f"p424_auth_test_{uuid.uuid4().hex[:8]}"
        trainer = mlflow_as(monkeypatch, mlflow_server, "airflow")
        experiment = trainer.create_experiment(name)
        run = trainer.create_run(experiment)
        trainer.create_registered_model(name)
        source = f"{run.info.artifact_uri}/model"
        assert trainer.create_model_version(name, source, run_id=run.info.run_id).version == "1"

        viewer = mlflow_as(monkeypatch, mlflow_server, "predictor")  # the predictor logs in as the viewer
        assert viewer.get_registered_model(name).name == name
        assert viewer.get_run(run.info.run_id).info.experiment_id == experiment
        with pytest.raises(MlflowException, match="Permission denied"):
            viewer.create_model_version(name, source, run_id=run.info.run_id)
        with pytest.raises(MlflowException, match="Permission denied"):
            viewer.set_registered_model_alias(name, "champion", "1")
        with pytest.raises(MlflowException, match="Permission denied"):
            viewer.log_metric(run.info.run_id, "lap_time_s", 1.0)
        with pytest.raises(MlflowException, match="Permission denied"):
            viewer.delete_registered_model(name)
        trainer = mlflow_as(monkeypatch, mlflow_server, "airflow")
        trainer.set_registered_model_alias(name, "champion", "1")  # what promotion does

    def test_a_model_nobody_registered_has_no_champion_for_the_viewer_or_the_dags(
        self, mlflow_server: NativePlatform, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The basic-auth app answers 403, not 404, for a model that does not exist; the training DAG's
        first run on a track and the predictor on a track without a model must read that as no champion."""
        from p424.ml.tracking import registered_model_exists, version_by_alias

        name = f"p424-nobody-{uuid.uuid4().hex[:8]}"
        for component in ("predictor", "airflow"):
            client = mlflow_as(monkeypatch, mlflow_server, component)
            with pytest.raises(MlflowException, match="403"):
                client.get_model_version_by_alias(name, "champion")
            assert version_by_alias(client, name, "champion") is None
            assert not registered_model_exists(client, name)
        airflow = mlflow_as(monkeypatch, mlflow_server, "airflow")
        airflow.create_registered_model(name)
        viewer = mlflow_as(monkeypatch, mlflow_server, "predictor")
        assert registered_model_exists(viewer, name) and version_by_alias(viewer, name, "champion") is None

    def test_provisioning_again_changes_nothing_and_no_password_reaches_the_log(
        self, mlflow_server: NativePlatform
    ) -> None:
        assert provision.ensure_mlflow_users(mlflow_server.cfg, own.credentials(mlflow_server)) == []
        log = mlflow_server.ctx.supervisor.log_path("mlflow").read_text(errors="replace")
        for key, value in own.credentials(mlflow_server).items():
            assert value not in log, f"{key} appears in the MLflow log"
        assert mlflow_server.mlflow.auth_config.stat().st_mode & 0o077 == 0


# ---------------------------------------------------------------- Flink's Kafka connector
@pytest.fixture(scope="class")
def flink_and_kafka() -> Iterator[NativePlatform]:
    with own.own_service("kafka") as platform:
        provision.provision_topics(platform.cfg)
        provision.provision_kafka_access(platform.cfg, own.credentials(platform))
        with own.own_service("flink") as both:
            yield both


@pytest.mark.usefixtures("flink_and_kafka")
class TestFlinkKafka:
    def test_a_pyflink_job_reads_and_writes_kafka_as_the_flink_user(self, flink_and_kafka: NativePlatform) -> None:
        """The real KafkaSource and KafkaSink of the connector jar (its Kafka client is relocated, login
        module included), submitted as the launcher submits jobs, logged in as p424-flink."""
        cfg = flink_and_kafka.cfg
        suffix = uuid.uuid4().hex[:8]
        src, dst, name = f"smoke.in.{suffix}", f"smoke.out.{suffix}", f"p424-smoke-{suffix}"
        admin = admin_client(cfg)
        try:
            admin.create_topics([NewTopic(src, 1, 1), NewTopic(dst, 1, 1)])
        finally:
            admin.close()
        flink_user = own.as_(flink_and_kafka, "flink").kafka_sasl_username
        grant(cfg, [KafkaPrincipal(user=flink_user, reads=(src,), writes=(dst,), group=name)])
        producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, **kafka_auth.kafka_python(cfg))
        producer.send(src, b"perrinn 424").get(timeout=15)
        producer.close(timeout=5)
        jobs = flink_and_kafka.flink_jobs()
        try:
            job = jobs.submit(JobSpec(name, REPO_ROOT / "flink_jobs" / "smoke_job.py",
                                      ("--bootstrap", cfg.kafka_bootstrap, "--source-topic", src, "--sink-topic", dst)))
            assert job.state == "RUNNING"
            consumer = KafkaConsumer(dst, bootstrap_servers=cfg.kafka_bootstrap, auto_offset_reset="earliest",
                                     consumer_timeout_ms=90_000, **kafka_auth.kafka_python(cfg))
            try:
                assert [m.value for m in itertools.islice(consumer, 1)] == [b"PERRINN 424"]
            finally:
                consumer.close()
        finally:
            running = jobs.active(name)
            if running is not None:
                requests.patch(f"{cfg.flink_url}/jobs/{running.job_id}?mode=cancel", timeout=10)


def tls_private_keys(cfg: Config) -> dict[str, str]:
    """The CA's and each Kafka node's private key (PEM body), by whose it is."""
    keys = {"the CA": tls.ca_key_file(cfg).read_text()}
    for path in tls.tls_dir(cfg).glob("*.pem"):
        keys[path.stem] = tls.read_keystore(path).key.decode()
    return {name: "".join(key.splitlines()[1:-1]) for name, key in keys.items()}  # base64 body, any wrapping


# ---------------------------------------------------------------- the pipeline, every hop authenticated
@pytest.mark.slow
@pytest.mark.parametrize("tls", [False, True], ids=["sasl", "sasl-over-tls"])
def test_a_replayed_stint_reaches_cassandra_with_every_component_logged_in_as_itself(tls: bool) -> None:
    """Bridge (Kafka user p424-bridge) -> Kafka -> the telemetry job (p424-flink: SCRAM source, librdkafka
    producer, Cassandra role p424_flink) -> laps read back as the admin; and no log holds a credential
    or a private key. With ``tls``, every Kafka hop (and the broker's own controller link) over TLS."""
    from tests.conftest import LOCAL_FIXTURE
    from unity_bridge.streams import replay_lap_file

    logs = own.state_dir(tls) / "logs"
    before = {p: p.stat().st_size for p in logs.rglob("*") if p.is_file()}  # earlier runs' lines are not ours
    with ExitStack() as services:
        platform = services.enter_context(own.own_service("kafka", tls))
        services.enter_context(own.own_service("cassandra", tls))
        services.enter_context(own.own_service("flink", tls))
        cfg, credentials = platform.cfg, own.credentials(platform)
        provision.provision_topics(cfg)
        provision.provision_kafka_access(cfg, credentials)
        provision.ensure_cassandra_admin(cfg)
        provision.ensure_schema(cfg)
        provision.ensure_cassandra_roles(cfg, credentials)
        platform.ensure_jobs()
        services.enter_context(own.own_service("bridge", tls))
        replayed = replay_lap_file(LOCAL_FIXTURE, cfg.host_of("bridge"), cfg.bridge_udp_port, None, 2, 1, None, 2000)
        [session] = replayed.sessions
        store = TelemetryStore(cfg)

        def two_laps() -> list[dict[str, Any]] | None:
            rows = store.laps(session)
            return rows if len(rows) >= 2 else None

        try:
            laps = wait_for(two_laps, 240, "two laps of the replayed stint in Cassandra", interval=2)
        finally:
            store.close()
        assert [lap["lap"] for lap in laps][:2] == [1, 2]
        assert platform.paths.logs == logs
        protocol_map = "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL"
        assert (protocol_map in platform.kafka.server_properties().splitlines()) == tls
        private_keys = tls_private_keys(cfg) if tls else {}
        for path in [p for p in logs.rglob("*") if p.is_file()]:
            with path.open("rb") as f:
                f.seek(before.get(path, 0))
                text = f.read().decode(errors="replace")
            for key, value in credentials.items():
                assert value not in text, f"{key} appears in {path}"
            for name, key in private_keys.items():
                assert key not in text, f"the private key of {name} appears in {path}"
