"""The HTTP service as a stranger and as a caller see it: token, Host/Origin allow-lists, body limit, /health.

The application is the one ``serve`` runs (``build_http_app``), served in process (``tests/asgi.py``); a few
checks at the end start the real console script, to see what a person at the terminal sees.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from mcp_server.http_app import HttpOptions, HttpTransport, build_http_app
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.asgi import BASE, InProcess, served
from tests.conftest import Ran, text_of
from tests.http_helpers import INITIALIZE, MCP_HEADERS, serve
from tests.test_transports import CLEAN_ENV, SCRIPT, free_port

pytestmark = pytest.mark.anyio

TOKEN = "s3cr3t-caller-token-5b1d8e0f27c4a9"
BEARER = {"authorization": f"Bearer {TOKEN}"}
ALLOWED_HOST = "mcp.internal.example"
ALLOWED_ORIGIN = "https://console.internal.example"
MISSING = {"error": "unauthorized", "message": "This server requires Authorization: Bearer <token>."}
INVALID = {"error": "invalid_token", "message": "The bearer token is not valid for this server."}
REALM = 'Bearer realm="session-replay-mcp"'
NO_SESSION = f"{BASE}/messages/?session_id=00000000000000000000000000000000"


@asynccontextmanager
async def service(
    settings: Settings, transport: HttpTransport = "streamable-http", host: str = "127.0.0.1", **overrides: Any
) -> AsyncIterator[InProcess]:
    """What ``serve --transport <transport>`` serves with a token and an extra allowed Host and Origin."""
    secure = settings.with_overrides(
        auth_token=TOKEN, allowed_hosts=(ALLOWED_HOST,), allowed_origins=(ALLOWED_ORIGIN,), **overrides
    )
    app = build_http_app(build_server(secure), secure, HttpOptions(transport=transport, host=host))
    async with served(app) as server:
        yield server


async def post_mcp(http: httpx2.AsyncClient, headers: dict[str, str] | None = None) -> httpx2.Response:
    return await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **(headers or {})})


# --- the caller token -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "body", "challenge"),
    [
        (None, MISSING, REALM),
        ("Basic dXNlcjpwYXNz", MISSING, REALM),
        (f"Bearer {TOKEN}x", INVALID, f'{REALM}, error="invalid_token"'),
        (f"Bearer {TOKEN[:-1]}", INVALID, f'{REALM}, error="invalid_token"'),
        ("Bearer", INVALID, f'{REALM}, error="invalid_token"'),
        (f"bearer {TOKEN.upper()}", INVALID, f'{REALM}, error="invalid_token"'),
    ],
)
async def test_streamable_http_refuses_a_missing_or_wrong_token(
    settings: Settings, authorization: str | None, body: dict[str, str], challenge: str
) -> None:
    headers = {"authorization": authorization} if authorization is not None else {}
    async with service(settings) as server, server.client() as http:
        response = await post_mcp(http, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.json() == body
    assert TOKEN not in response.text


async def test_two_authorization_headers_are_refused(settings: Settings) -> None:
    headers = [*MCP_HEADERS.items(), ("authorization", f"Bearer {TOKEN}"), ("authorization", "Bearer other")]
    async with service(settings) as server, server.client() as http:
        response = await http.post("/mcp", json=INITIALIZE, headers=headers)
    assert response.status_code == 401


async def test_every_path_but_health_needs_the_token(settings: Settings) -> None:
    async with service(settings) as server, server.client() as http:
        for method, path in [("GET", "/mcp"), ("DELETE", "/mcp"), ("GET", "/"), ("GET", "/health/"), ("GET", "/sse")]:
            response = await http.request(method, path)
            assert (method, path, response.status_code) == (method, path, 401)
        # With the token, paths the app does not serve are plain 404s: the token hides nothing else.
        assert (await http.get("/nothing-here", headers=BEARER)).status_code == 404


async def test_health_is_open_and_says_nothing_sensitive(settings: Settings) -> None:
    async with service(settings) as server, server.client() as http:
        response = await http.get("/health")
        # Load balancers probe by address: the Host allow-list guards the MCP endpoints, not this.
        by_address = await http.get("/health", headers={"host": "10.0.0.7:8000"})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"status", "server", "version", "pid"}
    assert data["status"] == "ok" and data["server"] == "session-replay-mcp"
    assert isinstance(data["pid"], int)
    assert by_address.status_code == 200


async def test_a_client_with_the_token_calls_tools_over_streamable_http(settings: Settings) -> None:
    async with (
        service(settings) as server,
        server.client(headers=BEARER) as http,
        Client(streamable_http_client(f"{BASE}/mcp", http_client=http), mode="legacy") as client,
    ):
        result = await client.call_tool("list_exports", {"limit": 1})
    assert not result.is_error
    assert text_of(result).startswith("**1 exported session** for app `acme/web`")


async def test_a_client_without_the_token_gets_nowhere(settings: Settings, captured_logs: list[str]) -> None:
    with pytest.raises(BaseExceptionGroup) as caught:
        async with (
            service(settings) as server,
            server.client() as http,
            Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client,
        ):
            await client.list_tools()
    assert caught.group_contains(MCPError, match="Server returned an error response")
    assert "Refused POST '/mcp' from 127.0.0.1: no bearer token" in captured_logs


async def test_sse_refuses_a_missing_or_wrong_token(settings: Settings) -> None:
    async with service(settings, "sse") as server, server.client() as http:
        for headers in ({}, {"authorization": "Bearer wrong-token-0000000000"}):
            stream = await http.get("/sse", headers=headers)
            assert stream.status_code == 401
            message = await http.post("/messages/?session_id=0", json=INITIALIZE, headers=headers)
            assert message.status_code == 401
        assert (await http.get("/health")).status_code == 200


async def test_a_client_with_the_token_calls_tools_over_sse(settings: Settings) -> None:
    async with (
        service(settings, "sse") as server,
        Client(sse_client(f"{BASE}/sse", headers=BEARER, httpx_client_factory=server.client_factory)) as client,
    ):
        result = await client.call_tool("list_exports", {"limit": 1})
    assert not result.is_error
    assert "**1 exported session**" in text_of(result)


async def test_a_refusal_is_logged_without_the_presented_token(settings: Settings, captured_logs: list[str]) -> None:
    wrong = "not-the-token-but-secret-looking-77"
    async with service(settings) as server, server.client() as http:
        assert (await post_mcp(http, {"authorization": f"Bearer {wrong}"})).status_code == 401
        assert (await post_mcp(http, BEARER)).status_code == 200
    assert "Refused POST '/mcp' from 127.0.0.1: wrong bearer token" in captured_logs
    log = "\n".join(captured_logs)
    assert wrong not in log
    assert TOKEN not in log, "the caller token reached the log"


# --- Host / Origin allow-lists ------------------------------------------------------------------------------


async def test_streamable_http_host_and_origin_checks_come_after_the_token(settings: Settings) -> None:
    async with service(settings) as server, server.client() as http:
        assert (await post_mcp(http, {**BEARER, "host": "evil.example"})).status_code == 421
        assert (await post_mcp(http, {**BEARER, "origin": "https://evil.example"})).status_code == 403
        # Without the token a stranger learns nothing about the allow-lists.
        assert (await post_mcp(http, {"host": "evil.example"})).status_code == 401


async def test_configured_host_and_origin_are_let_in(settings: Settings) -> None:
    async with service(settings) as server, server.client() as http:
        for extra in ({"host": ALLOWED_HOST}, {"host": f"{ALLOWED_HOST}:443"}, {"origin": ALLOWED_ORIGIN}):
            response = await post_mcp(http, {**BEARER, **extra})
            assert response.status_code == 200, extra
            assert '"serverInfo"' in response.text
        assert (await post_mcp(http, {**BEARER, "host": f"x.{ALLOWED_HOST}"})).status_code == 421


async def test_sse_refuses_foreign_hosts_and_origins_and_lets_configured_ones_in(settings: Settings) -> None:
    async with service(settings, "sse") as server, server.client() as http:
        assert (await http.get("/sse", headers={**BEARER, "host": "evil.example"})).status_code == 421
        assert (await http.get("/sse", headers={**BEARER, "origin": "https://evil.example"})).status_code == 403
        foreign_host = await http.post(NO_SESSION, json=INITIALIZE, headers={**BEARER, "host": "evil.example"})
        assert foreign_host.status_code == 421
        foreign_origin = await http.post(
            NO_SESSION, json=INITIALIZE, headers={**BEARER, "origin": "https://evil.example"}
        )
        assert foreign_origin.status_code == 403
        # A configured name passes the checks and reaches the session lookup (no such session: 404).
        allowed = await http.post(NO_SESSION, json=INITIALIZE, headers={**BEARER, "host": ALLOWED_HOST})
        assert allowed.status_code == 404
        async with http.stream("GET", "/sse", headers={**BEARER, "host": ALLOWED_HOST}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")


# --- the request body limit ---------------------------------------------------------------------------------


def _big_request(size: int) -> bytes:
    return json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "pad": "x" * size}}).encode()  # type: ignore[dict-item]


async def test_streamable_http_refuses_bodies_over_the_limit(settings: Settings) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
        body = _big_request(1 << 20)
        for i in range(0, len(body), 64 << 10):
            yield body[i : i + (64 << 10)]

    async with service(settings) as server, server.client(headers=BEARER) as http:
        response = await http.post("/mcp", content=_big_request(1 << 20), headers=MCP_HEADERS)
        assert (response.status_code, response.text) == (413, "Request body too large")
        streamed = await http.post("/mcp", content=chunks(), headers=MCP_HEADERS)
        assert streamed.status_code == 413
        # Just under the limit is an ordinary request.
        assert (await post_mcp(http)).status_code == 200


async def test_sse_refuses_bodies_over_the_limit(settings: Settings) -> None:
    async with service(settings, "sse") as server, server.client(headers=BEARER) as http:
        response = await http.post(NO_SESSION, content=_big_request(1 << 20), headers=MCP_HEADERS)
    assert (response.status_code, response.text) == (413, "Request body too large")


async def test_the_body_limit_is_configurable(settings: Settings) -> None:
    async with service(settings, max_request_bytes=8192) as server, server.client(headers=BEARER) as http:
        small = await post_mcp(http)
        big = await http.post("/mcp", content=_big_request(8192), headers=MCP_HEADERS)
    assert small.status_code == 200
    assert (big.status_code, big.text) == (413, "Request body too large")


# --- refusing to start --------------------------------------------------------------------------------------

REFUSAL = (
    "session-replay-mcp: refusing to serve {transport} on {host} without a caller token: anyone who can reach it "
    "could use the tools and the LogRocket key behind them. Set SESSION_REPLAY_MCP_AUTH_TOKEN (clients send "
    "Authorization: Bearer <token>), or pass --allow-unauthenticated (SESSION_REPLAY_MCP_ALLOW_UNAUTHENTICATED=true) "
    "to run it open on purpose."
)


def test_the_console_script_refuses_a_network_address_without_a_token() -> None:
    """End to end: the exit status and the one line a person sees, before any sandbox or socket exists."""
    done = subprocess.run(
        [
            SCRIPT,
            "serve",
            "--sandbox",
            "--transport",
            "streamable-http",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=CLEAN_ENV,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == REFUSAL.format(transport="streamable-http", host="0.0.0.0")
    assert done.stdout == ""


@pytest.mark.parametrize(("transport", "host"), [("sse", "::"), ("streamable-http", "192.0.2.10")])
def test_a_non_loopback_address_without_a_token_is_refused(cli: Callable[..., Ran], transport: str, host: str) -> None:
    done = cli("serve", "--sandbox", "--transport", transport, "--host", host)
    assert done.returncode == 2
    assert done.stderr.strip() == REFUSAL.format(transport=transport, host=host)
    assert done.stdout == ""


def test_a_typo_in_the_opt_out_does_not_open_the_server(cli: Callable[..., Ran]) -> None:
    env = {"SESSION_REPLAY_MCP_ALLOW_UNAUTHENTICATED": "yess"}
    done = cli("serve", "--transport", "streamable-http", "--host", "0.0.0.0", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().endswith(REFUSAL.format(transport="streamable-http", host="0.0.0.0"))


@pytest.mark.parametrize("token", ["short-token", "has spaces in the middle of it", "tab\tinside-a-long-token"])
def test_an_unusable_token_is_refused_without_echoing_it(cli: Callable[..., Ran], token: str) -> None:
    done = cli("serve", "--transport", "streamable-http", env={"SESSION_REPLAY_MCP_AUTH_TOKEN": token})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "session-replay-mcp: SESSION_REPLAY_MCP_AUTH_TOKEN must be at least 16 characters of visible ASCII without "
        "spaces; generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
    assert token not in done.stderr


def test_the_explicit_opt_out_starts_an_open_server() -> None:
    """End to end: bound to every address, open on purpose, and it says so."""
    with serve("--transport", "streamable-http", "--host", "0.0.0.0", "--allow-unauthenticated") as served_:
        response = httpx2.post(f"{served_.base}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert response.status_code == 200
    assert "WITHOUT a caller token (--allow-unauthenticated)" in served_.stderr


async def test_the_opt_out_from_the_environment_serves_without_a_token(
    settings: Settings, captured_logs: list[str]
) -> None:
    from mcp_server.http_auth import check_exposure

    open_ = settings.with_overrides(allow_unauthenticated=True)
    check_exposure(open_, "0.0.0.0", "streamable-http")
    app = build_http_app(build_server(open_), open_, HttpOptions(host="0.0.0.0"))
    async with served(app) as server, server.client() as http:
        assert (await post_mcp(http)).status_code == 200
    assert any("WITHOUT a caller token" in line for line in captured_logs)


async def test_a_token_is_required_when_one_is_set_even_with_the_opt_out(settings: Settings) -> None:
    async with (
        service(settings, host="0.0.0.0", allow_unauthenticated=True) as server,
        server.client() as http,
    ):
        assert (await post_mcp(http)).status_code == 401
        assert (await post_mcp(http, BEARER)).status_code == 200
