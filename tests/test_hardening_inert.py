"""Every value of every recorded field, through the digest and every focus, comes out inert.

Hypothesis writes export files whose every field (both shapes: Streaming Data Export rows and SDK events)
holds hostile text or a value of another JSON type: Markdown and HTML that would forge links, headings or
table rows, lone carriage returns and line separators, bidi and zero-width characters, raw and as HTML
entities, bare URLs and emails that GFM would autolink. The files are served from loopback; each answer is
rendered as a CommonMark/GFM client would (tests/inert.py) and must hold nothing live beyond the server's
own headings. Also identify_user's answer for hostile names and traits, and list_exports' for hostile URLs.

Once, a console level of ``error\\r\\n# INJECTED`` forged a heading in ``focus="console"`` and a user named
``Visit https://evil.example/login`` became a live link in the digest.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import httpx2
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client

from mcp_server.exports.focus import FOCUS_KINDS, FOCUSES
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import text_of
from tests.inert import live_parts

pytestmark = pytest.mark.anyio

EXAMPLES = settings(
    max_examples=int(os.environ.get("INERT_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

ATTACKS = [
    "error\r\n# INJECTED",
    "warn\r# INJECTED",
    "x\n## forged\n| a | b |",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[click](https://evil.example)",
    "![pic](https://evil.example/p.png)",
    "<https://evil.example>",
    "Visit https://evil.example/login",
    "www.evil.example/path",
    "mail jane@evil.example now",
    "&ZeroWidthSpace;&#x202E;&#8238;&lt;b&gt;",
    "\u202eevil\u202c",
    "zero\u200bwidth\ufeff",
    "line\u2028sep\u2029para\x85next",
    "\x1b[31mred\x00\x07",
    "| a | b |",
    "`code` ``x`` ```",
    "*em* __strong__ ~~s~~",
    "[ref]: https://evil.example",
    "    indented code",
    "> quote",
    "- [x] task",
    "1. list",
    "\\",
    "a\tb",
]
attack = st.one_of(
    st.sampled_from(ATTACKS),
    st.lists(st.one_of(st.sampled_from(ATTACKS), st.text(max_size=8)), min_size=1, max_size=4).map("".join),
    st.text(max_size=30),
)
scalar = st.one_of(attack, st.integers(-(2**40), 2**40), st.booleans(), st.none(), st.floats(allow_nan=False))
value = st.one_of(
    attack,
    attack,
    scalar,
    st.lists(scalar, max_size=3),
    st.dictionaries(attack, scalar, max_size=3),
)


@st.composite
def export_lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One session's lines, with a hostile value in every field either shape reads."""

    def v() -> Any:
        return draw(value)

    def s() -> Any:
        return draw(attack)

    t = 1_795_000_000_000
    lines: list[dict[str, Any]] = [
        # Shape B: the SDK's events.
        {
            "type": "lr.Metadata",
            "time": t,
            "data": {"browser": v(), "device": v(), "country": v(), "os": v(), s(): v()},
        },
        {"type": "lr.Identify", "time": t + 1, "data": {"id": v(), "name": v(), "email": v(), "traits": {s(): v()}}},
        {"type": "lr.core.LogEvent", "time": t + 2, "data": {"logLevel": v(), "args": [v(), v()]}},
        {"type": "lr.core.LogEvent", "time": t + 3, "data": {"logLevel": "error", "args": [v()]}},
        {"type": "lr.network.RequestEvent", "time": t + 4, "data": {"reqId": "r1", "method": v(), "url": v()}},
        {"type": "lr.network.ResponseEvent", "time": t + 9, "data": {"reqId": "r1", "status": v(), "method": v()}},
        {"type": "lr.network.RequestEvent", "time": t + 10, "data": {"reqId": v(), "method": v(), "url": v()}},
        {
            "type": "lr.core.Exception",
            "time": t + 11,
            "data": {"errorType": v(), "exceptionType": v(), "message": v(), "browserHref": v(), "stackTrace": v()},
        },
        {"type": "lr.CustomEvent", "time": t + 12, "data": {"name": v(), "properties": {s(): v()}}},
        {"type": "lr.PageView", "time": t + 13, "data": {"href": v()}},
        {"type": f"lr.{s()}", "time": t + 14, "data": {s(): v()}},
        # Shape A: Streaming Data Export rows.
        {"event_type": "session", "session_time": t + 15, "session_browser": v(), "app_id": v(), "user_id": v()},
        {
            "event_type": "user",
            "session_time": t + 16,
            "user_id": v(),
            "user_name": v(),
            "user_email": v(),
            "user_traits": orjson.dumps({s(): v()}).decode(),
        },
        {"event_type": "navigation", "session_time": t + 17, "navigation_href": v()},
        {
            "event_type": "networkResponse",
            "session_time": t + 18,
            "network_response_method": v(),
            "network_response_url": v(),
            "network_response_status": v(),
            "network_response_duration_ms": v(),
        },
        {
            "event_type": "networkResponse",
            "session_time": t + 19,
            "network_response_method": s(),
            "network_response_url": s(),
            "network_response_status": 503,
        },
        {
            "event_type": "exception",
            "session_time": t + 20,
            "exception_message": v(),
            "exception_type": v(),
            "exception_error_type": v(),
            "exception_href": v(),
            "exception_stack": v(),
        },
        {
            "event_type": "customEvent",
            "session_time": t + 21,
            "custom_event_name": v(),
            "custom_event_string_properties": orjson.dumps({s(): [v()]}).decode(),
            "custom_event_properties": {s(): v()},
        },
        {"event_type": s(), "session_time": t + 22, s(): v()},
        {s(): v(), "time": t + 23},
    ]
    return lines


