"""Batched, rate-limited pushes of line protocol to Grafana Live that never block the producer.

The producer (the Kafka loop) calls ``LiveBuffer.offer``, which never waits: the buffer is bounded
and drops the oldest lines when full (a live view wants the newest data; the history is in
Cassandra), counting what it dropped. One sender thread drains it at most ``max_requests_per_s``
times a second, at most ``max_batch_lines`` lines and ``max_batch_bytes`` bytes per request. A
failed push drops its batch (counted) and backs off exponentially; meanwhile the buffer keeps only
the newest lines. Grafana being slow is bounded by the request timeouts, Grafana being absent by
the back-off.

The byte cap: a line of every catalog channel is ~3 KB, so a catch-up batch of 1,000 lines is
~3 MB. Grafana's push handler (grafana/grafana ``pkg/services/live/pushhttp/push.go``) read the
whole body in the versions we could read; a Grafana security patch limits it to 500 KiB
(``http.MaxBytesReader(ctx.Resp, ctx.Req.Body, 500*1024)``, as a review of that patch quotes it;
the handler at the 12.2.1 tag itself was not readable here). Half of that fits every version.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import requests

from grafana.live.lines import body

log = logging.getLogger("p424.grafana.live")
# Bytes of line protocol per request: half the 500 KiB Grafana's push handler reads (see above).
MAX_BATCH_BYTES = 256 * 1024


@dataclass(frozen=True)
class PushSettings:
    url: str  # <GRAFANA_URL>/api/live/push/<stream>
    token: str  # service-account token (Bearer)
    max_buffer_lines: int = 5000
    max_batch_lines: int = 1000
    max_batch_bytes: int = MAX_BATCH_BYTES
    max_requests_per_s: float = 10.0
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 2.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0


def push_url(grafana_url: str, stream: str) -> str:
    return f"{grafana_url.rstrip('/')}/api/live/push/{stream}"


@dataclass
class PushStats:
    offered: int = 0
    dropped: int = 0  # lines evicted from the full buffer (drop-oldest)
    pushed: int = 0  # lines Grafana accepted
    failed: int = 0  # lines in batches that failed (dropped, not retried)
    oversized: int = 0  # single lines longer than a whole request may be (dropped)
    requests: int = 0
    request_errors: int = 0
    last_ok: float = 0.0  # wall clock of the last accepted push
    last_error: str = ""
    backoff_s: float = 0.0
    status: dict[int, int] = field(default_factory=dict)  # HTTP status -> count


class LiveBuffer:
    """A bounded FIFO of lines: ``offer`` never blocks and evicts the oldest when full."""

    def __init__(self, capacity: int, stats: PushStats) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self._lines: deque[str] = deque()
        self._capacity = capacity
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self.stats = stats

    def offer(self, lines: Iterable[str]) -> None:
        with self._lock:
            for item in lines:
                if len(self._lines) >= self._capacity:
                    self._lines.popleft()
                    self.stats.dropped += 1
                self._lines.append(item)
                self.stats.offered += 1
            self._ready.notify()

    def take(self, limit: int, wait_s: float, max_bytes: int = MAX_BATCH_BYTES) -> list[str]:
        """The oldest lines, at most ``limit`` of them and ``max_bytes`` of request body, waiting at
        most ``wait_s`` for the first. A line that alone exceeds ``max_bytes`` is dropped (counted)."""
        out: list[str] = []
        size = 0
        with self._lock:
            if not self._lines:
                self._ready.wait(wait_s)
            while self._lines and len(out) < limit:
                n = len(self._lines[0].encode()) + 1  # and its newline
                if n > max_bytes:
                    self._lines.popleft()
                    self.stats.oversized += 1
                    log.warning("dropping a %d-byte line: a push request may carry at most %d bytes", n, max_bytes)
                    continue
                if size + n > max_bytes:
                    break
                out.append(self._lines.popleft())
                size += n
        return out

    def wake(self) -> None:
        with self._lock:
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return len(self._lines)


Post = Callable[[bytes], int]  # sends a body, returns the HTTP status; raises on transport errors


class HttpPost:
    """POSTs bodies to the push URL over one keep-alive connection."""

    def __init__(self, settings: PushSettings) -> None:
        self.settings = settings
        self.session = requests.Session()
        self.headers = {"Content-Type": "text/plain; charset=utf-8"}
        if settings.token:
            self.headers["Authorization"] = f"Bearer {settings.token}"

    def __call__(self, data: bytes) -> int:
        s = self.settings
        r = self.session.post(s.url, data=data, headers=self.headers, timeout=(s.connect_timeout_s, s.read_timeout_s))
        r.close()
        return r.status_code

    def close(self) -> None:
        self.session.close()


class Pusher:
    """The sender thread. ``start``/``stop``; ``buffer.offer`` is the producer side."""

    def __init__(self, settings: PushSettings, post: Post | None = None) -> None:
        self.settings = settings
        self.stats = PushStats()
        self.buffer = LiveBuffer(settings.max_buffer_lines, self.stats)
        self._http: HttpPost | None = None
        if post is None:
            self._http = post = HttpPost(settings)
        self._post: Post = post
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grafana-live-push", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self.buffer.wake()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._http is not None:
            self._http.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        s = self.settings
        min_interval = 1.0 / s.max_requests_per_s
        backoff = 0.0
        while not self._stop.is_set():
            started = time.monotonic()
            batch = self.buffer.take(s.max_batch_lines, wait_s=0.5, max_bytes=s.max_batch_bytes)
            if batch:
                backoff = self.push_once(batch, backoff)
            # Rate limit: at most max_requests_per_s requests; after a failure wait the back-off.
            pause = max(min_interval - (time.monotonic() - started), backoff)
            if pause > 0:
                self._stop.wait(pause)

    def push_once(self, batch: list[str], backoff: float) -> float:
        """Push one batch; returns the back-off to apply before the next request."""
        s, st = self.settings, self.stats
        st.requests += 1
        try:
            status = self._post(body(batch))
            error = "" if 200 <= status < 300 else f"HTTP {status}"
            st.status[status] = st.status.get(status, 0) + 1
        except requests.RequestException as err:
            error = type(err).__name__
        if not error:
            st.pushed += len(batch)
            st.last_ok = time.time()
            st.backoff_s = 0.0
            st.last_error = ""
            return 0.0
        st.failed += len(batch)
        st.request_errors += 1
        backoff = min(s.backoff_max_s, max(s.backoff_initial_s, backoff * 2))
        if error != st.last_error:
            log.warning(
                "grafana live push failed (%s); dropping %d lines, retrying in %.1f s", error, len(batch), backoff
            )
        st.last_error = error
        st.backoff_s = backoff
        return backoff
