"""The TaskManager's gRPC loopback agent (build/java/grpc-loopback-agent) against the gRPC Flink really ships.

PyFlink's Python workers reach the TaskManager over Beam Fn API gRPC servers built by Flink's copy of
Beam's ServerFactory (apache/flink, flink-python/src/main/java/org/apache/beam/sdk/fn/server/
ServerFactory.java: ``NettyServerBuilder.forPort(socket.getPort())``). A probe JVM builds a server the
same way with the Beam-vendored gRPC inside the installed PyFlink distribution (no copy of ours):
without the agent it listens on the wildcard address (the problem is real), with it on loopback,
which the URL ServerFactory advertises to the workers (``localhost:<port>``) reaches. The whole stack's sockets are checked by test_listening_sockets_platform.py.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from launcher.installers import Installer
from launcher.paths import StatePaths
from launcher.procs import Supervisor
from launcher.services.base import Context
from launcher.services.flink import Flink
from p424.config import load_config

VENDORED_BUILDER = re.compile(r"^(org/apache/beam/vendor/grpc/[^/]+/io/grpc)/netty/NettyServerBuilder\.class$")
PROBE = """\
import {grpc}.Server;
import {grpc}.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.util.TreeSet;

public class Probe {{
    public static void main(String[] args) throws Exception {{
        // As Flink's ServerFactory does, and through a listen address added to a builder.
        Server byPort = NettyServerBuilder.forPort(0).build().start();
        Server added = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addListenAddress(new InetSocketAddress(0)).build().start();
        for (Server server : new Server[] {{byPort, added}}) {{
            TreeSet<String> addresses = new TreeSet<>();  // one line per server, in a stable order
            for (Object socket : server.getListenSockets()) {{
                addresses.add(((InetSocketAddress) socket).getAddress().getHostAddress());
            }}
            System.out.println(String.join(",", addresses));
            server.shutdownNow();
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def flink() -> Flink:
    cfg = load_config()
    paths = StatePaths.of(cfg)
    return Flink(Context(cfg, paths, Supervisor(paths.run, paths.logs), Installer(cfg, paths)))


@pytest.fixture(scope="module")
def vendored_grpc(flink: Flink) -> tuple[Path, str]:
    """The jar of the installed PyFlink distribution that carries Beam's vendored gRPC, and its package."""
    if not flink.home.is_dir():
        flink.install()
    for jar in sorted(flink.home.glob("*/*.jar")):
        with zipfile.ZipFile(jar) as z:
            for name in z.namelist():
                if m := VENDORED_BUILDER.match(name):
                    return jar, m.group(1).replace("/", ".")
    raise AssertionError(f"no Beam-vendored gRPC NettyServerBuilder in the jars of {flink.home}")


def _listen_addresses(tmp_path: Path, jar: Path, grpc_package: str, *jvm_options: str) -> list[list[str]]:
    """Per server (forPort, then forAddress + addListenAddress), the addresses it listens on."""
    probe = tmp_path / "Probe.java"
    probe.write_text(PROBE.format(grpc=grpc_package))
    out = subprocess.run(
        ["java", *jvm_options, "-cp", str(jar), str(probe)], capture_output=True, text=True, timeout=120, check=True
    )
    return [line.split(",") for line in out.stdout.split()]


def _unspecified(address: str) -> bool:
    return ipaddress.ip_address(address.partition("%")[0]).is_unspecified  # Java may add a scope: ::%0


def test_flinks_grpc_servers_listen_everywhere_without_the_agent(
    tmp_path: Path, vendored_grpc: tuple[Path, str]
) -> None:
    [by_port], added = _listen_addresses(tmp_path, *vendored_grpc)
    assert _unspecified(by_port), by_port
    assert len(added) == 2 and "127.0.0.1" in added and _unspecified(next(a for a in added if a != "127.0.0.1"))


def test_the_agent_moves_every_wildcard_server_to_loopback(
    tmp_path: Path, flink: Flink, vendored_grpc: tuple[Path, str]
) -> None:
    addresses = _listen_addresses(tmp_path, *vendored_grpc, f"-javaagent:{flink.build_grpc_loopback_agent()}")
    # Asked for the wildcard: moved (both servers, by forPort and by addListenAddress); asked for
    # 127.0.0.1 explicitly: left alone.
    assert addresses == [["127.0.0.1"], ["127.0.0.1"]]


def test_the_taskmanagers_run_with_the_agent(flink: Flink) -> None:
    assert flink.build_grpc_loopback_agent() == flink.grpc_loopback_agent  # the jar the configuration names is built
    assert f"\n      taskmanager: -javaagent:{flink.grpc_loopback_agent}\n" in flink.config_yaml()
