"""summarize_user_sessions through a real MCP client against the sandbox, in virtual time.

The server and the sandbox's Galileo share one virtual clock that moves only when the tool sleeps: a
generation of 10 s is waited through in a few polls at exactly known times, without sleeping at all,
however fast or busy the machine.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult

from mcp_server.clock import Clock
from mcp_server.sandbox.faults import Fault, Received
from mcp_server.sandbox.server import SandboxServer
from mcp_server.sandbox.world import DEFAULT_APP, HighlightJob, SandboxApp, SandboxWorld
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.clocks import ScaledClock, VirtualClock
from tests.conftest import check_snapshot, text_of

pytestmark = pytest.mark.anyio

TOOL = "summarize_user_sessions"
# Seconds (virtual) the sandbox's Galileo takes, unless a test changes it. Looks come after about 2, 5, 9.5 and
# 16 s, each interval +-10%: at 12 s the result is seen by the 4th look, whatever the jitter.
GENERATION = 12.0
JANE = "jane@acme.com"
HIGHLIGHTS_PATH = "/v1/orgs/acme/apps/web/highlights"
REPLAY_LINK = re.compile(r"^https://app\.logrocket\.com/acme/web/s/(\d-[0-9a-f-]{36})/(\d+)\?t=(\d+)$")
REQUEST_ID = re.compile(r"^[0-9a-f]{64}$")


class CountingClock(ScaledClock):
    """A clock 50x faster than real time, counting sleeps in progress: after a cancel nothing may still be
    sleeping. Only for cancelling, which needs time to pass while the test looks on."""

    def __init__(self) -> None:
        super().__init__(50.0)
        self.sleeping = 0
        self.sleeps = 0

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.sleeping += 1
        try:
            await super().sleep(seconds)
        finally:
            self.sleeping -= 1


class Progress:
    """An MCP progress callback (it must be async) that keeps every notification."""

    def __init__(self) -> None:
        self.items: list[tuple[float, float | None, str | None]] = []
        self.arrived = anyio.Event()

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.items.append((progress, total, message))
        self.arrived.set()

    @property
    def messages(self) -> list[str]:
        return [m or "" for _, _, m in self.items]


_clock: list[VirtualClock] = []  # the running test's virtual clock (the autouse fixture below sets it)


@asynccontextmanager
async def fast_client(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Client]:
    async with Client(build_server(settings, clock=clock or _clock[0])) as client:
        yield client


async def summarize(settings: Settings, progress: Progress | None = None, **arguments: Any) -> CallToolResult:
    async with fast_client(settings) as client:
        return await client.call_tool(TOOL, arguments, progress_callback=progress)


@pytest.fixture(autouse=True)
def world(sandbox: SandboxServer) -> Iterator[SandboxWorld]:
    """The shared sandbox's world on this test's virtual clock; what a test changes is put back afterwards."""
    _clock[:] = [VirtualClock(start=1000.0)]
    sandbox.world.clock = _clock[0].now
    sandbox.world.highlights_delay = GENERATION
    yield sandbox.world
    sandbox.world.clock = time.monotonic
    sandbox.world.highlights_delay = 0.2
    sandbox.world.highlights_status = "READY"
    sandbox.world.fail_next_highlights(0)


def web_app(world: SandboxWorld) -> SandboxApp:
    app = world.app("acme", "web")
    assert app is not None
    return app


def job(world: SandboxWorld, request_id: str) -> HighlightJob:
    return web_app(world).highlights[request_id]


def highlights_calls(sandbox: SandboxServer, method: str) -> list[Received]:
    return [r for r in sandbox.sandbox.requests.items() if r.method == method and "/highlights" in r.path]


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    data: dict[str, Any] | None = result.structured_content
    assert data is not None
    return data


def assert_links_open_the_users_own_sessions(world: SandboxWorld, out: dict[str, Any], email: str) -> None:
    app = web_app(world)
    assert out["sessions"], "the sandbox has sessions of this user"
    for s in out["sessions"]:
        recording, index = s["session_id"].split("/")
        session = app.session(recording, int(index))
        assert session is not None and session.user.email == email
        assert s["replay_url"] == f"https://app.logrocket.com/acme/web/s/{recording}/{index}"
        assert s["links"], s
        for link in s["links"]:
            match = REPLAY_LINK.match(link)
            assert match is not None, link
            assert (match[1], match[2]) == (recording, index)
            assert session.started_ms <= int(match[3]) <= session.ended_ms
            assert f"]({link})" in s["highlights"]


async def test_ready_after_some_polls_with_increasing_progress(
    settings: Settings, sandbox: SandboxServer, world: SandboxWorld
) -> None:
    progress = Progress()
    result = await summarize(settings, progress, user_email=JANE, question="Where did they get stuck?")
    out = structured(result)
    assert (out["status"], out["done"], out["app_id"]) == ("READY", True, "acme/web")
    assert REQUEST_ID.match(out["request_id"]) and out["retried_request_id"] is None and out["resume"] is None
    # Answered at the first look after it was ready (see GENERATION).
    assert out["checks"] == 4
    assert GENERATION <= out["waited_seconds"] <= 16 * 1.1
    assert len(progress.items) == out["checks"]
    values = [p for p, _, _ in progress.items]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(total is None for _, total, _ in progress.items)
    for message in progress.messages[:-1]:
        assert re.fullmatch(r"Galileo is still working: \d+ s elapsed, typically 1 to 3 minutes", message), message
    assert re.fullmatch(r"Galileo is done: the highlights are ready \(\d+ s elapsed\)", progress.messages[-1])
    # Exactly one POST to the documented path (trailing slash) and one GET per look, by id.
    (post,) = highlights_calls(sandbox, "POST")
    assert post.path == HIGHLIGHTS_PATH + "/"
    assert post.headers["authorization"] == f"token {DEFAULT_APP.api_key}"
    gets = highlights_calls(sandbox, "GET")
    assert len(gets) == out["checks"]
    assert {(g.path, g.query) for g in gets} == {(HIGHLIGHTS_PATH, f"id={out['request_id']}")}
    sent = job(world, out["request_id"])
    assert (sent.user_email, sent.user_id, sent.question) == (JANE, None, "Where did they get stuck?")
    assert (sent.start_ms, sent.end_ms, sent.webhook_url) == (None, None, None)
    assert_links_open_the_users_own_sessions(world, out, JANE)
    text = text_of(result)
    assert text.startswith(
        "**Galileo's highlights for `jane@acme.com`** in app `acme/web`: 10 sessions (up to the 10 most recent, "
        "last 30 days).\n**Question:** Where did they get stuck?\n\n**jane@acme.com** had 10 sessions"
    )
    for s in out["sessions"]:
        assert s["highlights"] in text and f"[open the replay]({s['replay_url']})" in text


async def test_a_completed_answer_matches_the_reviewed_snapshot(settings: Settings, world: SandboxWorld) -> None:
    result = await summarize(settings, user_id="u-1001", start="2026-11-14", end="2026-11-17T12:00:00Z")
    out = structured(result)
    assert out["time_range"] == {"start_ms": 1794614400000, "end_ms": 1794916800000}
    sent = job(world, out["request_id"])
    assert (sent.user_id, sent.start_ms, sent.end_ms) == ("u-1001", 1794614400000, 1794916800000)
    assert 0 < len(out["sessions"]) < 10  # only those that started in the range
    assert_links_open_the_users_own_sessions(world, out, JANE)
    text = text_of(result).replace(out["request_id"], "REQUEST_ID")
    text = re.sub(r"READY after \d+ checks? over \d+ s\.", "READY after N checks over N s.", text)
    check_snapshot("summarize_user_sessions.md", text)


async def test_the_other_status_spelling_complete_is_done_too(settings: Settings, world: SandboxWorld) -> None:
    world.highlights_status = "COMPLETE"
    out = structured(await summarize(settings, user_email=JANE))
    assert (out["status"], out["done"]) == ("COMPLETE", True) and out["sessions"]


async def test_when_the_wait_runs_out_the_answer_gives_the_exact_call_that_resumes(
    settings: Settings, sandbox: SandboxServer, world: SandboxWorld
) -> None:
    world.highlights_delay = 50.0
    question = 'What went wrong at "checkout"?'
    first = await summarize(settings, user_email=JANE, question=question, start=1794614400000, wait_seconds=6)
    out = structured(first)
    rid = out["request_id"]
    assert (out["status"], out["done"], out["sessions"], out["highlights"]) == ("PENDING", False, [], None)
    end = out["time_range"]["end_ms"]
    resume = {"request_id": rid, "user_email": JANE, "question": question, "start": 1794614400000, "end": end}
    assert out["resume"] == resume
    lines = text_of(first).splitlines()
    # Looks after about 2 and 5 s; the next would come after the wait, and the last one was too recent for a
    # final look at 6 s.
    assert out["checks"] == 2
    assert lines[0] == (
        "**Galileo is still working** on the highlights for `jane@acme.com` in app `acme/web`: not ready after "
        f"{round(out['waited_seconds'])} s (2 checks). Generation usually takes 1 to 3 minutes."
    )
    assert lines[1:] == [
        "",
        "To keep waiting on the same request (this does not start a new one), call:",
        f'`summarize_user_sessions(request_id="{rid}", user_email="jane@acme.com", '
        f'question="What went wrong at \\"checkout\\"?", start=1794614400000, end={end})`',
    ]
    looks_before = len(highlights_calls(sandbox, "GET"))

    progress = Progress()
    second = await summarize(settings, progress, **resume, wait_seconds=100)
    done = structured(second)
    assert (done["status"], done["request_id"], done["question"]) == ("READY", rid, question)
    assert len(highlights_calls(sandbox, "POST")) == 1  # resuming never starts a new request
    assert len(highlights_calls(sandbox, "GET")) == looks_before + done["checks"]
    # A resumed call looks at once (not a whole 10 s interval later).
    assert re.fullmatch(
        r"Galileo is still working: \d s elapsed since resuming, typically 1 to 3 minutes", progress.messages[0]
    )
    assert progress.items[0][0] == 0


async def test_no_wait_sends_the_request_and_answers_at_once(settings: Settings, sandbox: SandboxServer) -> None:
    out = structured(await summarize(settings, user_id="u-1001", wait_seconds=0))
    assert (out["status"], out["checks"]) == ("PENDING", 0)
    assert out["resume"] == {"request_id": out["request_id"], "user_id": "u-1001"}
    assert not highlights_calls(sandbox, "GET")


async def test_the_wait_is_capped_by_the_server_setting(settings: Settings, world: SandboxWorld) -> None:
    world.highlights_delay = 100
    result = await summarize(settings.with_overrides(max_wait_seconds=4), user_email=JANE, wait_seconds=3000)
    out = structured(result)
    assert out["status"] == "PENDING" and out["waited_seconds"] <= 4
    assert text_of(result).endswith("\n\nThis server waits at most 4 s per call (SESSION_REPLAY_MCP_MAX_WAIT_SECONDS).")


async def test_a_failed_request_is_sent_again_once_and_then_succeeds(
    settings: Settings, sandbox: SandboxServer, world: SandboxWorld
) -> None:
    world.fail_next_highlights(1)
    progress = Progress()
    result = await summarize(settings, progress, user_email=JANE, question="q", wait_seconds=200)
    out = structured(result)
    first = out["retried_request_id"]
    assert out["status"] == "READY" and REQUEST_ID.match(first) and first != out["request_id"]
    assert job(world, first).fail and not job(world, out["request_id"]).fail
    assert job(world, out["request_id"]).question == "q"  # the same body, sent again
    assert len(highlights_calls(sandbox, "POST")) == 2
    assert any(m.startswith("Galileo reports FAILED for this request") for m in progress.messages)
    assert "Galileo could not generate the highlights (FAILED); asking again once" in progress.messages
    assert text_of(result).endswith(
        f"The first request (`{first}`) FAILED; this is the result of asking again.\n"
        f"Request `{out['request_id']}`: READY after {out['checks']} checks over {_seconds(out)}."
    )


async def test_a_request_that_fails_twice_is_reported_with_the_call_to_start_over(
    settings: Settings, sandbox: SandboxServer, world: SandboxWorld
) -> None:
    world.fail_next_highlights(2)
    result = await summarize(settings, user_email=JANE, question="checkout", wait_seconds=200)
    assert result.is_error
    first, second = (p.query.removeprefix("id=") for p in _distinct_gets(sandbox))
    assert text_of(result) == (
        f"Error executing tool {TOOL}: Galileo could not generate highlights for jane@acme.com: request {first} "
        f"FAILED, and so did the retry, request {second}. LogRocket gives no reason. Try again in a few minutes, or "
        'with a narrower question or time range: call summarize_user_sessions(user_email="jane@acme.com", '
        'question="checkout").'
    )
    assert len(highlights_calls(sandbox, "POST")) == 2  # once, not again and again


async def test_a_resumed_request_that_failed_is_sent_again_with_the_arguments_of_the_resume_call(
    settings: Settings, sandbox: SandboxServer, world: SandboxWorld
) -> None:
    world.fail_next_highlights(1)
    pending = structured(await summarize(settings, user_email=JANE, wait_seconds=0))
    out = structured(await summarize(settings, **pending["resume"], wait_seconds=200))
    assert (out["status"], out["retried_request_id"]) == ("READY", pending["request_id"])
    assert len(highlights_calls(sandbox, "POST")) == 2


async def test_a_resumed_request_that_failed_without_its_arguments_says_how_to_start_over(
    settings: Settings, sandbox: SandboxServer, world: SandboxWorld
) -> None:
    world.fail_next_highlights(1)
    pending = structured(await summarize(settings, user_email=JANE, wait_seconds=0))
    result = await summarize(settings, request_id=pending["request_id"], wait_seconds=200)
    assert result.is_error
    assert text_of(result) == (
        f"Error executing tool {TOOL}: Galileo could not generate the highlights of request "
        f"{pending['request_id']} (status FAILED; LogRocket gives no reason). LogRocket has no retry for a request, "
        "only a new one: call summarize_user_sessions again with the user_email or user_id, question, start and end "
        "of the original call (without request_id)."
    )
    assert len(highlights_calls(sandbox, "POST")) == 1


async def test_an_unknown_status_is_reported_not_waited_on(settings: Settings, world: SandboxWorld) -> None:
    world.highlights_status = "SUMMARIZING"
    result = await summarize(settings, user_email=JANE)
    assert result.is_error
    rid = next(iter(reversed(web_app(world).highlights)))
    assert text_of(result) == (
        f"Error executing tool {TOOL}: LogRocket answered highlights request {rid} with status 'SUMMARIZING', "
        "which this server does not know (it knows PENDING, READY, COMPLETE and FAILED), so it stopped waiting. "
        f'To look again, call summarize_user_sessions(request_id="{rid}", user_email="jane@acme.com").'
    )


async def test_an_unknown_request_id_says_to_start_a_new_summary(settings: Settings) -> None:
    result = await summarize(settings, request_id="0" * 64, user_id="u-1001")
    assert result.is_error
    assert text_of(result) == (
        f"Error executing tool {TOOL}: LogRocket has no highlights request {'0' * 64} for app acme/web (HTTP 404): "
        "the id is mistyped, belongs to another app, or has expired. To get highlights, start a new summary: call "
        'summarize_user_sessions(user_id="u-1001").'
    )


async def test_a_429_while_polling_is_retried_and_then_waited_through(
    settings: Settings, sandbox: SandboxServer, world: SandboxWorld, captured_logs: list[str]
) -> None:
    # Two 429s: the HTTP policy retries them inside one look. Eight more: two whole looks fail (each is
    # 1 try + 3 retries) and the wait goes on to the next look.
    sandbox.sandbox.faults.add(Fault(status=429, path="/highlights", method="GET", retry_after="0", times=10))
    progress = Progress()
    result = await summarize(settings, progress, user_email=JANE, wait_seconds=100)
    out = structured(result)
    assert out["status"] == "READY"
    failed = [m for m in progress.messages if "the last check failed" in m]
    assert len(failed) == 2
    assert failed[0].endswith(
        "typically 1 to 3 minutes (the last check failed: LogRocket is rate-limiting (HTTP 429); checking again)"
    )
    assert len(highlights_calls(sandbox, "GET")) == out["checks"] + 2 * 3 + 2
    assert len(highlights_calls(sandbox, "POST")) == 1
    everything = text_of(result) + "\n".join(progress.messages) + "\n".join(captured_logs)
    assert DEFAULT_APP.api_key.rsplit(":", 1)[-1] not in everything


async def test_polling_that_never_gets_through_says_why_and_keeps_the_request_id(
    settings: Settings, sandbox: SandboxServer
) -> None:
    sandbox.sandbox.faults.add(Fault(status=503, path="/highlights", method="GET", times=1000))
    result = await summarize(settings.with_overrides(max_retries=0), user_email=JANE, wait_seconds=10)
    assert result.is_error
    assert len(highlights_calls(sandbox, "POST")) == 1
    rid = highlights_calls(sandbox, "GET")[0].query.removeprefix("id=")
    text = re.sub(r"over \d+\.\d s\.", "over N s.", text_of(result))
    assert text == (
        f"Error executing tool {TOOL}: LogRocket had a server error (HTTP 503: Service Unavailable) while checking "
        "on highlights; still failing after 1 attempt over N s. The problem is on LogRocket's side: try again in a "
        f"few minutes. The highlights request {rid} was sent and may still finish: to look again, call "
        f'summarize_user_sessions(request_id="{rid}", user_email="jane@acme.com").'
    )


async def test_cancelling_the_call_stops_polling_at_once(
    settings: Settings, sandbox: SandboxServer, world: SandboxWorld
) -> None:
    world.highlights_delay = 1000  # never ready while the test runs
    clock = CountingClock()
    progress = Progress()
    async with fast_client(settings, clock) as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool(TOOL, {"user_email": JANE, "wait_seconds": 600}, progress_callback=progress)

            tg.start_soon(call)
            with anyio.fail_after(5):
                await progress.arrived.wait()
            tg.cancel_scope.cancel()
        looks = len(highlights_calls(sandbox, "GET"))
        sleeps = clock.sleeps
        await anyio.sleep(0.5)  # 25 s as the tool sees it: two or three more looks, had it gone on
        assert len(highlights_calls(sandbox, "GET")) == looks
        assert (clock.sleeping, clock.sleeps) == (0, sleeps)
        # The server is unharmed: the next call works.
        assert not (await client.call_tool("list_exports", {"limit": 1})).is_error


async def test_the_webhook_url_is_passed_through(settings: Settings, world: SandboxWorld) -> None:
    hook = "https://hooks.example/galileo?ticket=42"
    allowed = settings.with_overrides(webhook_allowed_hosts=("hooks.example",))
    out = structured(await summarize(allowed, user_email=JANE, webhook_url=hook, wait_seconds=0))
    assert job(world, out["request_id"]).webhook_url == hook
    assert out["resume"]["webhook_url"] == hook


async def test_upstream_markdown_cannot_inject_html_or_script_links(settings: Settings) -> None:
    # The sandbox's Galileo quotes the question back, as an LLM may: it is upstream text now.
    question = "<img src=x onerror=alert(1)> see [this](javascript:alert(document.cookie)) \u202eevil"
    result = await summarize(settings, user_email=JANE, question=question)
    out = structured(result)
    for text in (text_of(result), out["highlights"]):
        # Unescaped: our own "Question:" line shows it escaped (\<img), as typed.
        assert not re.search(r"(?<!\\)<img", text) and "](javascript:" not in text and "\u202e" not in text
    assert 'Regarding " see this evil"' in out["highlights"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"user_email": JANE, "user_id": "u-1001"}, "Give either user_email or user_id, not both."),
        (
            {"question": "what happened?"},
            "Say whose sessions to summarize: give user_email or user_id (one of them), or request_id to resume an "
            "earlier summary.",
        ),
        ({"request_id": "a" * 64, "user_email": JANE, "user_id": "u"}, "Give either user_email or user_id, not both."),
        (
            {"user_email": JANE, "start": "2026-11-10", "end": "2026-11-01"},
            "start (2026-11-10T00:00:00Z) must be before end (2026-11-01T00:00:00Z).",
        ),
        (
            {"user_email": JANE, "start": 1794614400000, "end": 1794614400000},
            "start (2026-11-14T00:00:00Z) must be before end (2026-11-14T00:00:00Z).",
        ),
        (
            {"user_email": JANE, "start": "2999-01-01"},
            "start (2999-01-01T00:00:00Z) must be before end (",
        ),
        (
            {"user_email": JANE, "start": 1794614400},
            "start=1794614400 looks like seconds since the epoch, but LogRocket wants milliseconds: use 1794614400000 "
            "(or an ISO-8601 date such as 2026-11-14T00:00:00Z).",
        ),
        (
            {"user_email": "jane at acme"},
            "invalid arguments: user_email must look like an email address (name@example.com) (got 'jane at acme'). "
            "Fix them and call again.",
        ),
        (
            {"user_email": JANE, "webhook_url": "javascript:alert(1)"},
            "invalid arguments: webhook_url must be an http(s) URL (https://example.com/hook) (got "
            "'javascript:alert(1)'). Fix them and call again.",
        ),
        (
            {"request_id": "../users/u-1"},
            "invalid arguments: request_id should match pattern '^[A-Za-z0-9_-]+$' (got '../users/u-1'). Fix them "
            "and call again.",
        ),
        (
            {"user_email": JANE, "wait_seconds": -1},
            "invalid arguments: wait_seconds should be greater than or equal to 0 (got -1). Fix them and call again.",
        ),
    ],
)
async def test_invalid_arguments_are_refused_before_anything_is_sent(
    settings: Settings, sandbox: SandboxServer, arguments: dict[str, Any], message: str
) -> None:
    result = await summarize(settings, **arguments)
    assert result.is_error
    assert text_of(result).startswith(f"Error executing tool {TOOL}: {message}")
    assert not sandbox.sandbox.requests.items()


def _seconds(out: dict[str, Any]) -> str:
    from mcp_server.timeparse import duration

    return duration(out["waited_seconds"])


def _distinct_gets(sandbox: SandboxServer) -> list[Received]:
    seen: dict[str, Received] = {}
    for r in highlights_calls(sandbox, "GET"):
        seen.setdefault(r.query, r)
    return list(seen.values())


def test_a_long_answer_stays_in_budget_keeps_whole_links_and_says_where_the_rest_is() -> None:
    from mcp_server.render.upstream_markdown import markdown_links
    from mcp_server.results.summarize_user_sessions import MAX_CHARS, SessionSummary, SummarizeOutput

    link = "https://app.logrocket.com/acme/web/s/1-40ae6b45-905f-4947-860f-a24b97d8df00/0?t=1794879922040"
    moment = f"- [A moment]({link}): the user clicked Save again and again.\n"
    sessions = [
        SessionSummary(
            session_id=f"1-40ae6b45-905f-4947-860f-a24b97d8df00/{i}",
            replay_url=None,
            highlights=moment * 40,
            links=[link],
        )
        for i in range(10)
    ]
    out = SummarizeOutput(
        status="READY",
        done=True,
        app_id="acme/web",
        request_id="f" * 64,
        retried_request_id=None,
        user_email=JANE,
        user_id=None,
        question=None,
        time_range=None,
        highlights=moment * 400,
        sessions=sessions,
        checks=9,
        waited_seconds=95.0,
        resume=None,
    )
    text = out.render()
    assert len(text) <= MAX_CHARS
    assert set(markdown_links(text)) == {link} and text.count("](") == text.count(f"]({link})")
    assert re.search(
        r"\nThe overall highlights were cut here after [\d,]+ characters; the other [\d,]+ are in the structured "
        r"result \(highlights\)\.\n\d+ of 10 sessions are not shown here, to keep this answer under 20,000 "
        r"characters; they are in the structured result \(sessions\[\]\.highlights\)\.\nFor a shorter summary, ask "
        r"a narrower question or give a shorter time range \(start, end\)\.\nRequest `f{64}`: READY after 9 checks "
        r"over 1 min 35 s\.$",
        text,
    )
