"""Container healthcheck for the Flink JobManager and TaskManager (compose mode).

`health.py jobmanager`: the REST API answers. `health.py taskmanager`: this container's
TaskManager is registered with the JobManager (matched by the container's IP address).
Exit status 0 means healthy.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.request

from p424.config import load_config


def _get(path: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{load_config().flink_url}{path}", timeout=5) as r:
        return dict(json.load(r))


def registered(taskmanagers: list[dict[str, object]], address: str) -> bool:
    """Whether a TaskManager at ``address`` appears in the JobManager's /taskmanagers list."""
    return any(str(tm.get("id", "")).startswith(f"{address}:") or f"@{address}:" in str(tm.get("path", ""))
               for tm in taskmanagers)


def main(role: str) -> int:
    try:
        if role == "jobmanager":
            _get("/overview")
            return 0
        if role == "taskmanager":
            own = socket.gethostbyname(socket.gethostname())
            tms = _get("/taskmanagers").get("taskmanagers", [])
            return 0 if isinstance(tms, list) and registered(tms, own) else 1
    except (OSError, ValueError) as err:
        print(f"unhealthy: {err}", file=sys.stderr)
        return 1
    print(f"usage: {sys.argv[0]} jobmanager|taskmanager", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
