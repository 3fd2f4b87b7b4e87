"""Bearer tokens on the platform's own HTTP endpoints (the bridge, the predictor, the Live pusher).

``/health`` stays open (probes and orchestrators read it); every other path needs
``Authorization: Bearer <P424_HTTP_TOKEN>``, and ``/metrics`` also takes the Prometheus scraper's
``P424_METRICS_TOKEN``. Deciding is a pure function of the path and the header; tokens are
compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from p424.config import Config
from p424.security.secrets import HTTP_TOKEN

OPEN_PATHS = frozenset({"/health"})
METRICS_PATH = "/metrics"
SCHEME = "bearer"  # RFC 7235: the scheme name is case-insensitive


@dataclass(frozen=True, kw_only=True)
class HttpAuth:
    token: str  # every path
    metrics_token: str = ""  # /metrics only; empty: none besides ``token``

    def __repr__(self) -> str:  # never show a token in a log or a traceback
        return "HttpAuth(token=***, metrics_token=" + ("***" if self.metrics_token else "''") + ")"

    @classmethod
    def of(cls, cfg: Config) -> HttpAuth | None:
        """The endpoints' tokens when PLATFORM_AUTH says so (None: everything open)."""
        if not cfg.auth_enabled:
            return None
        if not cfg.p424_http_token:
            raise ValueError(
                f"authentication is on (PLATFORM_AUTH={cfg.platform_auth}, PLATFORM_BIND_ADDRESS="
                f"{cfg.platform_bind_address}) but {HTTP_TOKEN} is not set; `./launchcommand.sh up` generates it "
                "into <state>/credentials.env"
            )
        return cls(token=cfg.p424_http_token, metrics_token=cfg.p424_metrics_token)


def _same(given: bytes, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given, expected.encode())


def refusal(auth: HttpAuth | None, path: str, authorization: str | None) -> str | None:
    """Why a request for ``path`` with this Authorization header is refused, or None if it may proceed."""
    route = path.split("?", 1)[0]
    if auth is None or route in OPEN_PATHS:
        return None
    if not authorization:
        return "missing Authorization: Bearer <token>"
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != SCHEME or not credentials.strip():
        return "the Authorization header is not of the form 'Bearer <token>'"
    given = credentials.strip().encode()
    accepted = _same(given, auth.token)
    # Both comparisons always run, so the time taken says nothing about which token came close.
    scraper = _same(given, auth.metrics_token)
    if accepted or (scraper and route == METRICS_PATH):
        return None
    return "token not accepted for this path" if scraper else "token not accepted"


def bearer_headers(cfg: Config) -> dict[str, str]:
    """Headers a client of the platform sends to these endpoints (none when it has no token)."""
    return {"Authorization": f"Bearer {cfg.p424_http_token}"} if cfg.p424_http_token else {}
