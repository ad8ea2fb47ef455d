"""Whatever a model writes as arguments, every tool answers: a success or an error that explains itself, in time.

Hypothesis draws each tool's arguments from values that fit the schema, values near its limits and values that
do not fit at all: other JSON types, unicode with control and bidi characters, huge strings, numbers far out of
range, hostile URLs and unknown argument names. Every call goes through a real MCP client to the server, which
talks to a sandbox of its own (these calls write users, sessions and events). An error whose text is only
"Error executing tool <name>" is the SDK's answer to an exception the server did not expect: a bug.

Runs are deterministic (``derandomize``, no example database), so CI sees the same examples every time.
"""

from __future__ import annotations

import os
import string
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client

from mcp_server.sandbox import logrocket_api
from mcp_server.sandbox.app import Sandbox
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import SandboxWorld
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.clocks import ScaledClock
from tests.conftest import ANCHOR_MS, text_of

pytestmark = pytest.mark.anyio

CALL_LIMIT = 15.0  # seconds; every tool's own budget in these settings is well under it
EXAMPLES = settings(
    max_examples=int(os.environ.get("TOOL_INPUT_EXAMPLES", "75")),
    deadline=None,
    derandomize=os.environ.get("TOOL_INPUT_EXAMPLES") is None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


# -- one server and sandbox for the module --------------------------------------------------------------


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def box() -> Iterator[SandboxServer]:
    """A sandbox of this module's own: hypothesis writes users and Highlight sessions into it."""
    with SandboxServer(Sandbox(SandboxWorld(anchor_ms=ANCHOR_MS, highlights_delay=0.0))) as server:
        yield server


@pytest.fixture(scope="module")
async def client(box: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    base = Settings(
        connect_timeout=0.5,
        read_timeout=2.0,
        max_retries=1,
        retry_base_delay=0.01,
        upstream_deadline=5.0,
        export_time_budget=5.0,
        cache_dir=str(tmp_path_factory.mktemp("cache")),
    )
    # Galileo's schedule is in tens of seconds: run it 100 times faster.
    async with Client(build_server(box.settings(base), clock=ScaledClock(100.0))) as c:
        yield c


async def answers(client: Client, tool: str, arguments: dict[str, Any]) -> None:
    with anyio.fail_after(CALL_LIMIT):
        result = await client.call_tool(tool, arguments)
    text = text_of(result)
    if result.is_error:
        prefix = f"Error executing tool {tool}: "
        assert text.startswith(prefix), f"{tool}({arguments!r:.300}) crashed: {text!r}"
        assert len(text) > len(prefix) + 20, f"{tool}({arguments!r:.300}) gave no reason: {text!r}"
    else:
        assert result.structured_content is not None, text


# -- values ---------------------------------------------------------------------------------------------

# Characters that break naive code: NUL and other controls, terminal escapes, bidi overrides, zero-width and
# byte-order marks, line separators, combining marks, astral-plane symbols, quotes and markup.
NASTY = [
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\u2028",
    "\u0301",
    "𝕏",
    "👩‍💻",
    "é",
    "'",
    '"',
    "\\",
    "`",
    "|",
    "<script>alert(1)</script>",
    "%00",
    "../",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "NaN",
]
nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=6)), min_size=1, max_size=10).map("".join)
huge_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(300, 4000))
texts = st.one_of(st.text(max_size=30), nasty_text, huge_text)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63, 10**30, -0.0, 0.5, 1e308, 5e-324]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
anything = st.one_of(texts, numbers, json_values)
times = st.one_of(
    st.sampled_from(
        [
            "now",
            "today",
            "yesterday",
            "24h",
            "7d",
            "90m",
            "1.5h",
            "0d",
            "2026-11-20",
            "2026-11-20T14:30:00Z",
            "2026-11-20T14:30:00+05:30",
            "2026-02-30",
            "9999-12-31T23:59:59Z",
            "0001-01-01",
            "1795132800000",
            "9" * 63 + "d",
            "9" * 60 + "w ago",
            "-5d",
            "99999999999999",
            "12:30",
            "90s",
            "1h2m",
            "+5m",
        ]
    ),
    st.integers(min_value=0, max_value=2**64),
    st.from_regex(r"\A\d{1,20}(\.\d{1,20})?\s?(m|h|d|w|s|ms|min|hours|weeks)( ago)?\Z"),
    texts,
)
# Hosts that need no DNS: whatever is drawn, no test ever asks a resolver on the network.
HOSTS = [
    "169.254.169.254",
    "127.0.0.1",
    "127.1",
    "0x7f.1",
    "2130706433",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "0.0.0.0",
    "10.0.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "198.18.0.1",
    "224.0.0.1",
    "[fd00::1]",
    "[fe80::1%25eth0]",
    "203.0.113.9",
    "localhost",
    "localhost:1",
    "127.0.0.1:0",
    "127.0.0.1:99999",
    "[::1]:22",
]
SCHEMES = ["https", "http", "HTTPS", "file", "ftp", "gopher", "javascript", "data", "ws", ""]
PATH_CHARS = string.ascii_letters + string.digits + "/._-~%:;=,!$&'()*+ \t\x00\x7f\u202eé𝕏"
hostile_urls = st.one_of(
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(SCHEMES),
        st.sampled_from(HOSTS),
        st.text(PATH_CHARS, max_size=40),
    ),
    st.sampled_from(
        [
            "file:///etc/passwd",
            "javascript:alert(document.cookie)",
            "data:text/plain;base64,SGVsbG8=",
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "https://user:secret@127.0.0.1/x.jsonl",
            "https://127.0.0.1@169.254.169.254/",
            "https:/\\127.0.0.1/x",
            "https:///x.jsonl",
            "//127.0.0.1/x.jsonl",
            "https://[::1/x",
            "https://127.0.0.1:-1/x",
            "https://127.0.0.1/" + "a" * 4090,
            "https://127.0.0.1/" + "%" * 50,
        ]
    ),
    texts,
)


