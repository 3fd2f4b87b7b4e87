"""Every listening socket of every process the platform started binds to PLATFORM_BIND_ADDRESS
(or loopback), with the stack up. Read-only: it reads <state>/run/*.pid and /proc, nothing else,
so it may run against a stack another checkout manages.

Known offender, kept visible as a strict xfail: the Flink TaskManager's Beam Fn API gRPC servers
(PyFlink process mode). Flink 2.2.1 builds them with its copy of Beam's ServerFactory
(apache/flink, flink-python/src/main/java/org/apache/beam/sdk/fn/server/ServerFactory.java:
``NettyServerBuilder.forPort(socket.getPort())``, which binds every interface although the
address it advertises is loopback); no Flink or JVM option changes that. PyFlink's thread mode
runs no gRPC servers, but refuses the job's AsyncFunction sink ("AsyncFunction is still not
supported for 'thread' mode.", pyflink/datastream/async_data_stream.py, apache-flink 2.2.1).
"""

from __future__ import annotations

import pytest

from launcher.paths import StatePaths
from launcher.procs import Supervisor
from launcher.sockets import Listener, exposed, listeners
from p424.config import Config, load_config

pytestmark = pytest.mark.platform
TASKMANAGER = "flink-taskmanager"


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def found(cfg: Config) -> list[Listener]:
    paths = StatePaths.of(cfg)
    supervisor = Supervisor(paths.run, paths.logs)
    leaders = {}
    for pid_file in sorted(paths.run.glob("*.pid")):
        pid = supervisor.pid(pid_file.stem)  # None for a stale file (a recycled PID is not ours)
        if pid is not None:
            leaders[pid] = pid_file.stem
    assert leaders, f"no process of the platform is running (PID files under {paths.run}); bring the stack up"
    return list(listeners(leaders))


def test_the_platforms_own_ports_are_seen(cfg: Config, found: list[Listener]) -> None:
    # Not vacuous: the sockets the settings name are found, held by the services that own them.
    seen = {(x.service, x.socket.protocol, x.socket.port) for x in found}
    assert {
        ("kafka", "tcp", cfg.kafka_port),
        ("cassandra", "tcp", cfg.cassandra_port),
        ("flink-jobmanager", "tcp", cfg.flink_rest_port),
        ("bridge", "udp", cfg.bridge_udp_port),
        ("bridge", "tcp", cfg.bridge_http_port),
    } <= seen
    assert any(x.service == TASKMANAGER for x in found)


def test_no_process_listens_beyond_the_bind_address(cfg: Config, found: list[Listener]) -> None:
    wrong = exposed((x for x in found if x.service != TASKMANAGER), cfg.platform_bind_address)
    assert not wrong, (
        f"listening beyond PLATFORM_BIND_ADDRESS={cfg.platform_bind_address}:\n" + "\n".join(map(str, wrong))
    )


@pytest.mark.xfail(
    strict=True,
    reason="PyFlink process mode: Beam's gRPC servers bind every interface (NettyServerBuilder.forPort); "
    "see the module docstring",
)
def test_the_flink_taskmanager_listens_only_on_the_bind_address(cfg: Config, found: list[Listener]) -> None:
    wrong = exposed((x for x in found if x.service == TASKMANAGER), cfg.platform_bind_address)
    assert not wrong, (
        f"listening beyond PLATFORM_BIND_ADDRESS={cfg.platform_bind_address}:\n" + "\n".join(map(str, wrong))
    )
