"""Export downloads' HTTP/1.1 connection (exports/http11.py) against a server whose every byte a test chose:
bodies framed by length, by chunks or by the close; interim responses; keep-alive; TLS; and each framing
fault, which ends in the error h11 gave before (same type, same words), never in wrong data."""

from __future__ import annotations

import gzip
import ssl
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx2
import pytest

from mcp_server.exports import guarded_transport
from mcp_server.exports.download import export_client
from mcp_server.exports.guard import ExportUrlPolicy
from mcp_server.exports.http11 import MAX_HEAD, READ_BYTES
from mcp_server.settings import Settings
from tests.conftest import connect, text_of
from tests.raw_http_server import CLOSE, TLS_DIR, RawHttpServer, chunked, response

pytestmark = pytest.mark.anyio


@pytest.fixture
def server() -> Iterator[RawHttpServer]:
    with RawHttpServer() as raw:
        yield raw


@pytest.fixture
async def client(server: RawHttpServer) -> AsyncIterator[httpx2.AsyncClient]:
    policy = ExportUrlPolicy.from_entries([f"127.0.0.1:{server.port}"])
    async with export_client(policy, connect_timeout=5, read_timeout=10) as http:
        yield http


async def fetch(client: httpx2.AsyncClient, url: str) -> tuple[int, bytes]:
    async with client.stream("GET", url) as answer:
        return answer.status_code, b"".join([piece async for piece in answer.aiter_raw()])


async def test_bodies_framed_by_length_come_whole_over_one_kept_connection(
    server: RawHttpServer, client: httpx2.AsyncClient
) -> None:
    big = bytes(range(256)) * (3 * READ_BYTES // 256 + 7)  # several reads' worth, not a multiple of one
    server.answer(response(b'{"a":1}\n', "Content-Type: application/json"))
    server.answer(response(big))
    server.answer(response(b"gone", status="404 Not Found"))
    assert await fetch(client, f"{server.base}/one") == (200, b'{"a":1}\n')
    assert await fetch(client, f"{server.base}/two") == (200, big)
    assert await fetch(client, f"{server.base}/three") == (404, b"gone")
    assert server.connections == 1
    # What was sent: a GET of the path and query, the Host, our agent and gzip, and nothing else.
    first = server.requests[0].decode().split("\r\n")
    assert first[0] == "GET /one HTTP/1.1"
    headers = {line.split(":", 1)[0].lower() for line in first[1:]}
    assert {"host", "user-agent", "accept-encoding"} <= headers
    assert not headers & {"content-length", "transfer-encoding", "authorization", "cookie"}


async def test_chunked_bodies_with_extensions_and_trailers(server: RawHttpServer, client: httpx2.AsyncClient) -> None:
    server.answer(chunked(b"first line\n", b"x" * 70_000, b"\nlast", trailer="X-Checksum: 1"))
    server.answer(response(b"next"))
    assert await fetch(client, f"{server.base}/c") == (200, b"first line\n" + b"x" * 70_000 + b"\nlast")
    assert await fetch(client, f"{server.base}/d") == (200, b"next")
    assert server.connections == 1


async def test_a_body_that_ends_with_the_connection(server: RawHttpServer, client: httpx2.AsyncClient) -> None:
    server.answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it, until the close", then_close=True)
    server.answer(b"HTTP/1.0 200 OK\r\n\r\nan HTTP/1.0 body", then_close=True)
    assert await fetch(client, f"{server.base}/a") == (200, b"all of it, until the close")
    assert await fetch(client, f"{server.base}/b") == (200, b"an HTTP/1.0 body")
    assert server.connections == 2  # neither connection could be kept


async def test_interim_responses_are_passed_over(server: RawHttpServer, client: httpx2.AsyncClient) -> None:
    server.answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + response(b"real"))
    async with client.stream("GET", f"{server.base}/i") as answer:
        assert answer.status_code == 200
        assert "link" not in answer.headers
        assert await answer.aread() == b"real"


@pytest.mark.parametrize("junk", [b"\x00\x01 not HTTP at all\r\n\r\n", response(b"an answer nobody asked for")])
async def test_bytes_after_a_response_keep_the_response_but_not_the_connection(
    server: RawHttpServer, client: httpx2.AsyncClient, junk: bytes
) -> None:
    server.answer(response(b"fine") + junk)
    server.answer(response(b"again"))
    assert await fetch(client, f"{server.base}/j") == (200, b"fine")
    assert await fetch(client, f"{server.base}/k") == (200, b"again")
    assert server.connections == 2


async def test_tiny_chunks_are_handed_on_per_read_not_per_chunk(
    server: RawHttpServer, client: httpx2.AsyncClient
) -> None:
    server.answer(chunked(*[b"%d\n" % (i % 10) for i in range(20_000)]))
    async with client.stream("GET", f"{server.base}/tiny") as answer:
        pieces = [piece async for piece in answer.aiter_raw()]
    assert b"".join(pieces) == b"".join(b"%d\n" % (i % 10) for i in range(20_000))
    assert len(pieces) < 2_000  # about one per read, not one per chunk


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    server: RawHttpServer, client: httpx2.AsyncClient
) -> None:
    server.answer(response(b"one"), then_close=True)  # a keep-alive answer, then the server hangs up
    server.answer(response(b"two"))
    assert await fetch(client, f"{server.base}/1") == (200, b"one")
    pool = client._transport._pool  # type: ignore[attr-defined]
    with anyio.fail_after(5):  # until the close has reached this end (the pool may have dropped it already)
        while any(not idle.has_expired() for idle in pool.connections):  # noqa: ASYNC110 (a socket, no event)
            await anyio.sleep(0.005)
    assert await fetch(client, f"{server.base}/2") == (200, b"two")
    assert server.connections == 2


