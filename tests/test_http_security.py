"""The HTTP service as a stranger and as a caller see it: token, Host/Origin allow-lists, body limit, /health.

Each server here is the real console script in its own process, spoken to over loopback.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.conftest import text_of
from tests.http_helpers import INITIALIZE, MCP_HEADERS, Served, serve
from tests.test_transports import CLEAN_ENV, SCRIPT, free_port

TOKEN = "s3cr3t-caller-token-5b1d8e0f27c4a9"
BEARER = {"authorization": f"Bearer {TOKEN}"}
ALLOWED_HOST = "mcp.internal.example"
ALLOWED_ORIGIN = "https://console.internal.example"
SECURE_ENV = {
    "SESSION_REPLAY_MCP_AUTH_TOKEN": TOKEN,
    "SESSION_REPLAY_MCP_ALLOWED_HOSTS": ALLOWED_HOST,
    "SESSION_REPLAY_MCP_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
}
MISSING = {"error": "unauthorized", "message": "This server requires Authorization: Bearer <token>."}
INVALID = {"error": "invalid_token", "message": "The bearer token is not valid for this server."}
REALM = 'Bearer realm="session-replay-mcp"'


@pytest.fixture(scope="module")
def http_server() -> Iterator[Served]:
    """Streamable HTTP on loopback with a token, an extra allowed Host and Origin; DEBUG logs, to look for leaks."""
    with serve("--sandbox", "--transport", "streamable-http", env=SECURE_ENV, log_level="DEBUG") as served:
        yield served
    assert served.stdout == "", "an HTTP server must not write to stdout"
    assert TOKEN not in served.stderr, "the caller token reached the log"


@pytest.fixture(scope="module")
def sse_server() -> Iterator[Served]:
    with serve("--sandbox", "--transport", "sse", env=SECURE_ENV, log_level="DEBUG") as served:
        yield served
    assert TOKEN not in served.stderr, "the caller token reached the log"


def post_mcp(base: str, headers: dict[str, str] | None = None, **kwargs: object) -> httpx2.Response:
    return httpx2.post(f"{base}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **(headers or {})}, **kwargs)  # type: ignore[arg-type]


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
def test_streamable_http_refuses_a_missing_or_wrong_token(
    http_server: Served, authorization: str | None, body: dict[str, str], challenge: str
):
    headers = {"authorization": authorization} if authorization is not None else {}
    response = post_mcp(http_server.base, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.json() == body
    assert TOKEN not in response.text


def test_two_authorization_headers_are_refused(http_server: Served):
    headers = [*MCP_HEADERS.items(), ("authorization", f"Bearer {TOKEN}"), ("authorization", "Bearer other")]
    response = httpx2.post(f"{http_server.base}/mcp", json=INITIALIZE, headers=headers)
    assert response.status_code == 401


def test_every_path_but_health_needs_the_token(http_server: Served):
    for method, path in [("GET", "/mcp"), ("DELETE", "/mcp"), ("GET", "/"), ("GET", "/health/"), ("GET", "/sse")]:
        response = httpx2.request(method, f"{http_server.base}{path}")
        assert (method, path, response.status_code) == (method, path, 401)
    # With the token, paths the app does not serve are plain 404s: the token hides nothing else.
    assert httpx2.get(f"{http_server.base}/nothing-here", headers=BEARER).status_code == 404


def test_health_is_open_and_says_nothing_sensitive(http_server: Served):
    response = httpx2.get(f"{http_server.base}/health")
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"status", "server", "version", "pid"}
    assert data["status"] == "ok" and data["server"] == "session-replay-mcp"
    assert isinstance(data["pid"], int)
    # Load balancers probe by address: the Host allow-list guards the MCP endpoints, not this.
    assert httpx2.get(f"{http_server.base}/health", headers={"host": "10.0.0.7:8000"}).status_code == 200


@pytest.mark.anyio
async def test_a_client_with_the_token_calls_tools_over_streamable_http(http_server: Served):
    async with (
        httpx2.AsyncClient(headers=BEARER) as http,
        Client(streamable_http_client(f"{http_server.base}/mcp", http_client=http), mode="legacy") as client,
    ):
        result = await client.call_tool("list_exports", {"limit": 1})
    assert not result.is_error
    assert text_of(result).startswith("**1 exported session** for app `acme/web`")


@pytest.mark.anyio
async def test_a_client_without_the_token_gets_nowhere(http_server: Served):
    refusals = http_server.log_so_far().count("Refused POST '/mcp' from 127.0.0.1: no bearer token")
    with pytest.raises(BaseExceptionGroup) as caught:
        async with Client(f"{http_server.base}/mcp") as client:
            await client.list_tools()
    assert caught.group_contains(MCPError, match="Server returned an error response", depth=2)
    assert http_server.log_so_far().count("Refused POST '/mcp' from 127.0.0.1: no bearer token") > refusals


def test_sse_refuses_a_missing_or_wrong_token(sse_server: Served):
    for headers in ({}, {"authorization": "Bearer wrong-token-0000000000"}):
        stream = httpx2.get(f"{sse_server.base}/sse", headers=headers)
        assert stream.status_code == 401
        message = httpx2.post(f"{sse_server.base}/messages/?session_id=0", json=INITIALIZE, headers=headers)
        assert message.status_code == 401
    assert httpx2.get(f"{sse_server.base}/health").status_code == 200


@pytest.mark.anyio
async def test_a_client_with_the_token_calls_tools_over_sse(sse_server: Served):
    async with Client(sse_client(f"{sse_server.base}/sse", headers=BEARER)) as client:
        result = await client.call_tool("list_exports", {"limit": 1})
    assert not result.is_error
    assert "**1 exported session**" in text_of(result)


def test_a_refusal_is_logged_without_the_presented_token(http_server: Served):
    wrong = "not-the-token-but-secret-looking-77"
    assert post_mcp(http_server.base, {"authorization": f"Bearer {wrong}"}).status_code == 401
    log = http_server.log_so_far()
    assert "WARNING mcp_server.http_auth: Refused POST '/mcp' from 127.0.0.1: wrong bearer token" in log
    assert wrong not in log
    # The module fixture checks, once the server has stopped, that the real token never reached the log.


# --- Host / Origin allow-lists ------------------------------------------------------------------------------


def test_streamable_http_host_and_origin_checks_come_after_the_token(http_server: Served):
    assert post_mcp(http_server.base, {**BEARER, "host": "evil.example"}).status_code == 421
    assert post_mcp(http_server.base, {**BEARER, "origin": "https://evil.example"}).status_code == 403
    # Without the token a stranger learns nothing about the allow-lists.
    assert post_mcp(http_server.base, {"host": "evil.example"}).status_code == 401


def test_configured_host_and_origin_are_let_in(http_server: Served):
    for extra in ({"host": ALLOWED_HOST}, {"host": f"{ALLOWED_HOST}:443"}, {"origin": ALLOWED_ORIGIN}):
        response = post_mcp(http_server.base, {**BEARER, **extra})
        assert response.status_code == 200, extra
        assert '"serverInfo"' in response.text
    assert post_mcp(http_server.base, {**BEARER, "host": f"x.{ALLOWED_HOST}"}).status_code == 421


def test_sse_refuses_foreign_hosts_and_origins_and_lets_configured_ones_in(sse_server: Served):
    base = sse_server.base
    assert httpx2.get(f"{base}/sse", headers={**BEARER, "host": "evil.example"}).status_code == 421
    assert httpx2.get(f"{base}/sse", headers={**BEARER, "origin": "https://evil.example"}).status_code == 403
    url = f"{base}/messages/?session_id=00000000000000000000000000000000"
    assert httpx2.post(url, json=INITIALIZE, headers={**BEARER, "host": "evil.example"}).status_code == 421
    assert httpx2.post(url, json=INITIALIZE, headers={**BEARER, "origin": "https://evil.example"}).status_code == 403
    # A configured name passes the checks and reaches the session lookup (no such session: 404).
    assert httpx2.post(url, json=INITIALIZE, headers={**BEARER, "host": ALLOWED_HOST}).status_code == 404
    with httpx2.stream("GET", f"{base}/sse", headers={**BEARER, "host": ALLOWED_HOST}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")


# --- the request body limit ---------------------------------------------------------------------------------


def _big_request(size: int) -> bytes:
    return json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "pad": "x" * size}}).encode()  # type: ignore[dict-item]


def test_streamable_http_refuses_bodies_over_the_limit(http_server: Served):
    response = httpx2.post(f"{http_server.base}/mcp", content=_big_request(1 << 20), headers={**MCP_HEADERS, **BEARER})
    assert (response.status_code, response.text) == (413, "Request body too large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        body = _big_request(1 << 20)
        for i in range(0, len(body), 64 << 10):
            yield body[i : i + (64 << 10)]

    streamed = httpx2.post(f"{http_server.base}/mcp", content=chunks(), headers={**MCP_HEADERS, **BEARER})
    assert streamed.status_code == 413
    # Just under the limit is an ordinary request.
    assert post_mcp(http_server.base, BEARER).status_code == 200


def test_sse_refuses_bodies_over_the_limit(sse_server: Served):
    url = f"{sse_server.base}/messages/?session_id=00000000000000000000000000000000"
    response = httpx2.post(url, content=_big_request(1 << 20), headers={**MCP_HEADERS, **BEARER})
    assert (response.status_code, response.text) == (413, "Request body too large")


def test_the_body_limit_is_configurable():
    env = {"SESSION_REPLAY_MCP_MAX_REQUEST_BYTES": "8192"}
    with serve("--sandbox", "--transport", "streamable-http", env=env) as served:
        small = post_mcp(served.base)
        big = httpx2.post(f"{served.base}/mcp", content=_big_request(8192), headers=MCP_HEADERS)
    assert small.status_code == 200
    assert (big.status_code, big.text) == (413, "Request body too large")


# --- refusing to start --------------------------------------------------------------------------------------


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, "serve", *args, "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env={**CLEAN_ENV, **(env or {})},
        check=False,
    )


REFUSAL = (
    "session-replay-mcp: refusing to serve {transport} on {host} without a caller token: anyone who can reach it "
    "could use the tools and the LogRocket key behind them. Set SESSION_REPLAY_MCP_AUTH_TOKEN (clients send "
    "Authorization: Bearer <token>), or pass --allow-unauthenticated (SESSION_REPLAY_MCP_ALLOW_UNAUTHENTICATED=true) "
    "to run it open on purpose."
)


@pytest.mark.parametrize(
    ("transport", "host"), [("streamable-http", "0.0.0.0"), ("sse", "::"), ("streamable-http", "192.0.2.10")]
)
def test_a_non_loopback_address_without_a_token_is_refused(transport: str, host: str):
    done = run_serve("--sandbox", "--transport", transport, "--host", host)
    assert done.returncode == 2
    assert done.stderr.strip() == REFUSAL.format(transport=transport, host=host)
    assert done.stdout == ""


def test_a_typo_in_the_opt_out_does_not_open_the_server():
    env = {"SESSION_REPLAY_MCP_ALLOW_UNAUTHENTICATED": "yess"}
    done = run_serve("--transport", "streamable-http", "--host", "0.0.0.0", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().endswith(REFUSAL.format(transport="streamable-http", host="0.0.0.0"))


@pytest.mark.parametrize("token", ["short-token", "has spaces in the middle of it", "tab\tinside-a-long-token"])
def test_an_unusable_token_is_refused_without_echoing_it(token: str):
    done = run_serve("--transport", "streamable-http", env={"SESSION_REPLAY_MCP_AUTH_TOKEN": token})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "session-replay-mcp: SESSION_REPLAY_MCP_AUTH_TOKEN must be at least 16 characters of visible ASCII without "
        "spaces; generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
    assert token not in done.stderr


@pytest.mark.parametrize("opt_out", [("--allow-unauthenticated",), ()])
def test_the_explicit_opt_out_starts_an_open_server(opt_out: tuple[str, ...]):
    env = {} if opt_out else {"SESSION_REPLAY_MCP_ALLOW_UNAUTHENTICATED": "true"}
    with serve("--transport", "streamable-http", "--host", "0.0.0.0", *opt_out, env=env) as served:
        response = post_mcp(served.base)
    assert response.status_code == 200
    assert "WITHOUT a caller token (--allow-unauthenticated)" in served.stderr


def test_a_token_is_required_when_one_is_set_even_with_the_opt_out():
    env = {"SESSION_REPLAY_MCP_AUTH_TOKEN": TOKEN, "SESSION_REPLAY_MCP_ALLOW_UNAUTHENTICATED": "true"}
    with serve("--transport", "streamable-http", "--host", "0.0.0.0", env=env) as served:
        assert post_mcp(served.base).status_code == 401
        assert post_mcp(served.base, BEARER).status_code == 200
    assert "WITHOUT" not in served.stderr
