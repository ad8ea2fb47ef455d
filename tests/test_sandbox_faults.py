"""The sandbox's faults as a client sees them on the wire: a reset is a reset, a cut is a cut, a trickle trickles."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest

from mcp_server.sandbox.faults import Fault, FaultError
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import DEFAULT_APP
from tests.conftest import normalize

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"token {DEFAULT_APP.api_key}"}


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=5.0) as c:
        yield c


def exports_url(sandbox: SandboxServer) -> str:
    return f"{sandbox.api_url}/orgs/acme/apps/web/data-export/"


async def test_a_reset_gets_no_answer_at_all(sandbox: SandboxServer, client: httpx2.AsyncClient) -> None:
    sandbox.sandbox.faults.add(Fault(kind="reset", path="/data-export/"))
    with pytest.raises(httpx2.ReadError) as caught:
        await client.get(exports_url(sandbox), headers=AUTH)
    # Underneath, the operating system's own words: the peer sent a RST, not a FIN or an HTTP error.
    chain = []
    seen: BaseException | None = caught.value
    while seen is not None:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    assert any(isinstance(e, ConnectionResetError) for e in chain)
    assert len(sandbox.sandbox.requests.items()) == 1  # it did arrive
    reply = await client.get(exports_url(sandbox), headers=AUTH)  # and the sandbox serves on
    assert reply.status_code == 200


async def test_a_truncation_cuts_the_real_answer_after_the_given_bytes(
    sandbox: SandboxServer, client: httpx2.AsyncClient
) -> None:
    whole = (await client.get(exports_url(sandbox), headers=AUTH, params={"limit": "3"})).content
    sandbox.sandbox.faults.add(Fault(kind="truncate", bytes=100, path="/data-export/"))
    received = bytearray()

    async def read() -> None:
        async with client.stream("GET", exports_url(sandbox), headers=AUTH, params={"limit": "3"}) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                received.extend(chunk)

    with pytest.raises(httpx2.RemoteProtocolError, match=r"received 100 bytes, expected \d+"):
        await read()
    assert bytes(received) == whole[:100]


async def test_a_truncation_also_cuts_a_streamed_answer_shorter_than_the_limit(
    sandbox: SandboxServer, client: httpx2.AsyncClient
) -> None:
    listing = (await client.get(exports_url(sandbox), headers=AUTH, params={"limit": "1"})).json()
    url = listing["sessions"][0]["url"]
    sandbox.sandbox.faults.add(Fault(kind="truncate", bytes=10**9, path="/export-files/"))
    with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
        await client.get(url)


async def test_a_trickle_delivers_everything_slowly(sandbox: SandboxServer, client: httpx2.AsyncClient) -> None:
    whole = (await client.get(exports_url(sandbox), headers=AUTH, params={"limit": "1"})).content
    sandbox.sandbox.faults.add(Fault(kind="trickle", bytes=100, seconds=0.05, path="/data-export/"))
    pieces: list[bytes] = []
    started = time.monotonic()
    async with client.stream("GET", exports_url(sandbox), headers=AUTH, params={"limit": "1"}) as response:
        async for chunk in response.aiter_raw():
            pieces.append(chunk)
    took = time.monotonic() - started
    # The same listing, byte for byte, but for the URLs' signing time and signature: the two requests may fall
    # in different seconds on a busy machine.
    assert normalize(b"".join(pieces).decode()) == normalize(whole.decode())
    assert len(b"".join(pieces)) == len(whole)
    expected_pieces = -(-len(whole) // 100)
    assert len(pieces) >= expected_pieces - 1  # TCP may join two pieces now and then
    assert took >= 0.05 * (expected_pieces - 1)


async def test_a_trickle_stops_when_the_client_hangs_up(sandbox: SandboxServer, client: httpx2.AsyncClient) -> None:
    sandbox.sandbox.faults.add(Fault(kind="trickle", bytes=1, seconds=0.2, path="/data-export/"))
    with anyio.move_on_after(0.3):
        await client.get(exports_url(sandbox), headers=AUTH)
    await client.aclose()
    # Whole, the answer would take minutes; the trickle ends with its next piece once the connection is gone.
    for _ in range(100):  # the sandbox runs on its own thread: look every 20 ms, for up to 2 s
        if not sandbox.requests_in_progress and not len(sandbox.sandbox.connections):
            break
        await anyio.sleep(0.02)
    assert (sandbox.requests_in_progress, len(sandbox.sandbox.connections)) == (0, 0)


async def test_a_header_arms_a_fault_for_this_request_and_the_next_ones(
    sandbox: SandboxServer, client: httpx2.AsyncClient
) -> None:
    header = {**AUTH, "X-Sandbox-Fault": "status=503; times=2; retry_after=7"}
    first = await client.get(exports_url(sandbox), headers=header)
    assert (first.status_code, first.headers["retry-after"], first.json()) == (
        503,
        "7",
        {"detail": "Service Unavailable"},
    )
    second = await client.get(exports_url(sandbox), headers=AUTH)  # no header: the second shot
    third = await client.get(exports_url(sandbox), headers=AUTH)
    assert (second.status_code, third.status_code) == (503, 200)


async def test_a_header_can_ask_for_any_kind(sandbox: SandboxServer, client: httpx2.AsyncClient) -> None:
    with pytest.raises(httpx2.ReadTimeout):
        await client.get(exports_url(sandbox), headers={**AUTH, "X-Sandbox-Fault": "kind=stall;seconds=1"}, timeout=0.2)
    with pytest.raises(httpx2.ReadError):
        await client.get(exports_url(sandbox), headers={**AUTH, "X-Sandbox-Fault": "kind=reset"})


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("kind=explode", "unknown fault kind 'explode'"),
        ("status=abc", "status must be a number, got 'abc'"),
        ("color=red", "expected name=value pairs of"),
        ("status=99", "status must be an HTTP status (100 to 599), got 99"),
    ],
)
async def test_a_bad_fault_header_is_a_400_that_says_why(
    sandbox: SandboxServer, client: httpx2.AsyncClient, header: str, problem: str
) -> None:
    reply = await client.get(exports_url(sandbox), headers={**AUTH, "X-Sandbox-Fault": header})
    assert reply.status_code == 400
    assert problem in reply.json()["detail"]


async def test_the_control_api_refuses_faults_it_cannot_play(
    sandbox: SandboxServer, client: httpx2.AsyncClient
) -> None:
    for body in ('{"kind": "explode"}', '{"times": -1}', '["status"]', "not json", '{"status": "x", "bytes": 0}'):
        reply = await client.post(f"{sandbox.url}/_sandbox/faults", content=body)
        assert reply.status_code == 400, body
        assert reply.json()["detail"].startswith("not a fault list: ")
    reply = await client.post(f"{sandbox.url}/_sandbox/faults", json=[{"kind": "trickle", "bytes": 8, "seconds": 0.1}])
    assert reply.status_code == 200
    (armed,) = reply.json()
    assert (armed["kind"], armed["bytes"], armed["seconds"], armed["remaining"]) == ("trickle", 8, 0.1, 1)


async def test_an_echo_repeats_the_request_headers_and_all(sandbox: SandboxServer, client: httpx2.AsyncClient) -> None:
    sandbox.sandbox.faults.add(Fault(status=400, echo=True, path="/data-export/"))
    reply = await client.get(exports_url(sandbox), headers=AUTH, params={"limit": "2"})
    detail = reply.json()["detail"]
    assert detail.startswith("echo of your request: GET /v1/orgs/acme/apps/web/data-export/?limit=2; ")
    assert f"authorization: token {DEFAULT_APP.api_key}" in detail


def test_faults_are_checked_when_made() -> None:
    with pytest.raises(FaultError, match="unknown fault kind"):
        Fault(kind="explode")  # type: ignore[arg-type]
    assert Fault.from_header("kind=trickle;bytes=4;seconds=0.5;echo=yes") == Fault(
        kind="trickle", bytes=4, seconds=0.5, echo=True
    )
