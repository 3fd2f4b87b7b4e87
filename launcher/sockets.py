"""Which sockets the platform's processes listen on, read from /proc (Linux), and which of them
listen beyond the configured address.

The kernel's tables (``/proc/net/tcp``, ``tcp6``, ``udp``, ``udp6``; format in the kernel's
Documentation/networking/proc_net_tcp.rst) give each socket's local address, state and inode;
``/proc/<pid>/fd`` links (``socket:[<inode>]``) tie an inode to a process. Parsing is pure; the
functions that read /proc are kept apart.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from p424.config import is_loopback

TABLES = ("tcp", "tcp6", "udp", "udp6")
TCP_LISTEN = "0A"  # include/net/tcp_states.h: TCP_LISTEN
UDP_UNCONNECTED = "07"  # TCP_CLOSE: an unconnected UDP socket takes datagrams from anyone
SOCKET_LINK = re.compile(r"socket:\[(\d+)\]")


@dataclass(frozen=True, kw_only=True)
class ListeningSocket:
    protocol: str  # tcp | udp (either family)
    address: str  # as an IP address; an IPv4-mapped IPv6 address is given as IPv4
    port: int
    inode: int

    @property
    def wildcard(self) -> bool:
        return ipaddress.ip_address(self.address).is_unspecified


@dataclass(frozen=True, kw_only=True)
class Listener:
    """A listening socket and the platform process that holds it."""

    service: str  # the launcher's process name (its PID file in <state>/run)
    pid: int
    command: str
    socket: ListeningSocket

    def __str__(self) -> str:
        s = self.socket
        host = f"[{s.address}]" if ":" in s.address else s.address
        return f"{self.service} (pid {self.pid}, {self.command}) {s.protocol} {host}:{s.port}"


def _address(hex_address: str) -> str:
    """The local-address column: the address as the kernel stores it (host order per 32-bit word)."""
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    if len(raw) != 16:
        raise ValueError(f"not an IPv4 or IPv6 address column: {hex_address!r}")
    ip = ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
    return str(ip.ipv4_mapped or ip)


def parse_table(table: str, text: str) -> list[ListeningSocket]:
    """The listening sockets of one /proc/net table (``tcp``, ``tcp6``, ``udp`` or ``udp6``)."""
    if table not in TABLES:
        raise ValueError(f"unknown socket table {table!r}; expected one of {', '.join(TABLES)}")
    protocol = table.removesuffix("6")
    state = TCP_LISTEN if protocol == "tcp" else UDP_UNCONNECTED
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != state:
            continue
        hex_address, _, hex_port = fields[1].partition(":")
        out.append(
            ListeningSocket(protocol=protocol, address=_address(hex_address), port=int(hex_port, 16),
                            inode=int(fields[9]))
        )
    return out


def beyond(address: str, bind_address: str) -> bool:
    """Whether a socket on ``address`` listens beyond what PLATFORM_BIND_ADDRESS asked for: a wildcard
    or another interface's address is, unless the platform was told to bind there; loopback never is."""
    if is_loopback(address) or address == bind_address:
        return False
    try:
        return not ipaddress.ip_address(bind_address).is_unspecified
    except ValueError:  # a host name: only loopback or the name's own address could be meant
        return True


# ---------------------------------------------------------------- reading /proc
def listening_sockets(proc: Path = Path("/proc")) -> dict[int, ListeningSocket]:
    """Every listening socket of this network namespace, by inode."""
    found: dict[int, ListeningSocket] = {}
    for table in TABLES:
        try:
            text = (proc / "net" / table).read_text()
        except OSError:
            continue  # e.g. no IPv6
        found.update((s.inode, s) for s in parse_table(table, text))
    return found


def socket_inodes(pid: int, proc: Path = Path("/proc")) -> set[int]:
    out: set[int] = set()
    try:
        fds = os.listdir(proc / str(pid) / "fd")
    except OSError:
        return out
    for fd in fds:
        try:
            m = SOCKET_LINK.fullmatch(os.readlink(proc / str(pid) / "fd" / fd))
        except OSError:
            continue
        if m:
            out.add(int(m.group(1)))
    return out


def session_members(leaders: Mapping[int, str], proc: Path = Path("/proc")) -> dict[int, str]:
    """Each process whose session a launcher-started process leads (the launcher starts every service
    in its own session, so Flink's Python workers and gunicorn's workers are found too), by PID."""
    out: dict[int, str] = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            stat = (proc / entry / "stat").read_text()
        except OSError:
            continue
        session = int(stat[stat.rindex(")") + 2 :].split()[3])  # field 6 of proc_pid_stat(5)
        if session in leaders:
            out[int(entry)] = leaders[session]
    return out


def command_of(pid: int, proc: Path = Path("/proc")) -> str:
    try:
        argv = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(Path(a.decode(errors="replace")).name if i == 0 else a.decode(errors="replace")
                    for i, a in enumerate(argv[:2]) if a)


def listeners(leaders: Mapping[int, str], proc: Path = Path("/proc")) -> Iterator[Listener]:
    """The listening sockets held by the processes of the given sessions."""
    sockets = listening_sockets(proc)
    seen: set[tuple[int, int]] = set()
    for pid, service in sorted(session_members(leaders, proc).items()):
        for inode in sorted(socket_inodes(pid, proc)):
            s = sockets.get(inode)
            if s is not None and (pid, inode) not in seen:
                seen.add((pid, inode))
                yield Listener(service=service, pid=pid, command=command_of(pid, proc), socket=s)


def exposed(found: Iterable[Listener], bind_address: str) -> list[Listener]:
    return [x for x in found if beyond(x.socket.address, bind_address)]