def field_values(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: often one of its own kind, otherwise anything at all."""
    return st.one_of(valid, anything)


def arguments(
    fields: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly arguments of the right kinds (so the calls get past validation, into the tool), with limits and
    edge values; otherwise any values for them, and now and then arguments the tool does not have."""
    fitting = st.fixed_dictionaries(
        {name: fields[name] for name in required},
        optional={name: s for name, s in fields.items() if name not in required},
    )
    wild = st.builds(
        lambda given_, unknown: {**unknown, **given_},
        st.fixed_dictionaries({}, optional={name: field_values(s) for name, s in fields.items()}),
        st.one_of(st.just({}), st.dictionaries(st.text(max_size=12), anything, min_size=1, max_size=2)),
    )
    return st.one_of(fitting, fitting, wild)


# -- the tools ------------------------------------------------------------------------------------------


@EXAMPLES
@example(args={"since": "1000000D"})  # a million days ago: before year 1, which no date can show
@example(args={"since": "9" * 63 + "d"})
@given(args=arguments({"cursor": st.one_of(st.from_regex(r"\A\d{1,25}\Z"), numbers), "limit": numbers, "since": times}))
async def test_list_exports(client: Client, args: dict[str, Any]) -> None:
    await answers(client, "list_exports", args)


@dataclass(frozen=True)
class OnSandbox:
    """A URL on this module's sandbox, written out in the test once its port is known.

    (Drawing inside the test instead, with ``st.data()``, would let hypothesis stop an example midway with
    an exception that also stops the event loop the shared client lives in.)
    """

    kind: str  # "export": a genuine signed export URL plus ``text``; "redirect": to ``text``; "path": ``text``
    seq: int = 0
    text: str = ""

    def url(self, box: SandboxServer) -> str:
        if self.kind == "redirect":
            return f"{box.url}/_sandbox/redirect?to={self.text}"
        if self.kind == "path":
            return f"{box.url}/{self.text}"
        web = box.world.app("acme", "web")
        assert web is not None
        return logrocket_api.export_url(box.world, web, self.seq, box.url) + self.text


sandbox_urls = st.one_of(
    st.builds(OnSandbox, st.just("export"), st.integers(0, 47)),
    st.builds(
        OnSandbox,
        st.just("export"),
        st.integers(0, 47),
        st.sampled_from(
            [
                "&variant=broken-lines",
                "&variant=binary",
                "&variant=truncated",
                "&encoding=gzip",
                "&X-Goog-Signature=0",
                "x",
                "#fragment",
                "&events=abc",
            ]
        ),
    ),
    st.builds(OnSandbox, st.just("redirect"), st.just(0), hostile_urls),
    st.builds(OnSandbox, st.just("path"), st.just(0), st.text(PATH_CHARS, max_size=30)),
)


@EXAMPLES
@given(
    args=arguments(
        {
            "url": st.one_of(sandbox_urls, hostile_urls),
            "focus": st.sampled_from(
                ["errors", "network", "console", "navigation", "custom", "user", "timeline", "other"]
            ),
            "query": texts,
            "start": times,
            "end": times,
            "cursor": st.one_of(st.text(string.ascii_letters + string.digits + "-_=", max_size=60), texts),
            "max_chars": st.integers(3000, 30000),
        },
        required=("url",),
    ),
)
@example(args={"url": "https://127.0.0.1:-1/x"})  # a port out of range: the fetcher's parser took it
@example(args={"url": "https://127.0.0.1/a\x0bb"})  # a control character the fetcher's parser refuses
@example(args={"url": OnSandbox("export"), "focus": "errors", "start": "1000000d"})
async def test_read_session_export(client: Client, box: SandboxServer, args: dict[str, Any]) -> None:
    args = {k: v.url(box) if isinstance(v, OnSandbox) else v for k, v in args.items()}
    await answers(client, "read_session_export", args)


scalars = st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none(), numbers, huge_text, nasty_text)
traits = st.dictionaries(st.one_of(st.text(max_size=10), nasty_text, huge_text), scalars, max_size=6)
many_traits = st.builds(lambda n: {f"t{i}": i for i in range(n)}, st.integers(195, 210))
emails = st.one_of(st.emails(), st.sampled_from(["jane@acme.com", "a@b", "@", "x@y.z", "jane@acme.com\r\nBcc: x@y"]))


