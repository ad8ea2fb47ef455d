"""Every tool under every upstream fault: the retries it makes, the time it takes and what the agent reads.

The rules under test (README, "Retries"):

- LogRocket and Highlight calls: a 429 is always repeated (the server refused to do anything); a 5xx, a
  reset, a timeout or a cut-off answer is repeated only for calls that are safe to repeat (GET, PUT, and
  Highlight's identifySession/addSessionProperties), never for requests that may have been carried out and
  would do it again (Galileo's POST, Highlight's initializeSession and pushPayload); a 200 that is not JSON
  is not repeated; an answer still arriving at the call's deadline is cut there.
- Export downloads: one retry for a 429, a 5xx, a reset or no answer; a body cut off or still arriving
  when the time budget ends gives an honest partial result.

Each case checks the number of requests the sandbox saw, the wall time against the tool's budget, that an
error explains itself, and the exact message, kept in ``tests/snapshots/fault_matrix.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from mcp_server.sandbox.faults import Fault
from mcp_server.sandbox.server import SandboxServer
from mcp_server.settings import Settings
from tests.conftest import check_snapshot
from tests.targets import (
    ALL_TARGETS,
    PUSH_PAYLOAD,
    SUMMARIZE_POLL,
    Outcome,
    Target,
    call,
    stable,
)

pytestmark = pytest.mark.anyio

RETRIES = 2  # SESSION_REPLAY_MCP_MAX_RETRIES in these tests
# Time is part of only two faults, and each gets the one limit it is about; every other limit is PATIENT, so
# that no attempt ends (or is repeated) because a busy machine answered slowly.
READ_TIMEOUT = 0.5  # stall: an answer held back 1 s always misses it; an answer not held back (a request
# before the faulted one) meets it even on a loaded machine (0.2 s once failed one under a full test run)
DEADLINE = 0.5  # trickle: SESSION_REPLAY_MCP_UPSTREAM_DEADLINE and SESSION_REPLAY_MCP_EXPORT_TIME_BUDGET
PATIENT = 20.0
# The wall-time checks only tell "the limit ended it" from "it ran its course" (a trickled answer takes tens of
# seconds): far more slack than any scheduler needs.
SLACK = 2.0

# kind -> the fault, as armed on the sandbox (path, method, skip and times are the target's).
FAULTS: dict[str, Fault] = {
    "429_retry_after": Fault(status=429, retry_after="0"),
    "429": Fault(status=429),
    "500": Fault(status=500),
    "502": Fault(status=502),
    "503": Fault(status=503),
    "html_502": Fault(kind="html", status=502),
    "reset": Fault(kind="reset"),
    "stall": Fault(kind="stall", seconds=1.0),
    "truncate": Fault(kind="truncate", bytes=40),
    # 10 bytes a second: only the deadline ends the answer.
    "trickle": Fault(kind="trickle", bytes=1, seconds=0.1),
    "malformed": Fault(kind="malformed"),
}
# Export files are large: a faster trickle, so the partial result has lines in it.
EXPORT_TRICKLE = Fault(kind="trickle", bytes=2048, seconds=0.1)
REFUSED = ("429_retry_after", "429")  # the server did nothing: repeating is always safe
UNSURE = ("500", "502", "503", "html_502", "reset", "stall", "truncate")  # the request may have been carried out


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.with_overrides(max_retries=RETRIES, retry_base_delay=0.01)


def deadline_for(target: Target) -> float:
    """The call's deadline under a trickle: DEADLINE more for each step before the trickled one, since those
    steps share it (on a loaded machine the first two steps of push_highlight_event once took over 0.5 s)."""
    return DEADLINE * (1 + target.skip)


def limits_for(settings: Settings, target: Target, kind: str, *, read_timeout: float = READ_TIMEOUT) -> Settings:
    """The settings for one fault: its own time limit short, every other one patient."""
    return settings.with_overrides(
        read_timeout=read_timeout if kind == "stall" else PATIENT,
        upstream_deadline=deadline_for(target) if kind == "trickle" else PATIENT,
        export_time_budget=deadline_for(target) if kind == "trickle" else PATIENT,
    )


def fault_for(target: Target, kind: str, times: int) -> Fault:
    base = EXPORT_TRICKLE if kind == "trickle" and target.upstream == "export" else FAULTS[kind]
    return replace(base, path=target.path, method=target.method, skip=target.skip, times=times)


def attempts_under_persistent_fault(target: Target, kind: str) -> int:
    """Requests to the faulted place when the fault never clears."""
    if target.upstream == "export":
        return 2 if kind in REFUSED or kind in ("500", "502", "503", "html_502", "reset", "stall") else 1
    if kind in REFUSED or (kind in UNSURE and target.idempotent):
        return 1 + RETRIES
    return 1


def most_seconds(target: Target, kind: str, attempts: int, read_timeout: float = READ_TIMEOUT) -> float | None:
    """The most a call may take under a fault that is about time (None for the others): the limit, and slack."""
    if kind == "trickle":
        return deadline_for(target) + SLACK
    if kind == "stall":
        return attempts * read_timeout + SLACK
    return None


def check_time(outcome: Outcome, bound: float | None) -> None:
    if bound is not None:
        assert outcome.seconds <= bound, f"took {outcome.seconds:.2f} s"


def check_explains_itself(outcome: Outcome, target: Target) -> None:
    if outcome.error:
        prefix = f"Error executing tool {target.tool}: "
        assert outcome.text.startswith(prefix), outcome.text
        assert len(outcome.text) > len(prefix) + 40, f"an error that says nothing: {outcome.text!r}"


def summary(target: Target, kind: str, outcome: Outcome, attempts: int) -> str:
    """One case for the snapshot: what was seen and what the agent read (for a success, its key line)."""
    if outcome.error:
        said = outcome.text
    elif target.tool == "read_session_export":
        said = next(line for line in outcome.text.splitlines() if line.startswith("**Reading:**"))
    else:
        said = outcome.text.splitlines()[0]
    ending = "error" if outcome.error else "answer"
    return f"### {target.name} × {kind}\n{attempts} request(s); {ending}:\n> {stable(said)}\n"


PERSISTENT = [(t, k) for t in ALL_TARGETS if t is not SUMMARIZE_POLL for k in FAULTS]


@pytest.fixture(scope="module")
def matrix_snapshot() -> Iterator[dict[str, str]]:
    """Collects every case's summary; checked against the snapshot once the module's cases have run."""
    cases: dict[str, str] = {}
    yield cases
    if len(cases) == len(PERSISTENT):  # only when the whole matrix ran (not under -k)
        check_snapshot("fault_matrix.md", "".join(cases[f"{t.name}×{k}"] for t, k in PERSISTENT))


@pytest.mark.parametrize(("target", "kind"), PERSISTENT, ids=[f"{t.name}-{k}" for t, k in PERSISTENT])
async def test_a_fault_that_persists(
    target: Target, kind: str, fast: Settings, sandbox: SandboxServer, matrix_snapshot: dict[str, str]
) -> None:
    limited = limits_for(fast, target, kind)
    outcome = await call(target, limited, sandbox, lambda: sandbox.sandbox.faults.add(fault_for(target, kind, 50)))
    seen = len(target.requests(sandbox))
    attempts = attempts_under_persistent_fault(target, kind)
    expected = target.skip + attempts
    check_explains_itself(outcome, target)
    check_time(outcome, most_seconds(target, kind, attempts))
    text = outcome.text

    if target.upstream == "export":
        partial = kind in ("truncate", "trickle", "malformed")
        assert outcome.error is not partial, text
        if kind == "truncate":
            assert "**The download broke off** (`RemoteProtocolError: peer closed connection" in text
        if kind == "trickle":
            # The claim is where it really stopped: after the budget, that many bytes in.
            claim = r"\*\*Stopped after (\d+\.\d) s, (.+?) into the export\*\*, at the ([\d.]+) s budget"
            stopped = re.search(claim, text)
            assert stopped is not None, text
            assert float(stopped.group(1)) >= deadline_for(target) and float(stopped.group(3)) == deadline_for(target)
            assert outcome.result.structured_content is not None
            assert outcome.result.structured_content["reading"]["time_budget_hit"] is True
    elif kind == "malformed":
        assert outcome.error and "not JSON" in text
    elif kind == "trickle":
        ran_out = f"was still arriving when this call's time ran out ({deadline_for(target):g} s at most; "
        assert outcome.error and ran_out in text
        assert "SESSION_REPLAY_MCP_UPSTREAM_DEADLINE" in text
    else:
        assert outcome.error
        unsure_note = "may still have been recorded" if target.upstream == "highlight" else "may have started"
        # A call not repeated after a failure that may have done the work says so; a repeated one need not.
        assert (unsure_note in text) is (kind in UNSURE and not target.idempotent), text
    assert seen == expected, f"{seen} requests, expected {expected}"
    matrix_snapshot[f"{target.name}×{kind}"] = summary(target, kind, outcome, seen)


TRANSIENT_KINDS = ("429_retry_after", "503", "reset", "stall", "truncate")
TRANSIENT = [(t, k) for t in ALL_TARGETS for k in TRANSIENT_KINDS]
# A stall that clears: the held-back attempt misses a read timeout the next, normal answer has time to meet.
CLEARING_READ_TIMEOUT = 2.0  # a normal answer meets it even on a machine loaded several times over
CLEARING_STALL = 4.0


@pytest.mark.parametrize(("target", "kind"), TRANSIENT, ids=[f"{t.name}-{k}" for t, k in TRANSIENT])
async def test_a_fault_that_clears(target: Target, kind: str, fast: Settings, sandbox: SandboxServer) -> None:
    """One failed attempt: a call that may repeat it recovers unseen; one that may not says what may have happened."""
    fault = fault_for(target, kind, 1)
    if kind == "stall":
        fault = replace(fault, seconds=CLEARING_STALL)
    limited = limits_for(fast, target, kind, read_timeout=CLEARING_READ_TIMEOUT)
    outcome = await call(target, limited, sandbox, lambda: sandbox.sandbox.faults.add(fault))
    seen = len(target.requests(sandbox))
    check_explains_itself(outcome, target)
    check_time(outcome, most_seconds(target, kind, 1 + RETRIES, CLEARING_READ_TIMEOUT))
    data = outcome.result.structured_content
    # Only a read timeout can be missed by a normal answer that comes late on a busy machine: then one more
    # attempt goes out, legitimately. Every other count is exact.
    late = 1 if kind == "stall" else 0

    if target.upstream == "export" and kind == "truncate":
        # The head had arrived, so the download counts as started: what came is read, and the answer says so.
        assert not outcome.error and seen == 1
        assert "**The download broke off**" in outcome.text
        return
    repeated = kind in REFUSED or target.idempotent
    if not repeated:
        assert outcome.error, outcome.text
        assert seen == target.skip + 1
        return
    assert not outcome.error, outcome.text
    assert data is not None
    if target is SUMMARIZE_POLL:
        assert data["status"] == "READY"
        # every look once, and the failed attempt of one look again
        assert data["checks"] + 1 <= seen <= data["checks"] + 1 + late
    else:
        expected = target.skip + 2 + target.steps_after
        assert expected <= seen <= expected + late, f"{seen} requests, expected {expected}"
    if target.upstream == "highlight":
        # The step that failed once was done once: one session, one event, identified.
        session = sandbox.sandbox.highlight.session(data["session_secure_id"])
        assert session is not None and session.identifier == "fault@acme.test"
        assert [e["name"] for e in session.track_events()] == ["fault_matrix"]
    if target.upstream == "export":
        assert data["reading"]["complete"] is True


async def test_a_call_of_several_requests_ends_within_one_deadline(fast: Settings, sandbox: SandboxServer) -> None:
    """push_highlight_event's steps share the deadline: three answers of 1 s each cannot make it 3 s."""
    slow = Fault(kind="stall", seconds=1.0, path="/highlight/public", times=10)
    patient = fast.with_overrides(read_timeout=PATIENT, upstream_deadline=1.5)  # each answer alone is in time
    outcome = await call(PUSH_PAYLOAD, patient, sandbox, lambda: sandbox.sandbox.faults.add(slow))
    # Each answer alone is in time, so only a deadline shared by the steps can cut the call: the error, and the
    # step that never ran, show it without timing anything.
    assert len(PUSH_PAYLOAD.requests(sandbox)) == 2  # initializeSession went through; identifySession was cut
    assert stable(outcome.text) == (
        "Error executing tool push_highlight_event: Highlight had not answered while identifying the session's user "
        "when this call's time ran out (1.5 s at most; 1 attempt over N s). If it keeps happening, raise "
        "SESSION_REPLAY_MCP_UPSTREAM_DEADLINE. Before that, Highlight accepted initializeSession, so session "
        "SECURE_ID was started: to finish, call push_highlight_event again with "
        'session_secure_id="SECURE_ID" instead of starting another session.'
    )
