"""Kafka over TLS (KAFKA_TLS=on), offline: the settings, the generated certificates, each client
library's properties and the broker's. The real broker, every client library and Python's ssl module
against it: tests/test_auth_platform.py (its Kafka tests run with and without TLS).

The certificates are checked with OpenSSL through Python's ssl module (a real TLS handshake between
two sockets of this process), not only by reading back what we wrote.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from launcher import tls
from launcher.console import PlatformError
from launcher.native import NativePlatform
from p424.config import Config
from p424.kafka import auth as kafka_auth
from tests.helpers import clear_settings_from_environ
from tests.helpers import tls_handshake as handshake


@pytest.fixture(autouse=True)
def _own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings_from_environ(monkeypatch)


def tls_platform(tmp_path: Path, **settings: str) -> NativePlatform:
    return NativePlatform({"PLATFORM_STATE_DIR": str(tmp_path), "PLATFORM_AUTH": "on", "KAFKA_TLS": "on",
                           **settings})


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_tls_is_off_by_default_and_only_ever_with_auth(tmp_path: Path) -> None:
    assert Config().kafka_tls_enabled is False
    with pytest.raises(ValueError, match="KAFKA_TLS must be one of off, on"):
        Config(platform_auth="on", kafka_tls="yes")
    assert Config(platform_auth="on", kafka_tls="on").kafka_tls_enabled
    assert Config(platform_bind_address="10.0.0.5", kafka_tls="on").kafka_tls_enabled  # auto: on off loopback
    # TLS carries the SASL listeners: without auth there is none, and `up` says so before starting anything.
    assert Config(kafka_tls="on").kafka_tls_enabled is False  # auto on loopback: auth off
    for auth in ("auto", "off"):
        p = NativePlatform({"PLATFORM_STATE_DIR": str(tmp_path / auth), "PLATFORM_AUTH": auth, "KAFKA_TLS": "on"})
        with pytest.raises(PlatformError, match="KAFKA_TLS=on needs authentication"):
            p.up()
        assert not (tmp_path / auth / "tls").exists()


def test_up_issues_a_ca_and_a_node_certificate_that_openssl_accepts_for_the_nodes_names(tmp_path: Path) -> None:
    p = tls_platform(tmp_path)
    ca_file, keystore = p.cfg.kafka_ca_file, tls.node_keystore(p.cfg, "kafka")
    assert ca_file == tmp_path / "tls" / "ca.crt"
    assert {f.name for f in (tmp_path / "tls").iterdir()} == {"ca.crt", "ca.key", "kafka.pem"}
    for private in (tls.ca_key_file(p.cfg), keystore):
        assert private.stat().st_mode & 0o777 == 0o600
    assert ca_file.stat().st_mode & 0o777 == 0o644  # clients need it; it is public
    assert tls.subject_alt_names(tls.read_keystore(keystore).certificate) == {"127.0.0.1", "localhost"}
    peer = handshake(keystore, ca_file, "127.0.0.1")
    assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]  # type: ignore[operator]
    assert handshake(keystore, ca_file, "localhost")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(keystore, ca_file, "10.9.9.9")
    other = tmp_path / "other-ca.crt"
    other.write_bytes(tls.issue_ca().certificate)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        handshake(keystore, other, "127.0.0.1")
    # The CA may sign server certificates and nothing below them.
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0


def test_certificates_are_kept_until_a_name_the_ca_or_the_expiry_asks_for_new_ones(tmp_path: Path) -> None:
    p = tls_platform(tmp_path)
    keystore = tls.node_keystore(p.cfg, "kafka")
    first = keystore.read_bytes()
    tls_platform(tmp_path)  # another command on the same state dir
    assert keystore.read_bytes() == first
    # Another bind address: the node's certificate must name it.
    moved = tls_platform(tmp_path, PLATFORM_BIND_ADDRESS="127.0.0.9")
    assert tls.subject_alt_names(tls.read_keystore(keystore).certificate) == {"127.0.0.9", "localhost"}
    assert handshake(keystore, moved.cfg.kafka_ca_file, "127.0.0.9")
    ca = tls.ensure_ca(moved.cfg)
    cert = tls.read_keystore(keystore).certificate
    assert tls.needs_new_certificate(cert, ca.certificate, ["127.0.0.9"]) is None
    assert tls.needs_new_certificate(cert, ca.certificate, ["127.0.0.9", "kafka"]) == "it does not name kafka"
    assert tls.needs_new_certificate(cert, tls.issue_ca().certificate, ["127.0.0.9"]) is not None
    late = dt.datetime.now(dt.UTC) + tls.NODE_VALIDITY - dt.timedelta(days=1)
    assert tls.needs_new_certificate(cert, ca.certificate, ["127.0.0.9"], now=late) == "it expires soon"
    # A new CA (its key lost): every node's certificate is issued again by it.
    tls.ca_key_file(moved.cfg).unlink()
    tls_platform(tmp_path, PLATFORM_BIND_ADDRESS="127.0.0.9")
    assert handshake(keystore, moved.cfg.kafka_ca_file, "127.0.0.9")


def test_a_cluster_gets_one_certificate_per_node_naming_that_node(tmp_path: Path) -> None:
    p = tls_platform(tmp_path, PLATFORM_TOPOLOGY="cluster", CLUSTER_NODES="127.0.0.2,127.0.0.3,127.0.0.4")
    for node in p.kafka_nodes:
        keystore = tls.node_keystore(p.cfg, node.name)
        assert tls.subject_alt_names(tls.read_keystore(keystore).certificate) == {node.node.address, "localhost"}
        assert handshake(keystore, p.cfg.kafka_ca_file, node.node.address)
        props = properties(node.server_properties())
        assert props["ssl.keystore.location"] == str(keystore)
        # The controllers dial each other over the controller listener: TLS there too.
        assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL"


def test_the_broker_listens_with_sasl_over_tls_from_pem_files(tmp_path: Path) -> None:
    p = tls_platform(tmp_path)
    props = properties(p.kafka.server_properties())
    assert props["listeners"] == "SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "SASL_SSL://127.0.0.1:9092"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config" in props
    # Kafka's DefaultSslEngineFactory: a PEM key store file with an unencrypted key takes no password.
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert props["ssl.truststore.location"] == str(p.cfg.kafka_ca_file)
    assert not [k for k in props if k.endswith("password") and k.startswith("ssl.")]
    assert props["ssl.endpoint.identification.algorithm"] == "https"


def test_each_client_library_verifies_the_broker_against_the_platform_ca(tmp_path: Path) -> None:
    p = tls_platform(tmp_path)
    cfg = p.cfg.replace(kafka_sasl_username="p424-bridge", kafka_sasl_password="pw-1")
    ca = str(cfg.kafka_ca_file)
    python = kafka_auth.kafka_python(cfg)
    assert python["security_protocol"] == "SASL_SSL"
    assert python["ssl_cafile"] == ca and python["ssl_check_hostname"] is True
    rd = kafka_auth.librdkafka(cfg)
    assert rd["security.protocol"] == "SASL_SSL" and rd["ssl.ca.location"] == ca
    assert rd["ssl.endpoint.identification.algorithm"] == "https"
    java = kafka_auth.java_client(cfg, kafka_auth.FLINK_CONNECTOR_SHADING)
    assert java["security.protocol"] == "SASL_SSL"
    assert (java["ssl.truststore.type"], java["ssl.truststore.location"]) == ("PEM", ca)
    # A client without the CA file gets told where it comes from.
    missing = cfg.replace(kafka_tls_ca_file=str(tmp_path / "nowhere.crt"))
    with pytest.raises(ValueError, match="KAFKA_TLS_CA_FILE"):
        kafka_auth.librdkafka(missing)


def test_a_ca_of_ones_own_is_refused_where_the_launcher_issues_the_certificates(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="leave KAFKA_TLS_CA_FILE empty"):
        tls_platform(tmp_path, KAFKA_TLS_CA_FILE=str(tmp_path / "mine.crt"))
