"""The LogRocket API key never shows: not in results, errors, logs, progress or exception text.

A recognisable key (``acme:web:LEAKCANARY<random hex>``) is registered in the sandbox as a valid key of
acme/web and configured as LOGROCKET_API_KEY. Every tool then runs normally, under upstream errors that
echo the request back (headers included), with upstream answers that carry the key inside their data, and
with arguments that contain it; everything the server says is collected and searched, for the whole key,
its secret part, and any 10-character piece of the random part (a key cut in half is still a leak), in
any letter case.
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from mcp import Client

from mcp_server.adapters.errors import UpstreamError
from mcp_server.adapters.highlight import HighlightClient
from mcp_server.adapters.logrocket import LogRocketClient
from mcp_server.redact import RedactingFilter, Redactor
from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.server import SandboxServer
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.clocks import VirtualClock
from tests.conftest import text_of
from tests.targets import (
    ALL_TARGETS,
    IDENTIFY_USER,
    LIST_EXPORTS,
    SUMMARIZE_POLL,
    SUMMARIZE_POST,
    Outcome,
    Target,
    call,
)

pytestmark = pytest.mark.anyio

RANDOM = secrets.token_hex(12)
SECRET = f"LEAKCANARY{RANDOM}"
KEY = f"acme:web:{SECRET}"
PIECES = [RANDOM[i : i + 10].lower() for i in range(len(RANDOM) - 9)]


def leaks(text: str) -> list[str]:
    """Every trace of the key in ``text``: the whole of it, its secret, or a piece of its random part."""
    lowered = text.lower()
    return [p for p in (KEY.lower(), SECRET.lower(), *PIECES) if p in lowered]


@dataclass
class Seen:
    """Everything the server said during a test."""

    said: list[str] = field(default_factory=list)  # results, errors, progress, client notifications
    lines: list[str] = field(default_factory=list)  # log lines as the server's stderr handler writes them
    raw: list[str] = field(default_factory=list)  # this server's own log records, before any redaction

    def add(self, outcome: Outcome) -> None:
        self.said.append(outcome.text)
        self.said.append(json.dumps(outcome.result.structured_content))
        self.said.extend(outcome.progress)

    def check(self) -> None:
        for where, texts in (("what the server said", self.said), ("the log", self.lines), ("raw log", self.raw)):
            for text in texts:
                assert not leaks(text), f"the key leaked into {where}: {text[:500]!r}"


@pytest.fixture(scope="module", autouse=True)
def canary_key(sandbox_server: SandboxServer) -> None:
    sandbox_server.world.add_key(KEY, "acme", "web")


@pytest.fixture
def seen() -> Iterator[Seen]:
    """Collects every log record at DEBUG from every logger (the SDK's and httpx2's included)."""
    collected = Seen()

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            collected.lines.append(self.format(record))

    class Raw(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name.startswith("mcp_server") and not record.name.startswith("mcp_server.sandbox"):
                collected.raw.append(record.getMessage())

    lines = Lines(level=logging.DEBUG)
    lines.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    lines.addFilter(RedactingFilter())
    raw = Raw(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(raw)  # first: it sees each record before the redacting filter of the other rewrites it
    root.addHandler(lines)
    try:
        yield collected
    finally:
        root.removeHandler(lines)
        root.removeHandler(raw)
        root.setLevel(previous)
    collected.check()


@pytest.fixture
def canary(settings: Settings) -> Settings:
    return settings.with_overrides(logrocket_api_key=KEY, max_retries=1, read_timeout=1.0)


def key_sent_only_to_logrocket(sandbox: SandboxServer) -> None:
    for request in sandbox.sandbox.requests.items():
        wire = json.dumps([request.path, request.query, request.headers])
        if request.path.startswith("/v1/"):
            assert request.headers.get("authorization") == f"token {KEY}"
        else:
            assert not leaks(wire), f"the key was sent to {request.path}"
    for _, variables in sandbox.sandbox.highlight.received():
        assert not leaks(json.dumps(variables))


# -- every tool, as it should go --------------------------------------------------------------------------


@pytest.mark.parametrize("target", ALL_TARGETS, ids=[t.name for t in ALL_TARGETS])
async def test_a_normal_call(target: Target, canary: Settings, sandbox: SandboxServer, seen: Seen) -> None:
    outcome = await call(target, canary, sandbox)
    assert not outcome.error, outcome.text
    seen.add(outcome)
    key_sent_only_to_logrocket(sandbox)


# -- upstream errors that repeat the request, key included ------------------------------------------------

LOGROCKET_TARGETS = (LIST_EXPORTS, IDENTIFY_USER, SUMMARIZE_POST, SUMMARIZE_POLL)
ECHOES = {
    "400": Fault(status=400, echo=True),
    "401": Fault(status=401, echo=True),
    "403": Fault(status=403, echo=True),
    "404": Fault(status=404, echo=True),
    "429": Fault(status=429, echo=True, retry_after="0"),
    "500": Fault(status=500, echo=True),
    "200_not_json": Fault(kind="malformed", echo=True),
    "502_page": Fault(kind="html", status=502, echo=True),
}
ECHO_CASES = [(t, k) for t in LOGROCKET_TARGETS for k in ECHOES]


@pytest.mark.parametrize(("target", "kind"), ECHO_CASES, ids=[f"{t.name}-{k}" for t, k in ECHO_CASES])
async def test_an_upstream_that_echoes_the_request(
    target: Target, kind: str, canary: Settings, sandbox: SandboxServer, seen: Seen
) -> None:
    fault = replace(ECHOES[kind], path=target.path, method=target.method, times=20)
    shorter = {"wait_seconds": 20} if target.tool == "summarize_user_sessions" else None  # 1 s of real time
    outcome = await call(target, canary, sandbox, lambda: sandbox.sandbox.faults.add(fault), overrides=shorter)
    echoed = [r for r in target.requests(sandbox) if r.headers.get("authorization") == f"token {KEY}"]
    assert echoed, "the faulted request carried the key, so the echo did too"
    if kind in ("400", "401", "403") or (kind == "500" and target is not SUMMARIZE_POLL):
        # The echo reached the agent (a poll that fails with a 500 is only waited through).
        assert outcome.error and "echo of your request: " in outcome.text
    seen.add(outcome)


async def test_an_unknown_status_echoing_the_key_in_other_case(
    canary: Settings, sandbox: SandboxServer, seen: Seen
) -> None:
    """LogRocket's status is upper-cased and shortened before it is shown: the key must go before either."""

    def poll(request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            return httpx2.Response(200, json={"id": "a" * 64})
        return httpx2.Response(200, json={"status": f"weird {KEY.lower()} state", "result": None})

    outcome = await through(canary, poll, "summarize_user_sessions", {"user_email": "jane@acme.com"})
    # Redacted first, then upper-cased as LogRocket's statuses are.
    assert outcome.error and "with status 'WEIRD [REDACTED] STATE'" in outcome.text
    seen.add(outcome)


# -- upstream answers that carry the key in their data ----------------------------------------------------


async def through(
    settings: Settings, handler: Callable[[httpx2.Request], httpx2.Response], tool: str, arguments: dict[str, Any]
) -> Outcome:
    """Call ``tool`` with LogRocket replaced by ``handler``."""
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    server = build_server(settings, logrocket_transport=httpx2.MockTransport(handler), clock=VirtualClock())
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments, progress_callback=on_progress)
    return Outcome(result, 0.0, messages)


