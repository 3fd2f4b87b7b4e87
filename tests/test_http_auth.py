"""Bearer tokens on the platform's own HTTP endpoints, over real sockets.

The server is ``p424.status_http.serve_status``, the one the bridge, the predictor and the Live
pusher run; the client is ``requests``, as the launcher and the tests use. The header forms follow
RFC 6750 section 2.1 (``Authorization: Bearer <token>``) and RFC 7235 (case-insensitive scheme,
``WWW-Authenticate`` on a 401).
"""

from __future__ import annotations

from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry, Counter

from launcher.console import PlatformError
from launcher.credentials import ensure_credentials, require_auth_beyond_loopback
from p424.config import Config, load_config, parse_env_file
from p424.security.http import HttpAuth, bearer_headers, refusal
from p424.security.secrets import HTTP_TOKEN, METRICS_TOKEN
from p424.status_http import serve_status

TOKEN, SCRAPER = "tok-Jx1_component", "tok-Pq9_scraper"


def start(auth: HttpAuth | None) -> ThreadingHTTPServer:
    registry = CollectorRegistry()
    Counter("p424_test_requests", "a counter the scrape must show", registry=registry).inc(3)
    documents = {"/health": lambda: (200, {"status": "ok"}), "/sessions": lambda: (200, [{"session_id": 7}])}
    return serve_status("127.0.0.1", 0, registry, documents, auth=auth)


@pytest.fixture()
def url() -> Iterator[str]:
    server = start(HttpAuth(token=TOKEN, metrics_token=SCRAPER))
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def get(url: str, path: str, token: str | None = None, header: str | None = None) -> requests.Response:
    headers = {"Authorization": header if header is not None else f"Bearer {token}"} if (token or header) else {}
    return requests.get(f"{url}{path}", headers=headers, timeout=5)


def test_health_stays_open_and_everything_else_needs_a_token(url: str) -> None:
    assert get(url, "/health").json() == {"status": "ok"}
    for path in ("/sessions", "/metrics", "/nothing-here"):
        r = get(url, path)
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="p424"'
        assert r.json() == {"error": "unauthorized", "detail": "missing Authorization: Bearer <token>"}
        assert "p424_test_requests" not in r.text and "session_id" not in r.text


def test_the_components_token_opens_every_path(url: str) -> None:
    assert get(url, "/sessions", TOKEN).json() == [{"session_id": 7}]
    assert "p424_test_requests_total 3.0" in get(url, "/metrics", TOKEN).text
    assert get(url, "/nothing-here", TOKEN).status_code == 404  # past authentication, an unknown path
    assert get(url, "/sessions", header=f"bearer  {TOKEN}").status_code == 200  # scheme is case-insensitive


def test_the_scrapers_token_reads_metrics_and_nothing_else(url: str) -> None:
    assert "p424_test_requests_total 3.0" in get(url, "/metrics", SCRAPER).text
    r = get(url, "/sessions", SCRAPER)
    assert (r.status_code, r.json()["detail"]) == (401, "token not accepted for this path")


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (f"Bearer {TOKEN}x", "token not accepted"),
        (f"Bearer {TOKEN[:-1]}", "token not accepted"),
        (f"Basic {TOKEN}", "the Authorization header is not of the form 'Bearer <token>'"),
        (TOKEN, "the Authorization header is not of the form 'Bearer <token>'"),
        ("Bearer ", "the Authorization header is not of the form 'Bearer <token>'"),
    ],
)
def test_a_wrong_token_or_scheme_is_refused_and_named(url: str, header: str, detail: str) -> None:
    r = get(url, "/sessions", header=header)
    assert (r.status_code, r.json()["detail"]) == (401, detail)


def test_with_auth_off_every_path_is_open() -> None:
    server = start(None)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert get(url, "/sessions").json() == [{"session_id": 7}]
        assert "p424_test_requests_total 3.0" in get(url, "/metrics").text
    finally:
        server.shutdown()
        server.server_close()


def test_the_tokens_come_from_the_settings_when_auth_is_on() -> None:
    assert HttpAuth.of(Config(p424_http_token=TOKEN)) is None  # loopback, auto: open
    on = Config(platform_auth="on", p424_http_token=TOKEN, p424_metrics_token=SCRAPER)
    assert HttpAuth.of(on) == HttpAuth(token=TOKEN, metrics_token=SCRAPER)
    assert HttpAuth.of(Config(platform_bind_address="0.0.0.0", p424_http_token=TOKEN)) == HttpAuth(token=TOKEN)
    with pytest.raises(ValueError, match=r"authentication is on .* but P424_HTTP_TOKEN is not set"):
        HttpAuth.of(Config(platform_bind_address="10.1.2.3"))
    assert TOKEN not in repr(HttpAuth.of(on)) and SCRAPER not in repr(HttpAuth.of(on))
    assert bearer_headers(on) == {"Authorization": f"Bearer {TOKEN}"}
    assert bearer_headers(Config()) == {}


def test_without_a_metrics_token_only_the_components_token_reads_metrics() -> None:
    auth = HttpAuth(token=TOKEN)
    assert refusal(auth, "/metrics", f"Bearer {TOKEN}") is None
    assert refusal(auth, "/metrics", "Bearer ") is not None
    assert refusal(auth, "/health?verbose=1", None) is None
    assert refusal(auth, "/metrics?name[]=x", None) == "missing Authorization: Bearer <token>"


def test_up_refuses_a_non_loopback_bind_with_auth_off_and_says_why(tmp_path: Path) -> None:
    from launcher.native import NativePlatform

    exposed = {"PLATFORM_STATE_DIR": str(tmp_path), "PLATFORM_BIND_ADDRESS": "192.168.1.20", "PLATFORM_AUTH": "off"}
    with pytest.raises(PlatformError, match=r"PLATFORM_BIND_ADDRESS=192\.168\.1\.20 is reachable from other machines"):
        NativePlatform(exposed).up()  # refused before anything is installed or started
    assert not (tmp_path / "run" / "launcher.lock").exists()
    require_auth_beyond_loopback(Config(platform_bind_address="127.0.0.1", platform_auth="off"))
    require_auth_beyond_loopback(Config(platform_bind_address="0.0.0.0", platform_auth="auto"))


def test_first_up_generates_both_tokens_privately(tmp_path: Path) -> None:
    path = tmp_path / "credentials.env"
    assert ensure_credentials(path)
    values = parse_env_file(path)
    assert len(values[HTTP_TOKEN]) >= 32 and len(values[METRICS_TOKEN]) >= 32
    assert values[HTTP_TOKEN] != values[METRICS_TOKEN]
    assert path.stat().st_mode & 0o777 == 0o600
    cfg = load_config(environ={}, overrides={"PLATFORM_STATE_DIR": str(tmp_path)})
    assert (cfg.p424_http_token, cfg.p424_metrics_token) == (values[HTTP_TOKEN], values[METRICS_TOKEN])
    assert not ensure_credentials(path)  # kept on later runs


def test_up_beyond_loopback_with_auth_has_nothing_left_to_warn_about(capsys: pytest.CaptureFixture[str]) -> None:
    # Kafka, Cassandra and MLflow log their clients in too now (issue 16), in both modes.
    require_auth_beyond_loopback(Config(platform_bind_address="192.168.1.20"))
    require_auth_beyond_loopback(Config())
    assert capsys.readouterr().err == ""
