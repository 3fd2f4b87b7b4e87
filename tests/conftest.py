"""Shared fixtures. Tests marked ``platform`` talk to the real native stack, which
``./launchcommand.sh test`` brings up before pytest starts; the ``stack`` fixture checks it (and
brings it up when pytest is run directly). Each test uses its own session ids, so tests do not
see each other's data. Tests also marked ``cluster`` need the cluster topology and are skipped in a
single one (the topology is the configured one, or the one the state dir's data was created with)."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from p424.config import Config, load_config
from tests.helpers import Stack

# A copy of ../shared/fixtures/perrinn424_lap_start_mgu_50hz.csv, so a clean clone is self-contained.
LOCAL_FIXTURE = Path(__file__).resolve().parent / "data" / "perrinn424_lap_start_mgu_50hz.csv"
# Today's export format, byte for byte (source in tests/data/README.md).
EXCERPT = Path(__file__).resolve().parent / "data" / "perrinn424_training_data_excerpt_15s.csv"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if load_config().clustered:
        return
    skip = pytest.mark.skip(
        reason="needs the cluster topology: ./launchcommand.sh test --set PLATFORM_TOPOLOGY=cluster -- -m cluster"
    )
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)


# kafka-python leaves the socket of each failed connection attempt (a broker stopped by an outage test,
# a node not up yet) to the garbage collector: never connected, bound to the wildcard by connect().
# Only those are forgiven; any other unclosed socket still fails the run.
_FAILED_CONNECT_SOCKET = r"unclosed <socket\.socket fd=\d+, family=\d+, type=\d+, proto=\d+, laddr=\('0\.0\.0\.0', \d+\)>$"


@pytest.fixture(scope="module", autouse=True)
def _collect_failed_connection_sockets() -> Iterator[None]:
    yield
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_FAILED_CONNECT_SOCKET, category=ResourceWarning)
        gc.collect()


@pytest.fixture(scope="session")
def fixture_csv() -> Path:
    """The first 22 s of a real 50 Hz Nordschleife lap exported by the simulator."""
    return LOCAL_FIXTURE


@pytest.fixture(scope="session")
def excerpt_csv() -> Path:
    """The first 15 s of a real lap in today's export format: mixed-case headers and a units row."""
    return EXCERPT


@pytest.fixture(scope="session")
def cfg() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def stack(cfg: Config) -> Iterator[Stack]:
    s = Stack.ensure_up()
    yield s
    s.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test that talks to the platform reports its state (tests.diagnostics): CI keeps only this output."""
    report = yield
    if report.when == "call" and report.failed and "stack" in getattr(item, "fixturenames", ()):
        from tests.diagnostics import report as platform_report

        stack = item.funcargs.get("stack")  # type: ignore[attr-defined]
        if isinstance(stack, Stack):
            report.sections.append(("platform state at the failure", platform_report(stack.platform)))
    return report
