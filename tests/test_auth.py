"""Authentication settings without servers: who logs in as whom, what each service is configured with.

The servers' side (a broker refusing a client, a role refused a DROP, ...) is tests/test_auth_platform.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from launcher.credentials import GENERATED, ensure_credentials
from launcher.native import NativePlatform
from p424.config import Config, parse_env_file
from p424.kafka import auth as kafka_auth
from p424.kafka.access import bindings, operation, platform_bindings
from p424.security import identities as ids
from p424.security.kafka import Acl, acls, kafka_principals
from p424.security.roles import ROLES, granted_tables, role, role_statements, same_replication
from p424.storage import writes
from p424.storage.cluster import auth_provider
from tests.helpers import clear_settings_from_environ, wait_for


@pytest.fixture(autouse=True)
def _own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every test here builds its platforms from settings of its own, whatever the run was given.
    clear_settings_from_environ(monkeypatch)


def platform(tmp_path: Path, auth: str = "on") -> NativePlatform:
    return NativePlatform({"PLATFORM_STATE_DIR": str(tmp_path), "PLATFORM_AUTH": auth})


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize(
    ("mode", "address", "enabled"),
    [
        ("auto", "127.0.0.1", False),
        ("auto", "127.0.0.6", False),
        ("auto", "localhost", False),
        ("auto", "::1", False),
        ("auto", "10.1.2.3", True),
        ("auto", "0.0.0.0", True),
        ("auto", "pitwall.local", True),  # not resolved: counts as reachable
        ("on", "127.0.0.1", True),
        ("off", "10.1.2.3", False),
    ],
)
def test_auth_is_on_whenever_the_platform_binds_beyond_loopback(mode: str, address: str, enabled: bool) -> None:
    assert Config(platform_auth=mode, platform_bind_address=address).auth_enabled is enabled


def test_a_bad_auth_mode_is_named() -> None:
    with pytest.raises(ValueError, match="PLATFORM_AUTH must be one of auto, on, off, got 'yes'"):
        Config(platform_auth="yes")


def test_every_principal_role_and_mlflow_user_has_a_generated_password_and_an_identity() -> None:
    cfg = Config()
    keys = ids.credential_keys(cfg)
    assert len(keys) == len(set(keys))
    assert {ids.kafka_password_key(p.user) for p in kafka_principals(cfg)} < set(keys)
    assert ids.kafka_password_key(ids.KAFKA_BROKER_USER) in keys
    assert {ids.cassandra_password_key(r.name) for r in ROLES} < set(keys)
    # Every Kafka principal and Cassandra role is somebody's login (none is defined and left unused).
    assert {i.kafka_user for i in ids.IDENTITIES if i.kafka_user} == {p.user for p in kafka_principals(cfg)}
    assert {i.cassandra_role for i in ids.IDENTITIES if i.cassandra_role} == {r.name for r in ROLES}
    assert {i.mlflow_user for i in ids.IDENTITIES if i.mlflow_user} == set(ids.MLFLOW_USERS)
    with pytest.raises(KeyError, match="no identity for component 'nobody'"):
        ids.identity("nobody")


def test_native_up_generates_component_passwords_privately_and_keeps_them(tmp_path: Path) -> None:
    p = platform(tmp_path)
    values = parse_env_file(p.paths.credentials)
    assert set(values) == {*GENERATED, *ids.credential_keys(p.cfg)} and all(values.values())
    assert p.paths.credentials.stat().st_mode & 0o077 == 0
    # Existing passwords are kept (compose mode asks for the same set: launcher.compose).
    assert not ensure_credentials(p.paths.credentials, ids.credential_keys(p.cfg))
    assert parse_env_file(p.paths.credentials) == values


def test_each_process_gets_its_own_login_and_no_other(tmp_path: Path) -> None:
    p = platform(tmp_path)
    creds = parse_env_file(p.paths.credentials)
    admin_passwords = {v for k, v in creds.items() if k.endswith(("P424_ADMIN", "_ADMIN"))}
    # The launcher itself provisions as the admin...
    assert (p.cfg.kafka_sasl_username, p.cfg.cassandra_username) == (ids.KAFKA_ADMIN_USER, "p424_admin")
    # ...and every process it starts replaces that login with its own component's (or none).
    for service, kafka_user, role_name, mlflow_user in (
        (p.bridge, "p424-bridge", "", ""),
        (p.predictor, "p424-predictor", "p424_predictor", ids.MLFLOW_VIEWER),
        (p.airflow, "", "p424_airflow", ids.MLFLOW_AIRFLOW),
        (p.grafana_live, "p424-grafana-live", "", ""),
    ):
        env = service.settings_env()
        assert env["KAFKA_SASL_USERNAME"] == kafka_user, service.name
        assert env["CASSANDRA_USERNAME"] == role_name, service.name
        assert env["MLFLOW_TRACKING_USERNAME"] == mlflow_user, service.name
        assert not admin_passwords & set(env.values()), f"{service.name} gets an admin password"
        if kafka_user:
            assert env["KAFKA_SASL_PASSWORD"] == creds[ids.kafka_password_key(kafka_user)]
    flink = p.flink.submit_env()  # the job's client, whose settings travel inside the job
    assert (flink["KAFKA_SASL_USERNAME"], flink["CASSANDRA_USERNAME"]) == ("p424-flink", "p424_flink")
    # The Flink processes themselves hold no login (Beam logs a Python worker's environment).
    for spec in p.flink.processes():
        assert not set(creds.values()) & set(spec.env.values()), spec.name


def test_with_auth_off_no_process_gets_a_login(tmp_path: Path) -> None:
    p = platform(tmp_path, "off")
    assert p.cfg.kafka_sasl_username == "" and kafka_auth.kafka_python(p.cfg) == {}
    for service in (p.bridge, p.predictor, p.airflow):
        env = service.settings_env()
        assert all(env[v] == "" for v in ids.IDENTITY_VARIABLES), service.name


def test_kafka_clients_log_in_with_scram_in_each_librarys_terms() -> None:
    cfg = Config(platform_auth="on", kafka_sasl_username="p424-bridge", kafka_sasl_password="pw-1")
    assert kafka_auth.kafka_python(cfg) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "p424-bridge",
        "sasl_plain_password": "pw-1",
    }
    assert kafka_auth.librdkafka(cfg)["sasl.username"] == "p424-bridge"
    assert kafka_auth.java_client(cfg)["sasl.jaas.config"] == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="p424-bridge" password="pw-1";'
    )
    # The Flink connector jar relocates the Kafka client, and JAAS loads the login module by class name.
    assert kafka_auth.java_client(cfg, kafka_auth.FLINK_CONNECTOR_SHADING)["sasl.jaas.config"].startswith(
        "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule required ")
    assert "pw-1" not in repr(kafka_auth.login(cfg))
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD are not set"):
        kafka_auth.kafka_python(Config(platform_auth="on"))
    with pytest.raises(ValueError, match="must not contain quotes"):
        kafka_auth.jaas_config("M", {"password": 'a"b'})


def test_the_broker_with_auth_takes_only_sasl_and_denies_what_no_acl_allows(tmp_path: Path) -> None:
    p = platform(tmp_path)
    props = properties(p.kafka.server_properties())
    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:9092"
    assert props["listener.security.protocol.map"] == "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert props["sasl.enabled.mechanisms"] == props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:p424-broker;User:p424-admin"
    broker_pw = parse_env_file(p.paths.credentials)[ids.kafka_password_key(ids.KAFKA_BROKER_USER)]
    assert f'user_p424-broker="{broker_pw}"' in props["listener.name.controller.plain.sasl.jaas.config"]
    # One --add-scram per user, as StorageTool takes it.
    args = p.kafka.scram_arguments()
    assert args[::2] == ["--add-scram"] * len(ids.kafka_users(p.cfg))
    assert f"SCRAM-SHA-512=[name=p424-broker,password={broker_pw}]" in args
    # With auth off, the broker is as before: PLAINTEXT and no authorizer.
    plain = properties(platform(tmp_path / "off", "off").kafka.server_properties())
    assert plain["listeners"].startswith("PLAINTEXT://") and "authorizer.class.name" not in plain
    assert platform(tmp_path / "off2", "off").kafka.scram_arguments() == []


def test_kafka_storage_formatted_without_users_is_refused_with_auth_on(tmp_path: Path) -> None:
    from launcher.console import PlatformError

    p = platform(tmp_path)
    p.kafka.data.mkdir(parents=True)
    (p.kafka.data / "meta.properties").write_text("formatted\n")
    with pytest.raises(PlatformError, match="formatted without SCRAM users"):
        p.kafka.prepare()
    assert (p.kafka.conf_dir / "server.properties").stat().st_mode & 0o077 == 0


def test_every_acl_operation_is_one_kafka_knows_and_principals_get_only_their_topics() -> None:
    cfg = Config()
    for principal in kafka_principals(cfg):
        for rule in acls(principal):
            for op in rule.operations:
                operation(op)  # raises on a name confluent-kafka (Kafka's AclOperation) does not know
    by_user: dict[str, set[tuple[str, str]]] = {}
    for b in platform_bindings(cfg):
        by_user.setdefault(b.principal, set()).add((b.name, b.operation.name))
    predictor = by_user["User:p424-predictor"]
    assert (cfg.kafka_topic_frames, "WRITE") not in predictor and (cfg.kafka_topic_predictions, "WRITE") in predictor
    assert (cfg.kafka_topic_frames, "WRITE") in by_user["User:p424-bridge"]
    assert ("p424-telemetry", "READ") in by_user["User:p424-flink"]  # its consumer group
    with pytest.raises(ValueError, match="'Fly' is not a Kafka ACL operation"):
        operation("Fly")
    with pytest.raises(ValueError, match="unknown ACL resource type"):
        bindings("u", (Acl(resource_type="schema", name="x", operations=("Read",)),))


# ---------------------------------------------------------------- Cassandra
def test_cassandra_with_auth_checks_passwords_and_permissions(tmp_path: Path) -> None:
    on = yaml.safe_load(platform(tmp_path).cassandra.yaml())
    assert (on["authenticator"], on["authorizer"], on["role_manager"]) == (
        "PasswordAuthenticator", "CassandraAuthorizer", "CassandraRoleManager")
    off = yaml.safe_load(platform(tmp_path / "off", "off").cassandra.yaml())
    assert (off["authenticator"], off["authorizer"]) == ("AllowAllAuthenticator", "AllowAllAuthorizer")


def test_cassandra_clients_log_in_as_the_configured_role() -> None:
    provider = auth_provider(Config(platform_auth="on", cassandra_username="p424_flink", cassandra_password="pw"))
    assert provider is not None and provider.username == "p424_flink"
    assert auth_provider(Config(platform_auth="off", cassandra_username="p424_flink")) is None
    with pytest.raises(ValueError, match="CASSANDRA_USERNAME / CASSANDRA_PASSWORD are not set"):
        auth_provider(Config(platform_auth="on"))


def _prepared_tables(path: Path, holder: str) -> set[str]:
    """Tables of the ``writes.Statements`` attributes a module prepares (``prep(st.x)`` / ``statements.x``)."""
    tree = ast.parse(path.read_text())
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
             and n.value.id == holder and hasattr(writes.TABLES, n.attr)}
    assert names, f"no statements found in {path}"
    return {getattr(writes.TABLES, n).name for n in names}


def test_the_writers_roles_may_modify_every_table_they_write() -> None:
    from p424.config import REPO_ROOT

    def modifiable(name: str) -> set[str]:
        return {g.table for g in role(name).grants if "MODIFY" in g.permissions}

    sink = _prepared_tables(REPO_ROOT / "flink_jobs" / "sink.py", "st")
    assert {"frames", "lap_events", "alerts", "recent_alerts"} <= sink
    assert sink <= modifiable("p424_flink")
    assert _prepared_tables(REPO_ROOT / "p424" / "ml" / "live" / "service.py", "statements") <= modifiable(
        "p424_predictor")


def test_role_passwords_are_set_once_at_creation_and_changed_only_for_existing_roles() -> None:
    passwords = {r.name: f"pw-{r.name}" for r in ROLES}
    tables = sorted(granted_tables())
    fresh, _ = role_statements("telemetry", passwords, tables)
    assert not [s for s in fresh if s.cql.startswith("ALTER")]  # Cassandra 5: one change per 5 s
    again, _ = role_statements("telemetry", passwords, tables, existing={"p424_flink"})
    assert [s.cql for s in again if s.cql.startswith(("ALTER", "CREATE"))] == [
        "ALTER ROLE p424_flink WITH PASSWORD = %s" if r.name == "p424_flink" else
        f"CREATE ROLE IF NOT EXISTS {r.name} WITH PASSWORD = %s AND LOGIN = true AND SUPERUSER = "
        f"{'true' if r.superuser else 'false'}"
        for r in ROLES
    ]


# ---------------------------------------------------------------- MLflow
# Importing mlflow.server loads its FastAPI app, which uses a Starlette module Starlette now deprecates.
@pytest.mark.filterwarnings("ignore:starlette.middleware.wsgi is deprecated")
def test_mlflow_with_auth_runs_the_basic_auth_app_configured_as_mlflow_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.server.auth.config import read_auth_config

    p = platform(tmp_path)
    p.mlflow.prepare()
    spec = p.mlflow.processes()[0]
    assert spec.argv[-2:] == ["--app-name", "basic-auth"]
    assert spec.env["MLFLOW_AUTH_CONFIG_PATH"] == str(p.mlflow.auth_config)
    assert p.mlflow.auth_config.stat().st_mode & 0o077 == 0
    creds = parse_env_file(p.paths.credentials)
    assert spec.env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == creds[ids.MLFLOW_FLASK_SECRET]
    # MLflow's own reader (mlflow/server/auth/config.py) sees the admin and READ for everyone else.
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(p.mlflow.auth_config))
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    config = read_auth_config()
    assert (config.admin_username, config.admin_password) == (ids.MLFLOW_ADMIN, creds["MLFLOW_PASSWORD_ADMIN"])
    assert config.default_permission == "READ"
    assert config.database_uri == f"sqlite:///{p.mlflow.data / 'basic_auth.db'}"
    # A server on any address answers its own Host header (MLflow's default is loopback and private nets).
    hosts = spec.argv[spec.argv.index("--allowed-hosts") + 1].split(",")
    assert {"127.0.0.1:5000", p.cfg.platform_bind_address} <= set(hosts)
    off = platform(tmp_path / "off", "off").mlflow.processes()[0]
    assert "--app-name" not in off.argv and "MLFLOW_AUTH_CONFIG_PATH" not in off.env


def test_provisioning_sets_up_access_only_with_auth_on_admin_first_and_roles_after_the_schema() -> None:
    from launcher.provision import steps

    assert [what for what, _ in steps(Config(platform_auth="off"), {})] == [
        "buckets", "Kafka topics (replication factor 1)", "Cassandra schema"]
    assert [what for what, _ in steps(Config(platform_auth="on"), {})] == [
        "buckets", "Kafka topics (replication factor 1)", "Kafka access", "Cassandra access", "Cassandra schema",
        "Cassandra roles", "MLflow users"]


def test_commands_that_read_stored_data_log_in_as_the_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from launcher.credentials import config_as

    p = platform(tmp_path)  # generates the credentials
    monkeypatch.setenv("PLATFORM_STATE_DIR", str(tmp_path))
    cfg = config_as("reader", {"PLATFORM_AUTH": "on"})
    assert (cfg.cassandra_username, cfg.kafka_sasl_username) == ("p424_reader", "")
    assert cfg.cassandra_password == parse_env_file(p.paths.credentials)[ids.cassandra_password_key("p424_reader")]


@pytest.mark.parametrize(
    ("topology", "copies"),
    [({"platform_topology": "single"}, "'replication_factor': 1"),
     ({"platform_topology": "cluster", "cluster_nodes": "127.0.0.2,127.0.0.3,127.0.0.4"}, "'dc1': 3")],
)
def test_system_auth_is_replicated_like_the_data_keyspace_before_the_first_role(
    topology: dict[str, str], copies: str
) -> None:
    from launcher.provision import first_role_statements
    from p424.storage.migrate import migrations

    cfg = Config(platform_auth="on", cassandra_username="p424_admin", cassandra_password="pw").replace(**topology)
    first, *rest = first_role_statements(cfg)
    assert first.cql == f"ALTER KEYSPACE system_auth WITH replication = {cfg.keyspace_replication}"
    assert copies in first.cql
    # the data keyspace is created from the same setting (p424/storage/cql/0001_core_tables.cql)
    [create] = [s for s in migrations()[0].statements("telemetry", cfg.keyspace_replication) if "KEYSPACE" in s]
    assert create.removeprefix("CREATE KEYSPACE IF NOT EXISTS telemetry WITH replication = ") == \
        first.cql.removeprefix("ALTER KEYSPACE system_auth WITH replication = ")
    # only then the admin role, the first role the platform writes
    assert rest[0].cql.startswith("CREATE ROLE IF NOT EXISTS p424_admin ") and rest[0].params == ("pw",)


def test_system_auth_replication_is_compared_as_system_schema_holds_it() -> None:
    # system_schema.keyspaces.replication: the strategy's full class name and the factors as text
    held = {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc1": "3"}
    cluster = Config(platform_topology="cluster", cluster_nodes="127.0.0.2,127.0.0.3,127.0.0.4")
    assert same_replication(held, cluster.keyspace_replication)
    assert not same_replication(held, Config().keyspace_replication)
    assert same_replication({"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "1"},
                            Config().keyspace_replication)
    assert not same_replication(held, "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}")
    with pytest.raises(ValueError, match="is not a CQL map"):
        same_replication(held, "NetworkTopologyStrategy dc1=3")
    with pytest.raises(ValueError, match="names no 'class'"):
        same_replication(held, "{'dc1': 3}")


def test_a_started_process_inherits_no_secret_from_the_launchers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shell with the admin's login exported must not hand it to every service: Beam logs a Python
    worker's whole environment, so the TaskManager's log would hold it. Only what a service's own spec
    passes (its component's login) reaches the process."""
    from launcher.procs import ProcessSpec, Supervisor

    for name in ids.SECRET_VARIABLES:
        monkeypatch.setenv(name, f"inherited-{name}")
    monkeypatch.setenv("P424_HARMLESS", "kept")
    sup = Supervisor(tmp_path / "run", tmp_path / "logs")
    dump = tmp_path / "env.txt"
    argv = ["/bin/sh", "-c", f"env > {dump}"]
    sup.start(ProcessSpec("dump-env", argv, env={ids.KAFKA_SASL_PASSWORD: "own-login"}))
    wait_for(lambda: dump.exists() and not sup.running("dump-env"), 10, "the process to write its environment")
    env = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert env["P424_HARMLESS"] == "kept"
    assert env[ids.KAFKA_SASL_PASSWORD] == "own-login"
    assert not [n for n in ids.SECRET_VARIABLES if env.get(n, "").startswith("inherited-")]
    assert {ids.KAFKA_SASL_PASSWORD, "MINIO_ROOT_PASSWORD", "P424_HTTP_TOKEN"} <= ids.SECRET_VARIABLES
