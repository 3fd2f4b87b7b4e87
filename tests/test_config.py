"""Configuration layering: defaults < toolchain-config.env < credentials < environment < overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from p424.config import DEFAULT_ENV_FILE, KNOWN_KEYS, Config, load_config, parse_env_file


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_every_setting_in_the_env_file_is_known_and_every_known_setting_is_documented_there() -> None:
    in_file = parse_env_file(DEFAULT_ENV_FILE)
    assert set(in_file) <= set(KNOWN_KEYS)
    secrets = {
        "MINIO_ROOT_PASSWORD",
        "AIRFLOW_ADMIN_PASSWORD",
        "AIRFLOW_JWT_SECRET",
        "GRAFANA_ADMIN_PASSWORD",
        "GRAFANA_TOKEN",
        "POSTGRES_PASSWORD",
        "KAFKA_SASL_PASSWORD",
        "CASSANDRA_PASSWORD",
        "P424_HTTP_TOKEN",
        "P424_METRICS_TOKEN",
    }
    assert set(KNOWN_KEYS) - set(in_file) == secrets, "document every non-secret setting in toolchain-config.env"


def test_env_file_values_match_the_builtin_defaults() -> None:
    # The file documents the defaults; a divergence means one of them is stale.
    documented = {k: str(v) for k, v in parse_env_file(DEFAULT_ENV_FILE).items()}
    defaults = {k: str(v) for k, v in Config().public_dict().items() if k in documented}
    assert documented == defaults


def test_precedence_defaults_file_credentials_environment_overrides(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    env_file = write(
        tmp_path / "c.env", f"PLATFORM_STATE_DIR={state}\nKAFKA_PORT=19092\nMINIO_PORT=19000\nMLFLOW_PORT=15000\n"
    )
    write(state / "credentials.env", "MINIO_ROOT_PASSWORD=from-credentials\nMLFLOW_PORT=25000\n")
    cfg = load_config(
        env_file, environ={"MINIO_PORT": "29000", "MLFLOW_PORT": "35000"}, overrides={"MLFLOW_PORT": "45000"}
    )
    assert cfg.cassandra_port == 9042  # default
    assert cfg.kafka_port == 19092  # file
    assert cfg.minio_root_password == "from-credentials"  # credentials file
    assert cfg.minio_port == 29000  # environment beats the file
    assert cfg.mlflow_port == 45000  # overrides beat everything


def test_a_child_given_the_environment_resolves_the_parents_configuration(tmp_path: Path) -> None:
    # What the launcher hands to the Flink job, the bridge, the predictor and Airflow: flags and
    # secrets included, whatever the child's own env file says.
    state = tmp_path / "state"
    state.mkdir()
    write(state / "credentials.env", "MINIO_ROOT_PASSWORD=generated\n")
    parent = load_config(
        write(tmp_path / "c.env", f"PLATFORM_STATE_DIR={state}\n"),
        environ={},
        overrides={"FLINK_PARALLELISM": "3", "WINDOW_SIZES_MS": "50,500"},
    )
    child = load_config(write(tmp_path / "child.env", "FLINK_PARALLELISM=1\n"), environ=parent.environment())
    assert child == parent
    assert (child.flink_parallelism, child.window_sizes, child.minio_root_password) == (3, (50, 500), "generated")


def test_unknown_keys_in_the_file_or_overrides_are_errors_but_environment_noise_is_ignored(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="KAFKA_PROT"):
        load_config(write(tmp_path / "c.env", "KAFKA_PROT=1\n"), environ={})
    with pytest.raises(KeyError):
        load_config(write(tmp_path / "d.env", ""), environ={}, overrides={"NOPE": "1"})
    assert load_config(write(tmp_path / "e.env", ""), environ={"HOME": "/root"}).kafka_port == 9092


def test_type_errors_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KAFKA_PORT must be an integer"):
        load_config(write(tmp_path / "c.env", "KAFKA_PORT=ninety\n"), environ={})


def test_env_file_syntax(tmp_path: Path) -> None:
    parsed = parse_env_file(write(tmp_path / "c.env", "# comment\n\nA=1\nB = 'two'\nC=\"x=y\"\nD=\n"))
    assert parsed == {"A": "1", "B": "two", "C": "x=y", "D": ""}
    with pytest.raises(ValueError, match=r"c2\.env:1"):
        parse_env_file(write(tmp_path / "c2.env", "not a setting\n"))


def test_secrets_never_appear_in_repr_or_public_dict() -> None:
    cfg = Config(minio_root_password="hunter2", grafana_token="tok-123", kafka_sasl_password="scram-pw",
                 cassandra_password="cql-pw", p424_http_token="bearer-9", p424_metrics_token="scrape-7")
    secrets = {"hunter2", "tok-123", "scram-pw", "cql-pw", "bearer-9", "scrape-7"}
    assert not secrets & set(str(v) for v in cfg.public_dict().values())
    assert not [v for v in secrets if v in repr(cfg)]
    for key in ("MINIO_ROOT_PASSWORD", "KAFKA_SASL_PASSWORD", "CASSANDRA_PASSWORD", "P424_HTTP_TOKEN"):
        assert cfg.public_dict()[key] == "***"


def test_service_hosts_default_to_the_bind_address_and_can_be_overridden() -> None:
    cfg = Config(platform_bind_address="127.0.0.2", kafka_host="kafka")
    assert cfg.kafka_bootstrap == "kafka:9092"
    assert cfg.mlflow_url == "http://127.0.0.2:5000"
    assert cfg.window_sizes == (100, 1000)


@pytest.mark.parametrize(
    ("bind", "auth", "enabled"),
    [
        ("127.0.0.1", "auto", False),
        ("127.0.0.2", "auto", False),
        ("::1", "auto", False),
        ("localhost", "auto", False),
        ("0.0.0.0", "auto", True),
        ("::", "auto", True),
        ("192.168.1.20", "auto", True),
        ("pitwall.local", "auto", True),  # a name is not resolved: counted as reachable from elsewhere
        ("127.0.0.1", "on", True),
        ("192.168.1.20", "off", False),
    ],
)
def test_platform_auth_auto_is_on_whenever_the_bind_address_is_not_loopback(bind: str, auth: str, enabled: bool) -> None:
    assert Config(platform_bind_address=bind, platform_auth=auth).auth_enabled is enabled


def test_platform_auth_layers_like_every_setting_and_rejects_other_values(tmp_path: Path) -> None:
    env_file = write(tmp_path / "c.env", "PLATFORM_AUTH=off\n")
    assert load_config(env_file, environ={}).platform_auth == "off"
    assert load_config(env_file, environ={"PLATFORM_AUTH": "on"}).auth_enabled
    assert load_config(env_file, environ={"PLATFORM_AUTH": "on"}, overrides={"PLATFORM_AUTH": "auto"}).platform_auth == "auto"
    with pytest.raises(ValueError, match="PLATFORM_AUTH must be one of auto, on, off, got 'yes'"):
        load_config(env_file, environ={}, overrides={"PLATFORM_AUTH": "yes"})


def test_allowed_senders_are_parsed_networks_and_a_bad_one_is_named(tmp_path: Path) -> None:
    assert [str(n) for n in Config().allowed_senders] == ["127.0.0.0/8", "::1/128"]
    assert [str(n) for n in Config(bridge_allowed_senders=" 10.0.0.0/24, 127.0.0.1").allowed_senders] == [
        "10.0.0.0/24",
        "127.0.0.1/32",
    ]
    with pytest.raises(ValueError, match=r"BRIDGE_ALLOWED_SENDERS: '10\.0\.0\.1/24' is not a network"):
        load_config(write(tmp_path / "c.env", "BRIDGE_ALLOWED_SENDERS=127.0.0.1/32,10.0.0.1/24\n"), environ={})
    with pytest.raises(ValueError, match="BRIDGE_ALLOWED_SENDERS is empty"):
        Config(bridge_allowed_senders=" ")