async def test_answers_that_carry_the_key_are_redacted(canary: Settings, seen: Seen) -> None:
    def logrocket(request: httpx2.Request) -> httpx2.Response:
        if "data-export" in request.url.path:
            url = f"https://storage.example/{KEY}/x.jsonl?token={SECRET}&upper={SECRET.upper()}"
            return httpx2.Response(200, json={"cursor": KEY, "sessions": [{"url": url, KEY: "x"}]})
        if "users" in request.url.path:
            return httpx2.Response(200, json={"userID": "u-1", "name": KEY, "traits": {"k": SECRET, KEY: "v"}})
        if request.method == "POST":
            return httpx2.Response(200, json={"id": "b" * 64})
        result = {"highlights": f"See [the key]({KEY}) {SECRET}", "sessions": [{"sessionId": KEY, "highlights": KEY}]}
        return httpx2.Response(200, json={"status": "READY", "result": result})

    for tool, arguments in (
        ("list_exports", {}),
        ("identify_user", {"user_id": "u-1", "name": "n"}),
        ("summarize_user_sessions", {"user_email": "jane@acme.com"}),
    ):
        outcome = await through(canary, logrocket, tool, arguments)
        assert not outcome.error, outcome.text
        assert "[redacted]" in outcome.text
        seen.add(outcome)


