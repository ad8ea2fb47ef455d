"""One classification of upstream failures for every upstream; each service only words them."""

from __future__ import annotations

import pytest

from mcp_server.adapters.errors import (
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from mcp_server.adapters.failures import Failure, FailureKind, Wording, error_class
from mcp_server.adapters.highlight_documents import INITIALIZE
from mcp_server.adapters.highlight_errors import HighlightErrors
from mcp_server.exports.download import ExportHostWording


def failure(kind: FailureKind, status: int | None = None) -> Failure:
    return Failure(kind, "GET", 2, 3.5, status=status, error="ConnectError: refused", timeout=10.0, retry_after=4.0)


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("status", 400, UpstreamRejected),
        ("status", 401, UpstreamAuthError),
        ("status", 403, UpstreamAuthError),
        ("status", 404, UpstreamNotFound),
        ("status", 422, UpstreamRejected),
        ("status", 429, UpstreamRateLimited),
        ("status", 500, UpstreamServerError),
        ("status", 503, UpstreamServerError),
        ("timeout", None, UpstreamTimeout),
        ("deadline", None, UpstreamTimeout),
        ("unreachable", None, UpstreamUnreachable),
        ("dropped", None, UpstreamUnreachable),
        ("too_large", None, UpstreamBadResponse),
    ],
)
def test_every_upstream_classifies_a_failure_the_same_way(
    kind: FailureKind, status: int | None, expected: type[UpstreamError]
) -> None:
    f = failure(kind, status)
    assert error_class(f) is expected
    highlight = HighlightErrors("http://localhost:8082/public").explain(INITIALIZE)
    for explain in (highlight, ExportHostWording.at("https://storage.example/e.jsonl").explain):
        assert type(explain(f)) is expected


def test_a_service_may_read_more_statuses_as_nothing_there() -> None:
    # A GraphQL endpoint that redirects or refuses the method is no public graph; an export that is gone is gone.
    highlight = HighlightErrors("http://localhost:8082/public").explain(INITIALIZE)
    assert type(highlight(failure("status", 302))) is UpstreamNotFound
    assert type(highlight(failure("status", 405))) is UpstreamNotFound
    assert type(ExportHostWording.at("https://storage.example/e.jsonl").explain(failure("status", 410))) is (
        UpstreamNotFound
    )
    assert error_class(failure("status", 405)) is UpstreamRejected


def test_a_new_upstream_needs_only_its_name_its_setting_and_what_it_was_doing() -> None:
    wording = Wording("Acme Replay", "https://api.acme.example/v2", "ACME_REPLAY_URL", "listing replays")
    said = {kind: str(wording.explain(failure(kind))) for kind in ("timeout", "deadline", "unreachable", "dropped")}
    assert said["timeout"] == (
        "Acme Replay did not answer within 10 s while listing replays (2 attempts over 3.5 s). Try again; if it "
        "keeps happening, raise SESSION_REPLAY_MCP_READ_TIMEOUT."
    )
    assert said["unreachable"] == (
        "Could not connect to Acme Replay at api.acme.example while listing replays (ConnectError: refused; 2 "
        "attempts over 3.5 s). Check the network and ACME_REPLAY_URL (now https://api.acme.example/v2)."
    )
    limited = wording.explain(failure("status", 429))
    assert isinstance(limited, UpstreamRateLimited) and limited.retry_after == 4.0
    assert "Wait 4 s and try again." in str(limited)
    missing = wording.explain(failure("status", 404))
    assert isinstance(missing, UpstreamNotFound) and missing.status == 404
    assert "Check ACME_REPLAY_URL (now https://api.acme.example/v2)." in str(missing)
