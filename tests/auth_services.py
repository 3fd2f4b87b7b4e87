"""Services of the tests' own, with authentication on, beside (never instead of) the shared stack.

The authentication tests start the one service they test from the launcher's own service classes,
in their own state dir (P424_AUTH_STATE_DIR, default ``.platform-auth``, git-ignored) on their own
loopback address (P424_AUTH_BIND_ADDRESS, default 127.0.0.6: the same ports as the shared stack on
127.0.0.1 without clashing), with PLATFORM_AUTH=on, and stop it afterwards. Installs are linked
from the shared state dir (read-only use), so nothing is downloaded again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from launcher.native import NativePlatform
from launcher.services.base import NativeService
from p424.config import REPO_ROOT, Config, load_config, parse_env_file
from p424.security.identities import as_component, identity_env

STATE_DIR = Path(os.environ.get("P424_AUTH_STATE_DIR", REPO_ROOT / ".platform-auth"))
BIND_ADDRESS = os.environ.get("P424_AUTH_BIND_ADDRESS", "127.0.0.6")
# The same with Kafka's listeners over TLS (KAFKA_TLS=on): a state dir and address of their own, so a
# service left running by one variant is never taken for the other's.
TLS_STATE_DIR = Path(os.environ.get("P424_TLS_STATE_DIR", REPO_ROOT / ".platform-auth-tls"))
TLS_BIND_ADDRESS = os.environ.get("P424_TLS_BIND_ADDRESS", "127.0.0.9")
# Cassandra's JMX server binds 127.0.0.1 whatever the listen address: keep off the shared stack's port.
JMX_PORT = os.environ.get("P424_AUTH_CASSANDRA_JMX_PORT", "7299")
SHARED = ("install", "venvs")  # read-only: jars, builds and virtual environments


def state_dir(tls: bool = False) -> Path:
    return TLS_STATE_DIR if tls else STATE_DIR


def overrides(tls: bool = False) -> dict[str, str]:
    return {
        "PLATFORM_STATE_DIR": str(state_dir(tls)),
        "PLATFORM_BIND_ADDRESS": TLS_BIND_ADDRESS if tls else BIND_ADDRESS,
        "PLATFORM_AUTH": "on",
        "KAFKA_TLS": "on" if tls else "off",
        "PLATFORM_TOPOLOGY": "single",
        "CASSANDRA_JMX_PORT": JMX_PORT,
    }


def _link_installs(own_dir: Path) -> None:
    shared = load_config().state_dir
    if shared.resolve() == own_dir.resolve():
        raise AssertionError(f"the authentication tests' state dir {own_dir} is the shared stack's")
    own_dir.mkdir(parents=True, exist_ok=True)
    for name in SHARED:
        link = own_dir / name
        if not link.exists() and (shared / name).exists():
            link.symlink_to(shared / name)


@contextmanager
def own_service(name: str, tls: bool = False) -> Iterator[NativePlatform]:
    """``name`` (kafka, cassandra, mlflow, ...) running with auth on; stopped afterwards if started here.

    A service started here starts from empty data (in the tests' own state dir), so each run goes
    through the first start with auth on: Kafka formatted with its SCRAM users, Cassandra's default
    superuser replaced, MLflow's admin created from its ini file. ``tls``: with KAFKA_TLS=on, in the
    TLS variant's state dir (its CA and certificates issued by the launcher as `up` issues them).
    """
    own_dir = state_dir(tls)
    _link_installs(own_dir)
    platform = NativePlatform(overrides(tls))
    service: NativeService = platform.service(name)
    started = not service.running()
    if started:
        for d in service.data_dirs():
            if own_dir.resolve() not in d.resolve().parents:
                raise AssertionError(f"{d} is outside the tests' own state dir {own_dir}")
            shutil.rmtree(d, ignore_errors=True)
        service.start()
    try:
        service.wait_healthy()
        yield platform
    finally:
        if started:
            service.stop()


def credentials(platform: NativePlatform) -> dict[str, str]:
    return parse_env_file(platform.paths.credentials)


def as_(platform: NativePlatform, component: str) -> Config:
    """The platform's settings, logging in as ``component``."""
    return as_component(platform.cfg, component, credentials(platform))


def component_env(platform: NativePlatform, component: str) -> dict[str, str]:
    return identity_env(component, credentials(platform))


def run(argv: list[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
