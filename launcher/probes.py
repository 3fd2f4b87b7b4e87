"""Health probes and waiting with visible progress."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import requests

from launcher import console


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(url, timeout=timeout).status_code < 400
    except requests.RequestException:
        return False


def http_json(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """A JSON document from ``url``, or None when it cannot be had."""
    try:
        doc = requests.get(url, timeout=timeout).json()
    except (requests.RequestException, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    failed: Callable[[], bool] = lambda: False,
    interval: float = 0.5,
) -> bool:
    """Poll ``check`` until it holds; print progress every 15 s; stop early if ``failed`` holds."""
    start = time.monotonic()
    last_note = start
    while True:
        if check():
            return True
        now = time.monotonic()
        if failed() or now - start > timeout:
            return False
        if now - last_note >= 15:
            console.info(f"  still waiting for {what} ({now - start:.0f} s of {timeout:.0f} s)")
            last_note = now
        time.sleep(interval)