@EXAMPLES
@given(
    args=arguments(
        {
            "user_id": st.one_of(st.sampled_from(["u-1001", "google-oauth2|104729", "../admin", "a/b?c#d"]), texts),
            "name": texts,
            "email": emails,
            "traits": st.one_of(traits, many_traits),
        },
        required=("user_id",),
    )
)
async def test_identify_user(client: Client, args: dict[str, Any]) -> None:
    await answers(client, "identify_user", args)


secure_ids = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9]{28}\Z"),
    st.builds(lambda s: f"https://app.highlight.io/1/sessions/{s}", st.from_regex(r"\A[A-Za-z0-9_-]{1,40}\Z")),
    texts,
)


@EXAMPLES
@given(
    args=arguments(
        {
            "event": texts,
            "properties": st.one_of(traits, many_traits),
            "session_secure_id": secure_ids,
            "user_identifier": texts,
            "user_traits": traits,
            "session_properties": traits,
            "project_id": st.one_of(st.sampled_from(["sandbox1", "1", "2", "sandbox2", "0", "x" * 128]), texts),
        },
        required=("event",),
    )
)
async def test_push_highlight_event(client: Client, args: dict[str, Any]) -> None:
    await answers(client, "push_highlight_event", args)


@EXAMPLES
@given(
    args=arguments(
        {
            "user_email": emails,
            "user_id": st.one_of(st.sampled_from(["u-1001", "nobody"]), texts),
            "question": texts,
            "start": times,
            "end": times,
            "wait_seconds": st.one_of(st.floats(0, 300), numbers),
            "request_id": st.one_of(st.from_regex(r"\A[0-9a-f]{64}\Z"), st.from_regex(r"\A[A-Za-z0-9_-]{1,130}\Z")),
            "webhook_url": hostile_urls,
        }
    )
)
async def test_summarize_user_sessions(client: Client, args: dict[str, Any]) -> None:
    await answers(client, "summarize_user_sessions", args)