TRAILER_FLOOD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n" + b"X-T: 1\r\n" * 20_000


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (response(b"0123456789")[:-4], r"\(received 6 bytes, expected 10\)"),
        (chunked(b"abc", b"defgh")[:-12], r"\(incomplete chunked read\)"),
        (CLOSE, "Server disconnected without sending a response"),
        (b"HTTX/1.1 200 OK\r\n\r\n", "Malformed HTTP response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "Malformed HTTP response"),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD, f"larger than {MAX_HEAD} bytes"),
        (TRAILER_FLOOD, f"more than {MAX_HEAD} bytes without body data"),
        (b"HTTP/1.1 150 Odd\r\nContent-Length: 7\r\n\r\nINJECT!" + response(b"hello"), r"interim \(1xx\) response"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n", "switched protocols"),
    ],
    ids=[
        "short-length",
        "short-chunks",
        "no-answer",
        "not-http",
        "two-lengths",
        "huge-head",
        "trailer-flood",
        "interim-body",
        "upgrade",
    ],
)
async def test_framing_faults_are_errors_never_wrong_data(
    server: RawHttpServer, client: httpx2.AsyncClient, answer: bytes, words: str
) -> None:
    server.answer(answer, then_close=True)
    with pytest.raises(httpx2.RemoteProtocolError, match=words):
        await fetch(client, f"{server.base}/f")


async def test_what_h11_accepted_is_still_read(server: RawHttpServer, client: httpx2.AsyncClient) -> None:
    # Both framings (the chunks win), bare LF line ends, a coding after "chunked" (the body then runs to the
    # close), and header values with blanks around them (a redirect's Location must come out exact).
    server.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    server.answer(b"HTTP/1.1 200 OK\nContent-Length: 3\n\nxyz")
    server.answer(b"HTTP/1.1 302 Found\r\nLocation: /next?sig=abc \t\r\nContent-Length: 0\r\n\r\n")
    server.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc", then_close=True)
    assert await fetch(client, f"{server.base}/both") == (200, b"abc")
    assert await fetch(client, f"{server.base}/lf") == (200, b"xyz")
    redirect = await client.get(f"{server.base}/moved")
    assert redirect.headers["location"] == "/next?sig=abc"
    assert await fetch(client, f"{server.base}/coded") == (200, b"3\r\nabc")


async def test_only_bodiless_gets_are_sent(server: RawHttpServer, client: httpx2.AsyncClient) -> None:
    with pytest.raises(httpx2.LocalProtocolError, match="GET requests only"):
        await client.post(f"{server.base}/p", content=b"x")
    assert server.requests == []


async def test_tls_exports_are_read_with_the_certificate_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    trusting = ssl.create_default_context(cafile=str(TLS_DIR / "ca.pem"))
    monkeypatch.setattr(guarded_transport, "_tls_context", lambda: trusting)
    with RawHttpServer(tls=True) as server:
        policy = ExportUrlPolicy.from_entries([f"127.0.0.1:{server.port}"])
        server.answer(response(b"secret-free body" * 1000))
        server.answer(chunked(b"second"))
        async with export_client(policy, connect_timeout=5, read_timeout=10) as http:
            assert await fetch(http, f"{server.base}/t") == (200, b"secret-free body" * 1000)
            assert await fetch(http, f"https://127.0.0.1:{server.port}/u") == (200, b"second")
        assert server.connections == 1
    # A certificate the context does not trust is refused before anything is sent.
    monkeypatch.setattr(guarded_transport, "_tls_context", ssl.create_default_context)
    with RawHttpServer(tls=True) as server:
        policy = ExportUrlPolicy.from_entries([f"127.0.0.1:{server.port}"])
        async with export_client(policy, connect_timeout=5, read_timeout=10) as http:
            with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await fetch(http, f"{server.base}/v")
        assert server.requests == []


async def test_read_session_export_reads_an_https_export(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    trusting = ssl.create_default_context(cafile=str(TLS_DIR / "ca.pem"))
    monkeypatch.setattr(guarded_transport, "_tls_context", lambda: trusting)
    lines = b'{"type":"lr.core.LogEvent","time":1795000000000,"data":{"logLevel":"ERROR","args":["boom over TLS"]}}\n'
    with RawHttpServer(tls=True) as server:
        server.answer(response(gzip.compress(lines * 3), "Content-Encoding: gzip"))
        allowed = settings.with_overrides(export_allowed_hosts=(f"127.0.0.1:{server.port}",))
        async with connect(allowed) as mcp:
            result = await mcp.call_tool("read_session_export", {"url": f"{server.base}/e.jsonl.gz"})
    assert not result.is_error, text_of(result)
    assert "boom over TLS" in text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["digest"]["counts"]["console_error"] == 3


async def test_an_error_page_that_never_ends_is_read_only_as_far_as_it_explains(settings: Settings) -> None:
    page = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>" + b" " * 300_000
    endless = b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n" % (len(page), page)
    with RawHttpServer() as server:
        server.answer(endless)  # ...and the rest never comes: the connection stays open
        allowed = settings.with_overrides(
            export_allowed_hosts=(f"127.0.0.1:{server.port}",), read_timeout=600.0, export_time_budget=600.0
        )
        async with connect(allowed) as mcp:
            with anyio.fail_after(60):  # reading the whole page would wait for the 600 s timeout
                result = await mcp.call_tool("read_session_export", {"url": f"{server.base}/e.jsonl"})
    assert result.is_error
    assert "HTTP 403" in text_of(result) and "AccessDenied" in text_of(result)
    assert "list_exports" in text_of(result)  # an expired link: get a fresh one
