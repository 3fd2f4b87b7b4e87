"""The bridge's UDP sender allowlist (BRIDGE_ALLOWED_SENDERS), with real sockets and no Kafka.

A real ``unity_bridge.server.Bridge`` listens on 127.0.0.1 (its frame and DMG1 sockets) with the
allowlist 127.0.0.1/32; two real senders bound to 127.0.0.1 and 127.0.0.2 (both loopback on
Linux) send the same datagrams. Only the first one's reach the spool; the second one's are
counted per input with their reason and dropped.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from p424.codec.dmg1 import DMG1_CHANNELS, encode_dmg1
from p424.codec.frame import FrameEncoder, FrameHeader
from p424.config import Config
from p424.security.http import bearer_headers
from tests.helpers import wait_for
from unity_bridge.intake import SENDER_NOT_ALLOWED, SenderFilter, sender_allowed
from unity_bridge.server import INPUT_DMG1, INPUT_FRAMES, Bridge

N = 40  # datagrams each sender sends on each socket


def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def bridge(tmp_path: Path) -> Iterator[Bridge]:
    cfg = Config(
        platform_state_dir=str(tmp_path),
        bridge_udp_port=0,
        bridge_dmg1_port=free_port(socket.SOCK_DGRAM),
        bridge_http_port=free_port(socket.SOCK_STREAM),
        bridge_allowed_senders="127.0.0.1/32",
        bridge_socket_buffer_bytes=1 << 20,
        p424_http_token="tok-senders-test",
    )
    b = Bridge(cfg, spool_dir=tmp_path / "spool")
    loop = threading.Thread(target=b.serve_socket, daemon=True)
    loop.start()
    b.start_http()
    try:
        yield b
    finally:
        b.stopping.set()
        loop.join(5)
        assert b.http is not None
        b.http.shutdown()
        b.http.server_close()
        b.sock.close()
        assert b.dmg1_sock is not None
        b.dmg1_sock.close()
        b.spool.close()


def send_from(host: str, bridge: Bridge, session_id: int) -> str:
    """N protocol-v1 frames and N DMG1 datagrams from a socket bound to ``host``; its address."""
    enc = FrameEncoder()
    values = np.zeros(len(enc.present), dtype=np.float32)
    assert bridge.dmg1_port is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.bind((host, 0))
        for seq in range(N):
            tx.sendto(enc.encode(FrameHeader(5, session_id, seq, seq * 0.02), values), ("127.0.0.1", bridge.port))
            tx.sendto(encode_dmg1(10.0 + seq / 50, dict.fromkeys(DMG1_CHANNELS, 1.0)), ("127.0.0.1", bridge.dmg1_port))
        return f"{host}:{tx.getsockname()[1]}"


def test_datagrams_from_outside_the_allowlist_are_counted_and_dropped_on_both_sockets(bridge: Bridge) -> None:
    stranger = send_from("127.0.0.2", bridge, session_id=9002)
    friend = send_from("127.0.0.1", bridge, session_id=9001)
    assert stranger.startswith("127.0.0.2:") and friend.startswith("127.0.0.1:")
    m = bridge.metrics

    def settled() -> bool:
        return m.accepted == 2 * N and sum(m.dropped.values()) == 2 * N

    wait_for(settled, 10, "the bridge to take the allowed sender's datagrams and drop the other's")
    assert m.dropped == {(INPUT_FRAMES, SENDER_NOT_ALLOWED): N, (INPUT_DMG1, SENDER_NOT_ALLOWED): N}
    assert (m.accepted_dmg1, sum(m.rejected.values()), m.datagrams) == (N, 0, 2 * N)  # nothing dead-lettered
    sources = set(m.session_source.values())
    assert friend in sources and {s.rpartition(":")[0] for s in sources} == {"127.0.0.1"}
    assert 9002 not in m.sessions and 9001 in m.sessions
    # ...and the operator sees it: the metric with its reason, and /health.
    url = f"http://127.0.0.1:{bridge.cfg.bridge_http_port}"
    text = requests.get(f"{url}/metrics", headers=bearer_headers(bridge.cfg), timeout=5).text
    found = dict(re.findall(r'p424_bridge_datagrams_dropped_total\{input="(\w+)",reason="sender_not_allowed"\} (\S+)', text))
    assert found == {INPUT_FRAMES: f"{float(N)}", INPUT_DMG1: f"{float(N)}"}
    health = requests.get(f"{url}/health", timeout=5).json()
    assert health["dropped"] == {f"{INPUT_DMG1}/{SENDER_NOT_ALLOWED}": N, f"{INPUT_FRAMES}/{SENDER_NOT_ALLOWED}": N}


NETS = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128", "10.20.0.0/16"))


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("10.20.3.4", True),
        ("::ffff:10.20.3.4", True),  # IPv4-mapped: judged as IPv4
        ("10.21.0.1", False),
        ("192.168.1.20", False),
        ("::2", False),
        ("fe80::1%eth0", False),
        ("not-an-address", False),
        ("", False),
    ],
)
def test_sender_allowed(host: str, allowed: bool) -> None:
    assert sender_allowed(host, NETS) is allowed
    assert SenderFilter(NETS).allows(host) is allowed


def test_the_filter_remembers_a_bounded_number_of_senders() -> None:
    f = SenderFilter(NETS)
    for i in range(SenderFilter.MAX_REMEMBERED + 10):
        assert not f.allows(f"192.0.{i // 256}.{i % 256}")
    assert len(f._seen) <= SenderFilter.MAX_REMEMBERED
    assert f.allows("127.0.0.1")
