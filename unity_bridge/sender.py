"""Sending protocol-v1 datagrams over UDP, paced to the session clock or as fast as possible."""

from __future__ import annotations

import socket
import time


class FrameSender:
    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 2**20)
        self.sent = 0

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, self.address)
        self.sent += 1

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> FrameSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Pacer:
    """Holds each frame until its session time, scaled by ``speed``; ``speed=None`` never waits."""

    def __init__(self, speed: float | None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._wall0: float | None = None
        self._sim0 = 0.0

    def wait(self, sim_time: float) -> None:
        if self.speed is None:
            return
        now = time.perf_counter()
        if self._wall0 is None:
            self._wall0, self._sim0 = now, sim_time
            return
        due = self._wall0 + (sim_time - self._sim0) / self.speed
        if due > now:
            time.sleep(due - now)


class Progress:
    """A progress line every ``every_s`` seconds for long sends."""

    def __init__(self, what: str, total: int | None, every_s: float = 2.0) -> None:
        self.what, self.total, self.every = what, total, every_s
        self.start = self._last = time.monotonic()

    def tick(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        rate = done / max(now - self.start, 1e-9)
        of = f"/{self.total}" if self.total else ""
        pct = f" ({100 * done / self.total:.0f} %)" if self.total else ""
        print(f"  {self.what}: {done}{of} frames{pct}, {rate:,.0f} frames/s", flush=True)
