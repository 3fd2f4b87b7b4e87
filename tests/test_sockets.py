"""Reading the platform's listening sockets from /proc (launcher/sockets.py), against this
process's own real sockets and lines copied from a real /proc/net/tcp6 and /proc/net/udp."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from launcher.sockets import beyond, listeners, listening_sockets, parse_table, socket_inodes

# Lines as Linux 6.x printed them (the platform's Cassandra on 127.0.0.1:34923 through an IPv6
# socket, a Flink TaskManager's Beam server on [::]:40325, the bridge on 127.0.0.1:20424/udp).
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:886B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 647147 1 00000000e6bbd886 100 0 0 10 0
   1: 00000000000000000000000000000000:9D85 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 649509 1 000000005e1437e6 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:2352 0000000000000000FFFF00000100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 651000 1 000000005e1437e6 100 0 0 10 0
"""
UDP = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 2350: 0100007F:4FC8 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 664225 2 00000000bd662084 0
 2351: 0100007F:A1B2 0100007F:4FC8 01 00000000:00000000 00:00000000 00000000     0        0 664226 2 00000000bd662084 0
"""


def test_parse_tables_as_the_kernel_prints_them() -> None:
    tcp6 = parse_table("tcp6", TCP6)
    assert [(s.protocol, s.address, s.port, s.inode, s.wildcard) for s in tcp6] == [
        ("tcp", "127.0.0.1", 34923, 647147, False),  # IPv4-mapped: reported as IPv4
        ("tcp", "::", 40325, 649509, True),
    ]  # the established connection is not listening
    assert [(s.protocol, s.address, s.port) for s in parse_table("udp", UDP)] == [("udp", "127.0.0.1", 20424)]
    with pytest.raises(ValueError, match="unknown socket table 'raw'"):
        parse_table("raw", UDP)


@pytest.mark.parametrize(
    ("address", "bind", "exposed"),
    [
        ("127.0.0.1", "127.0.0.1", False),
        ("::1", "127.0.0.1", False),
        ("0.0.0.0", "127.0.0.1", True),
        ("::", "127.0.0.1", True),
        ("192.168.1.20", "127.0.0.1", True),
        ("192.168.1.20", "192.168.1.20", False),
        ("127.0.0.1", "192.168.1.20", False),  # loopback is never beyond
        ("::", "192.168.1.20", True),
        ("::", "0.0.0.0", False),  # the platform was told to listen everywhere
        ("0.0.0.0", "localhost", True),
    ],
)
def test_beyond_the_configured_address(address: str, bind: str, exposed: bool) -> None:
    assert beyond(address, bind) is exposed


def test_this_processs_own_sockets_are_found_with_their_addresses() -> None:
    with socket.socket() as loop_tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as any_udp:
        loop_tcp.bind(("127.0.0.1", 0))
        loop_tcp.listen()
        any_udp.bind(("0.0.0.0", 0))
        found = listening_sockets()
        mine = {found[i] for i in socket_inodes(os.getpid()) if i in found}
        assert {(s.protocol, s.address, s.port) for s in mine} >= {
            ("tcp", "127.0.0.1", loop_tcp.getsockname()[1]),
            ("udp", "0.0.0.0", any_udp.getsockname()[1]),
        }
        # listeners() walks sessions: this test's session leader stands in for a launcher-started service
        session = os.getsid(0)
        held = [x for x in listeners({session: "pytest"}) if x.pid == os.getpid()]
        assert {(x.socket.address, x.socket.port) for x in held} >= {("0.0.0.0", any_udp.getsockname()[1])}
        assert all(x.service == "pytest" for x in held)


def test_a_missing_process_has_no_sockets(tmp_path: Path) -> None:
    assert socket_inodes(2**22 + 17) == set()
    assert listening_sockets(tmp_path) == {}  # no tables (not Linux): nothing, rather than a crash
