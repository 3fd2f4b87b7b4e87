"""Helpers for tests against the real native stack: bring-up check, waiting, Kafka and Cassandra access."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kafka import KafkaConsumer, TopicPartition

from launcher.native import NativePlatform
from p424.config import KNOWN_KEYS, Config, parse_env_file
from p424.kafka import auth as kafka_auth
from p424.security.identities import IDENTITY_VARIABLES, identity_env
from p424.storage.reader import TelemetryStore

T = TypeVar("T")
NEVER_UP = "P424_TESTS_NEVER_UP"


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
    """Poll until ``check`` returns something truthy; fail the test with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last value: {last!r})")
        time.sleep(interval)
        last = check()
    return last


def unique_session_id() -> int:
    return uuid.uuid4().int & (2**62 - 1) | 1


def environ_without_settings() -> dict[str, str]:
    """The process environment minus every platform setting and login.

    For a test that runs the platform's code on settings of its own (a state dir under tmp_path):
    whatever the test run itself was given (``./launchcommand.sh test --set PLATFORM_AUTH=on`` puts
    settings in the environment, and Stack.ensure_up exports the admin's logins) must not leak in.
    """
    return {k: v for k, v in os.environ.items() if k.upper() not in KNOWN_KEYS and k not in IDENTITY_VARIABLES}


def clear_settings_from_environ(monkeypatch: Any) -> None:
    """environ_without_settings() applied to this test's os.environ (a pytest MonkeyPatch restores it)."""
    keep = environ_without_settings()
    for key in [k for k in os.environ if k not in keep]:
        monkeypatch.delenv(key)


@dataclass
class Stack:
    platform: NativePlatform
    store: TelemetryStore

    @property
    def cfg(self) -> Config:
        return self.platform.cfg

    @classmethod
    def ensure_up(cls) -> Stack:
        platform = NativePlatform()
        if not platform.all_healthy():
            if os.environ.get(NEVER_UP):
                # A test run that shares a stack another checkout manages must never redeploy it.
                raise AssertionError(f"the stack under {platform.paths.root} is not healthy (and {NEVER_UP} is set)")
            platform.up()
        if platform.cfg.auth_enabled:
            # The tests log in as the admin: through platform.cfg, and, for what they run in-process from the
            # settings (training from the Cassandra source, MLflow's client), through the variables a script
            # of one's own sets (KAFKA_SASL_*, CASSANDRA_*, MLFLOW_TRACKING_*).
            os.environ.update(identity_env("admin", parse_env_file(platform.paths.credentials)))
        return cls(platform, TelemetryStore(platform.cfg))

    def close(self) -> None:
        self.store.close()

    # ---------- Kafka ----------
    def consumer(self, **kw: Any) -> KafkaConsumer:
        return KafkaConsumer(
            bootstrap_servers=self.cfg.kafka_bootstrap,
            enable_auto_commit=False,
            consumer_timeout_ms=2000,
            **kafka_auth.kafka_python(self.cfg),
            **kw,
        )

    def end_offsets(self, topic: str) -> dict[TopicPartition, int]:
        c = self.consumer()
        try:
            parts = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or []]
            return dict(c.end_offsets(parts))
        finally:
            c.close()

    def records_since(
        self,
        topic: str,
        start: dict[TopicPartition, int],
        until_count: int | None = None,
        timeout: float = 30.0,
        key: bytes | None = None,
    ) -> list[Any]:
        """Records appended to ``topic`` after offsets ``start`` (optionally only with ``key``)."""
        c = self.consumer()
        try:
            c.assign(list(start))
            for tp, off in start.items():
                c.seek(tp, off)
            out: list[Any] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                batch = c.poll(timeout_ms=500, max_records=5000)
                for recs in batch.values():
                    out += [r for r in recs if key is None or r.key == key]
                if until_count is not None and len(out) >= until_count:
                    # keep reading briefly: anything beyond the expected count would be a duplicate
                    extra = c.poll(timeout_ms=1000)
                    for recs in extra.values():
                        out += [r for r in recs if key is None or r.key == key]
                    break
            return out
        finally:
            c.close()


def tls_handshake(keystore: Path, ca_file: Path, name: str) -> dict[str, object]:
    """A TLS handshake between a server holding ``keystore`` and a client trusting ``ca_file`` that
    expects ``name``: what OpenSSL accepts is what librdkafka and kafka-python (both OpenSSL) accept."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(keystore)  # key and chain in one file, as Kafka reads it
    client_context = ssl.create_default_context(cafile=str(ca_file))
    listener = socket.create_server(("127.0.0.1", 0))
    errors: list[BaseException] = []

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            with server_context.wrap_socket(connection, server_side=True) as s:
                s.recv(1)
        except (ssl.SSLError, OSError) as e:
            errors.append(e)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=10) as raw, \
                client_context.wrap_socket(raw, server_hostname=name) as client:
            peer = client.getpeercert() or {}
            client.sendall(b"x")
            # Wait for the server to close first: it may still write (TLS 1.3 session tickets).
            with contextlib.suppress(ssl.SSLError, OSError):
                client.recv(1)
            return peer
    finally:
        server.join(timeout=10)
        listener.close()