# The server's own headings: the digest's title and sections, and each focus page's title.
HEADINGS = [
    r"Session .*|Session export",
    r"Pages \(in order\)",
    r"Errors \(\d+, \d+ distinct\)",
    r"Failed network requests \(\d+\)",
    r"Console errors and warnings",
    r"Custom events \(\d+\)",
    r"Timeline \(most important moments\)",
    r"Distinct errors( in session .*)?",
    *(rf"{title}( in session .*)?" for title in (kind.title for kind in FOCUS_KINDS.values())),
]


class Files:
    """Export files served over loopback HTTP, each at a path of its own (so each gets its own cache entry)."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self._numbers = itertools.count()
        files = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = files.bodies.get(self.path.split("?")[0], b"")
                self.send_response(200 if body else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def add(self, lines: list[dict[str, Any]]) -> str:
        path = f"/exports/2026-11-18/session-{next(self._numbers)}.jsonl"
        self.bodies[path] = b"\n".join(orjson.dumps(line, option=orjson.OPT_NON_STR_KEYS) for line in lines)
        return f"http://{self.host}{path}"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def files() -> Iterator[Files]:
    served = Files()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture(scope="module")
async def client(files: Files, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    settings = Settings(
        export_allowed_hosts=(files.host,),
        cache_dir=str(tmp_path_factory.mktemp("cache")),
        export_time_budget=10.0,
    )
    async with Client(build_server(settings)) as c:
        yield c


async def answer(client: Client, arguments: dict[str, Any]) -> str:
    with anyio.fail_after(15):
        result = await client.call_tool("read_session_export", arguments)
    assert not result.is_error, text_of(result)
    return text_of(result)


@EXAMPLES
@example(
    lines=[
        {"type": "lr.core.LogEvent", "time": 1, "data": {"logLevel": "error\r\n# INJECTED", "args": ["m"]}},
        {"type": "lr.core.LogEvent", "time": 2, "data": {"logLevel": "<img src=x onerror=alert(1)>", "args": ["m"]}},
        {"type": "lr.core.LogEvent", "time": 3, "data": {"logLevel": "[click](https://evil.example)", "args": ["m"]}},
        {"type": "lr.core.LogEvent", "time": 4, "data": {"logLevel": "\u202eerror", "args": ["m"]}},
        {"type": "lr.Identify", "time": 5, "data": {"id": "u1", "name": "Visit https://evil.example/login"}},
        {"type": "lr.Identify", "time": 6, "data": {"id": "u2", "name": "&ZeroWidthSpace;Jane"}},
    ]
)
@given(lines=export_lines())
async def test_every_recorded_value_is_inert_in_the_digest_and_every_focus(
    client: Client, files: Files, lines: list[dict[str, Any]]
) -> None:
    url = files.add(lines)
    pages = {"digest": await answer(client, {"url": url})}
    for focus in FOCUSES:
        pages[focus] = await answer(client, {"url": url, "focus": focus})
    for where, text in pages.items():
        assert not live_parts(text, HEADINGS), f"{where}: {live_parts(text, HEADINGS)}\n{text[:3000]}"


@EXAMPLES
@example(name="Visit https://evil.example/login", trait="&ZeroWidthSpace;x")
@example(name="error\r\n# INJECTED", trait="<img src=x onerror=alert(1)>")
@given(name=attack.filter(lambda n: 0 < len(n) <= 1024), trait=attack.filter(lambda n: len(n) <= 1024))
async def test_identify_user_answers_are_inert(sandbox_settings: Settings, name: str, trait: str) -> None:
    async with Client(build_server(sandbox_settings)) as c:
        result = await c.call_tool("identify_user", {"user_id": "u-inert", "name": name, "traits": {"note": trait}})
    if not result.is_error:  # a name that is only spaces, say, is LogRocket's to refuse
        assert not live_parts(text_of(result)), text_of(result)


@EXAMPLES
@given(urls=st.lists(attack, min_size=1, max_size=4), extra=st.dictionaries(attack, value, max_size=2))
async def test_list_exports_answers_are_inert(urls: list[str], extra: dict[str, Any]) -> None:
    def logrocket(request: httpx2.Request) -> httpx2.Response:
        sessions = [{"url": u, **extra} for u in urls] + ["https://storage.example/x.jsonl?u=www.evil.example"]
        return httpx2.Response(200, content=orjson.dumps({"cursor": urls[0], "sessions": sessions}))

    settings = Settings(logrocket_api_key="acme:web:0123456789abcdef", max_retries=0)
    async with Client(build_server(settings, logrocket_transport=httpx2.MockTransport(logrocket))) as c:
        result = await c.call_tool("list_exports", {"limit": 10})
    assert not result.is_error, text_of(result)
    assert not live_parts(text_of(result)), text_of(result)


@pytest.fixture
def sandbox_settings(settings: Settings) -> Settings:
    return settings


async def test_the_console_level_cannot_forge_a_heading_html_or_a_link(client: Client, files: Files) -> None:
    levels = ["error\r\n# INJECTED", "<img src=x onerror=alert(1)>", "[click](https://evil.example)", "\u202eerror"]
    url = files.add(
        [
            {"type": "lr.core.LogEvent", "time": i, "data": {"logLevel": lv, "args": ["m"]}}
            for i, lv in enumerate(levels)
        ]
    )
    text = await answer(client, {"url": url, "focus": "console"})
    assert not live_parts(text, HEADINGS), live_parts(text, HEADINGS)
    assert "| +0:00 | `ERROR # INJECTED` | `m` |" in text
    assert "`[CLICK](HTTPS://EVIL`" in text  # levels are kept to 20 characters, in a code span


def test_galileo_markdown_loses_entities_that_decode_to_invisible_characters() -> None:
    from mcp_server.render.upstream_markdown import sanitize_markdown

    text = "a&ZeroWidthSpace;b &#x202E;c &#8238;d &amp; [replay](https://app.logrocket.com/a/b/s/1-x/0?t=5)"
    assert sanitize_markdown(text) == "ab c d &amp; [replay](https://app.logrocket.com/a/b/s/1-x/0?t=5)"


# -- upstream text inside error sentences -------------------------------------------------------------------


@EXAMPLES
@example(detail="Visit https://evil.example/login")
@example(detail="[click](https://evil.example) <img src=x onerror=alert(1)> &ZeroWidthSpace;")
@given(detail=attack)
async def test_upstream_error_details_are_inert_in_the_error(detail: str) -> None:
    def logrocket(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(400, json={"detail": detail})

    def highlight(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"data": None, "errors": [{"message": detail}]})

    settings = Settings(
        logrocket_api_key="acme:web:0123456789abcdef",
        highlight_project_id="1",
        highlight_public_graph_url="https://pub.example",
        max_retries=0,
    )
    server = build_server(
        settings,
        logrocket_transport=httpx2.MockTransport(logrocket),
        highlight_transport=httpx2.MockTransport(highlight),
    )
    async with Client(server) as c:
        for tool, arguments in (("list_exports", {}), ("push_highlight_event", {"event": "e"})):
            result = await c.call_tool(tool, arguments)
            assert result.is_error
            assert not live_parts(text_of(result)), text_of(result)


def test_ordinary_details_read_as_written() -> None:
    from mcp_server.render.markdown import quoted

    assert quoted("userID too large (max 1024 characters)") == "userID too large (max 1024 characters)"
    assert quoted("see [docs](https://evil.example)") == "`see [docs](https://evil.example)`"


async def test_an_unknown_galileo_status_is_inert_in_the_error_and_progress() -> None:
    from tests.clocks import ScaledClock

    def logrocket(request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            return httpx2.Response(200, json={"id": "a" * 64})
        return httpx2.Response(200, json={"status": "see https://evil.example/x", "result": None})

    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    settings = Settings(logrocket_api_key="acme:web:0123456789abcdef", max_retries=0)
    server = build_server(settings, logrocket_transport=httpx2.MockTransport(logrocket), clock=ScaledClock(100.0))
    async with Client(server) as c:
        result = await c.call_tool(
            "summarize_user_sessions", {"user_email": "jane@acme.com"}, progress_callback=on_progress
        )
    assert result.is_error
    assert "`SEE HTTPS://EVIL.EXAMPLE/X`" in text_of(result)
    for text in [text_of(result), *seen]:
        # The caller's own email, echoed in the call that resumes, is theirs; nothing from LogRocket is live.
        assert not [p for p in live_parts(text) if "evil" in p.lower()], text
