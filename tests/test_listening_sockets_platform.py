"""Every listening socket of every process the platform started binds to PLATFORM_BIND_ADDRESS
(or loopback), with the stack up. Read-only: it reads <state>/run/*.pid and /proc, nothing else,
so it may run against a stack another checkout manages.

The Flink TaskManager's Beam Fn API gRPC servers (PyFlink process mode) are included: Flink 2.2.1
builds them with its copy of Beam's ServerFactory (apache/flink, flink-python/src/main/java/org/
apache/beam/sdk/fn/server/ServerFactory.java: ``NettyServerBuilder.forPort(socket.getPort())``,
which binds every interface although it advertises loopback) and no Flink or JVM option changes
that, so the TaskManagers run with the platform's gRPC loopback agent (build/java/grpc-loopback-agent,
tests/test_grpc_loopback_agent.py), which puts them on loopback, where the advertised ``localhost`` URL
leads the workers. PyFlink's thread mode would run no gRPC servers, but it refuses the job's
AsyncFunction sink ("AsyncFunction is still not supported for 'thread' mode.",
pyflink/datastream/async_data_stream.py, apache-flink 2.2.1).
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
    assert any(x.service.startswith(TASKMANAGER) for x in found)


def test_the_taskmanagers_python_worker_servers_went_through_the_agent(cfg: Config) -> None:
    # Not vacuous either: the job's Python workers started, and each gRPC server Beam asked to put on
    # the wildcard address was moved by the agent (it says so on the TaskManager's stderr).
    paths = StatePaths.of(cfg)
    logs = sorted(paths.logs.glob(f"{TASKMANAGER}*.log"))
    moved = [line for log in logs for line in log.read_text(errors="replace").splitlines()
             if line.startswith("grpc-loopback-agent: gRPC server on port ")]
    assert len(moved) >= 4, f"expected the Beam Fn API servers (control, data, state, logging) in {logs}"
    assert all(line.endswith(" bound to 127.0.0.1 instead of 0.0.0.0") for line in moved), moved


def test_no_process_listens_beyond_the_bind_address(cfg: Config, found: list[Listener]) -> None:
    wrong = exposed(found, cfg.platform_bind_address)
    assert not wrong, (
        f"listening beyond PLATFORM_BIND_ADDRESS={cfg.platform_bind_address}:\n" + "\n".join(map(str, wrong))
    )
