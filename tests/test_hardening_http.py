"""The HTTP service against forged Host/Origin headers and slow or numerous clients, over real loopback sockets.

Once, the SDK's prefix match accepted ``Host: 127.0.0.1:PORT@evil.example`` and ``Origin:
http://localhost:1.evil.example``, and 300 connections trickling their headers all stayed open for 30 s.
One server (the console script) serves the whole module; every socket is loopback, every wait bounded.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from mcp_server.__main__ import _parser
from mcp_server.errors import ConfigError
from mcp_server.http_hosts import HostOriginMiddleware, host_rule, origin_rule, parse_authority, parse_origin
from mcp_server.settings import Settings
from tests.http_helpers import INITIALIZE, MCP_HEADERS, Served, serve

TOKEN = "hardening-caller-token-0c9f3a7d51"
BEARER = {"authorization": f"Bearer {TOKEN}"}
ALLOWED_HOST = "mcp.internal.example"
ALLOWED_ORIGIN = "https://console.internal.example"
MAX_CONNECTIONS = 6
ENV = {
    "SESSION_REPLAY_MCP_AUTH_TOKEN": TOKEN,
    "SESSION_REPLAY_MCP_ALLOWED_HOSTS": ALLOWED_HOST,
    "SESSION_REPLAY_MCP_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
    "SESSION_REPLAY_MCP_HEADER_TIMEOUT": "1",
    "SESSION_REPLAY_MCP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
}


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with serve("--transport", "streamable-http", env=ENV) as served:
        yield served


def status_of(served: Served, headers: dict[str, str]) -> int:
    response = httpx2.post(f"{served.base}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **BEARER, **headers})
    return response.status_code


# -- Host and Origin, parsed and compared exactly -------------------------------------------------------------


def forged_hosts(port: int) -> list[str]:
    return [
        f"127.0.0.1:{port}@evil.example",
        "localhost:1.evil.example",
        f"localhost:{port}.evil.example",
        f"127.0.0.1:{port} evil.example",
        f"127.0.0.1:{port}/evil",
        "127.0.0.1:",
        "127.0.0.1:99999",
        "127.0.0.1.evil.example",
        f"[::1]:{port}@evil.example",
        f"{ALLOWED_HOST}.evil.example",
        f"{ALLOWED_HOST}:{port}@evil.example",
        "evil.example",
        f"evil.example#{ALLOWED_HOST}",
    ]


FORGED_ORIGINS = [
    "http://localhost:1.evil.example",
    "http://127.0.0.1:8000@evil.example",
    "http://127.0.0.1.evil.example",
    "http://localhost:3000/evil",
    "http://localhost:3000 evil",
    "http://evil.example#http://localhost:1",
    f"{ALLOWED_ORIGIN}.evil.example",
    f"{ALLOWED_ORIGIN}:443@evil.example",
    "https://localhost:3000",  # loopback origins are http
    "null",
    "file://",
]


def test_forged_hosts_are_refused(server: Served) -> None:
    port = urlsplit(server.base).port or 0
    for host in forged_hosts(port):
        assert status_of(server, {"host": host}) == 421, host


def test_forged_origins_are_refused(server: Served) -> None:
    for origin in FORGED_ORIGINS:
        assert status_of(server, {"origin": origin}) == 403, origin


def test_exact_hosts_and_origins_are_let_in(server: Served) -> None:
    port = urlsplit(server.base).port
    for headers in (
        {"host": f"127.0.0.1:{port}"},
        {"host": f"LOCALHOST:{port}"},
        {"host": f"[::1]:{port}"},
        {"host": ALLOWED_HOST},
        {"host": f"{ALLOWED_HOST}:443"},
        {"origin": "http://localhost:3000"},
        {"origin": "http://127.0.0.1"},
        {"origin": ALLOWED_ORIGIN},
        {"origin": f"{ALLOWED_ORIGIN}:443"},
    ):
        assert status_of(server, headers) == 200, headers


def test_the_parsers_take_exactly_one_host_and_port() -> None:
    assert parse_authority("LocalHost:8000") is not None
    assert parse_authority("[0:0::1]:80") == parse_authority("[::1]:80")
    for bad in ("a@b", "a:b", "a:1:2", "[::1", "a b", "", ":80", "a:0", "a:65536", "a\u3002b", "a%2eb"):
        assert parse_authority(bad) is None, bad
    for bad in ("http://a/", "http://a?x", "http://u@a", "ftp://a", "http:/a", "null", "http://a:1:2"):
        assert parse_origin(bad) is None, bad
    assert host_rule("a.example") is not None and host_rule("a.example:8443") is not None
    assert origin_rule("https://a.example:*") is not None and origin_rule("a.example") is None


def test_allowed_entries_that_do_not_parse_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    with caplog.at_level(logging.WARNING, logger="mcp_server.http_hosts"):
        HostOriginMiddleware(app, ["ok.example", "evil@ok.example"], ["https://ok.example", "ok.example/path"])
    assert "Ignoring allowed Host 'evil@ok.example'" in caplog.text
    assert "Ignoring allowed Origin 'ok.example/path'" in caplog.text
    assert "'ok.example'" not in caplog.text


# -- slow and numerous clients ----------------------------------------------------------------------------


def _outcome(sock: socket.socket, trickle: bool, until: float) -> str:
    """What became of a connection whose headers never finish: the status it got, once it was closed."""
    received = b""
    sock.settimeout(0.2)
    while time.monotonic() < until:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            if trickle:
                try:
                    sock.sendall(b"x")  # one more byte of a header that never ends
                except OSError:
                    break
            continue
        except OSError:
            break
        if not chunk:
            return received.split(b"\r\n", 1)[0].decode() or "closed"
        received += chunk
    return received.split(b"\r\n", 1)[0].decode() or "still open"


def test_clients_trickling_their_headers_are_cut_off_and_extra_connections_refused(server: Served) -> None:
    host, port = "127.0.0.1", urlsplit(server.base).port or 0
    extra = 3
    socks = [socket.create_connection((host, port), timeout=5) for _ in range(MAX_CONNECTIONS + extra)]
    try:
        for sock in socks:
            sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        until = time.monotonic() + 20  # a generous promise for a 1 s header timeout on a busy machine
        outcomes = [_outcome(sock, trickle=i % 2 == 0, until=until) for i, sock in enumerate(socks)]
    finally:
        for sock in socks:
            sock.close()
    assert all(o in ("HTTP/1.1 408 Request Timeout", "HTTP/1.1 503 Service Unavailable") for o in outcomes), outcomes
    assert outcomes.count("HTTP/1.1 503 Service Unavailable") >= extra, outcomes
    assert outcomes.count("HTTP/1.1 408 Request Timeout") >= 1, outcomes
    # The slots are free again: an ordinary request is served.
    assert httpx2.get(f"{server.base}/health").status_code == 200


def test_an_idle_connection_that_never_sends_is_closed(server: Served) -> None:
    port = urlsplit(server.base).port or 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        assert _outcome(sock, trickle=False, until=time.monotonic() + 20) == "HTTP/1.1 408 Request Timeout"


def test_a_kept_alive_connection_gets_the_header_timeout_for_each_request(server: Served) -> None:
    port = urlsplit(server.base).port or 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while b"}" not in first:
            first += sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200 OK")
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert _outcome(sock, trickle=True, until=time.monotonic() + 20) == "HTTP/1.1 408 Request Timeout"


def test_a_body_trickled_after_quick_headers_is_cut_off_too(server: Served) -> None:
    port = urlsplit(server.base).port or 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000\r\n\r\n{".encode()
        )
        assert _outcome(sock, trickle=True, until=time.monotonic() + 20) == "HTTP/1.1 408 Request Timeout"


# -- the settings ---------------------------------------------------------------------------------------------


def test_the_limits_are_settings_with_flags_and_sane_defaults() -> None:
    assert (Settings().header_timeout, Settings().max_connections) == (10.0, 200)
    env = {"SESSION_REPLAY_MCP_HEADER_TIMEOUT": "2.5", "SESSION_REPLAY_MCP_MAX_CONNECTIONS": "50"}
    settings = Settings.from_env(env)
    assert (settings.header_timeout, settings.max_connections) == (2.5, 50)
    assert Settings.from_env(settings.to_env()) == settings
    args = _parser().parse_args(["serve", "--header-timeout", "3", "--max-connections", "7"])
    assert (args.header_timeout, args.max_connections) == ("3", "7")
    for var, value in (
        ("SESSION_REPLAY_MCP_HEADER_TIMEOUT", "0"),
        ("SESSION_REPLAY_MCP_HEADER_TIMEOUT", "301"),
        ("SESSION_REPLAY_MCP_MAX_CONNECTIONS", "0"),
    ):
        with pytest.raises(ConfigError, match=var):
            Settings.from_env({var: value})