# -- the key cut in half by a shortened message ------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 400])
async def test_a_key_straddling_where_a_message_is_cut(canary: Settings, status: int, seen: Seen) -> None:
    """Upstream text is shortened in messages (80 characters of a body that is not JSON, 300 of an error):
    wherever the cut falls, no piece of the key survives it, in the message or the exception's traceback."""
    for offset in range(0, 320, 7):
        body = ("x" * offset + f"token {KEY} and more").encode()
        client = LogRocketClient(
            canary, transport=httpx2.MockTransport(lambda r, b=body: httpx2.Response(status, content=b))
        )
        try:
            with pytest.raises(UpstreamError) as caught:
                await client.list_exports(cursor=None, limit=1, date_ms=None)
        finally:
            await client.aclose()
        exc = caught.value
        seen.said += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


async def test_highlight_answers_that_carry_the_key(canary: Settings, seen: Seen) -> None:
    """Highlight never gets the key, but whatever it answers is still cut and shown only after redaction."""
    for offset in (0, 40, 75, 79, 120):
        body = ("x" * offset + KEY).encode()
        client = HighlightClient(
            canary, transport=httpx2.MockTransport(lambda r, b=body: httpx2.Response(200, content=b))
        )
        try:
            with pytest.raises(UpstreamError) as caught:
                await client.initialize_session("sandbox1")
        finally:
            await client.aclose()
        seen.said += [str(caught.value), "".join(traceback.format_exception(caught.value))]


# -- adapters' own exceptions under echoing upstreams ------------------------------------------------------


@pytest.mark.parametrize("kind", list(ECHOES), ids=list(ECHOES))
async def test_adapter_exceptions(kind: str, canary: Settings, sandbox: SandboxServer, seen: Seen) -> None:
    sandbox.sandbox.faults.add(replace(ECHOES[kind], path="/v1/", times=50))
    client = LogRocketClient(canary)
    calls = (
        client.list_exports(cursor=None, limit=1, date_ms=None),
        client.identify_user("u-1", {"name": "n"}),
        client.request_highlights({"userEmail": "jane@acme.com"}),
        client.get_highlights("c" * 64),
    )
    try:
        for pending in calls:
            with pytest.raises(UpstreamError) as caught:
                await pending
            exc = caught.value
            seen.said += [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    finally:
        await client.aclose()


# -- arguments that contain the key --------------------------------------------------------------------------

# Arguments the server quotes back, shortened, in an error (or, for the user id, in its answer). The key is
# put at every offset, so that wherever a quote is cut, it is cut somewhere inside the key too.
QUOTED: dict[str, Callable[[str], tuple[str, dict[str, Any]]]] = {
    "cursor": lambda v: ("list_exports", {"cursor": v + "x" * 600}),  # too long
    "since": lambda v: ("list_exports", {"since": v}),  # not a time
    "email": lambda v: ("identify_user", {"user_id": "u", "email": v}),  # not an email
    "user_id": lambda v: ("identify_user", {"user_id": v, "name": "the key as a user id"}),  # accepted, echoed
    "url": lambda v: ("read_session_export", {"url": "https://127.0.0.1/" + v}),  # refused
    "project_id": lambda v: ("push_highlight_event", {"event": "e", "project_id": v + "?"}),  # not an id
    "argument_name": lambda v: ("list_exports", {v: 1}),  # unknown, named in the error
}


@pytest.mark.parametrize("name", list(QUOTED))
async def test_arguments_that_contain_the_key(name: str, canary: Settings, sandbox: SandboxServer, seen: Seen) -> None:
    async with Client(build_server(canary)) as client:
        for offset in range(0, 130, 3):
            tool, arguments = QUOTED[name]("q" * offset + KEY)
            result = await client.call_tool(tool, arguments)
            seen.said += [text_of(result), json.dumps(result.structured_content)]


# -- the redactor itself -------------------------------------------------------------------------------------


def test_the_redactor_finds_a_key_in_any_case_form_and_place() -> None:
    redact = Redactor([KEY])
    assert redact(f"a {KEY.upper()} b {quote(KEY, safe='')} c {SECRET.lower()}") == (
        "a [redacted] b [redacted] c [redacted]"
    )
    assert redact.json({"k": [f"x{SECRET}", 1, None], SECRET: {"n": 2.5}}) == {
        "k": ["x[redacted]", 1, None],
        "[redacted]": {"n": 2.5},
    }
    clean = {"k": ["nothing here", 1]}
    assert redact.json(clean) is clean  # no copy when there is nothing to redact


def test_a_secret_that_json_would_escape_is_still_found_in_structured_content() -> None:
    odd = 'org:app:se"cr\\et\u0007-' + RANDOM
    redact = Redactor([odd])
    assert redact.json({"v": f"<{odd}>"}) == {"v": "<[redacted]>"}
