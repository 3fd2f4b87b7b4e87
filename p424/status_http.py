"""The small HTTP endpoint every long-running service serves: Prometheus ``/metrics`` plus JSON
documents such as ``/health``, on a daemon thread so it never blocks the service's own work.
With authentication on, everything but ``/health`` needs a bearer token (p424.security.http)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from p424.security.http import HttpAuth, refusal

# path -> () -> (HTTP status, JSON-able document)
Documents = Mapping[str, Callable[[], tuple[int, Any]]]


def serve_status(
    bind: str, port: int, registry: CollectorRegistry, documents: Documents, *, auth: HttpAuth | None
) -> ThreadingHTTPServer:
    """Start serving ``/metrics`` from ``registry`` and each of ``documents``; return the server.
    ``auth``: the tokens (``HttpAuth.of(cfg)``), None for open endpoints."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            why = refusal(auth, self.path, self.headers.get("Authorization"))
            if why is not None:
                body = json.dumps({"error": "unauthorized", "detail": why}).encode()
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Bearer realm="p424"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.path == "/metrics":
                status, body, ctype = 200, generate_latest(registry), "text/plain; version=0.0.4"
            elif self.path in documents:
                status, doc = documents[self.path]()
                body, ctype = json.dumps(doc).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: scraped every few seconds
            return

    server = ThreadingHTTPServer((bind, port), Handler)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
