"""What went wrong with a call to Highlight's public graph, as sentences that say what to do.

A hosted-endpoint failure of any kind is most likely the shutdown of hosted Highlight (2026-02-28), so
those messages lead with it and name the alternatives; for any other endpoint they name the setting
to check. A write that may have reached Highlight says so, since it is not repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from mcp_server.adapters.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRejected,
)
from mcp_server.adapters.failures import Failure, Wording, deadline_sentence, said, tries, wait_hint
from mcp_server.adapters.highlight_documents import INITIALIZE, Operation
from mcp_server.adapters.http import Explain
from mcp_server.render.markdown import quoted, snippet
from mcp_server.settings import (
    DEFAULT_HIGHLIGHT_PUBLIC_GRAPH_URL,
    LAUNCHDARKLY_PUBLIC_GRAPH_URL,
    SELF_HOSTED_HIGHLIGHT_PUBLIC_GRAPH_URL,
)
from mcp_server.text import Redact

HOSTED_HOST = urlsplit(DEFAULT_HIGHLIGHT_PUBLIC_GRAPH_URL).hostname
SHUTDOWN_DATE = "2026-02-28"


class HighlightErrors:
    """Failure sentences for one configured endpoint."""

    def __init__(self, endpoint: str, *, redact: Redact | None = None) -> None:
        # What is quoted from Highlight's answers goes through the upstream's redactor first.
        self._redact: Redact = redact or (lambda text: text)
        self.endpoint = endpoint
        self.host = urlsplit(endpoint).netloc
        self.hosted = urlsplit(endpoint).hostname == HOSTED_HOST

    def advice(self) -> str:
        """What to do about an endpoint that cannot be reached or is not a public graph."""
        if self.hosted:
            return (
                f"Hosted Highlight shut down on {SHUTDOWN_DATE}, so {self.endpoint} no longer takes events. Set "
                f"HIGHLIGHT_PUBLIC_GRAPH_URL to a self-hosted Highlight's public graph (for example "
                f"{SELF_HOSTED_HIGHLIGHT_PUBLIC_GRAPH_URL}) or to LaunchDarkly's successor endpoint "
                f"{LAUNCHDARKLY_PUBLIC_GRAPH_URL} (with your LaunchDarkly client-side ID as HIGHLIGHT_PROJECT_ID)."
            )
        return (
            f"Check HIGHLIGHT_PUBLIC_GRAPH_URL (now {self.endpoint}): it must be a running Highlight public graph, "
            f"such as a self-hosted Highlight's (served at /public, for example "
            f"{SELF_HOSTED_HIGHLIGHT_PUBLIC_GRAPH_URL}) or LaunchDarkly's successor endpoint "
            f"{LAUNCHDARKLY_PUBLIC_GRAPH_URL}. Hosted Highlight ({DEFAULT_HIGHLIGHT_PUBLIC_GRAPH_URL}) shut down on "
            f"{SHUTDOWN_DATE}."
        )

    # -- answers that arrived but are not what a public graph says --------------------------------------

    def web_page(self, op: Operation, status: int) -> UpstreamError:
        return UpstreamBadResponse(
            f"Highlight at {self.endpoint} answered {op.name} with a web page (HTTP {status}), not GraphQL, while "
            f"{op.doing}. {self.advice()}",
            status=status,
        )

    def not_json(self, op: Operation, status: int, body: str) -> UpstreamError:
        return UpstreamBadResponse(
            f"Highlight answered {op.name} with HTTP {status} but the body is not JSON "
            f"({snippet(self._redact(body), 80)}). "
            f"{self.advice()}",
            status=status,
        )

    def bad_shape(self, op: Operation, expected: str) -> UpstreamBadResponse:
        return UpstreamBadResponse(
            f"Highlight answered {op.name} with JSON that is not {expected}. Check HIGHLIGHT_PUBLIC_GRAPH_URL "
            f"(now {self.endpoint}); if it is right, Highlight's API may have changed."
        )

    def refused(self, op: Operation, status: int, detail: str | None) -> UpstreamError:
        shown = f": {detail}" if detail else ""
        return UpstreamRejected(f"Highlight refused {op.name} while {op.doing} (HTTP {status}{shown}).", status=status)

    def graphql(self, op: Operation, status: int, messages: list[str], project: str | None) -> UpstreamError:
        """GraphQL ``errors``: 400/422 refuse the request itself; in a 200 they are the resolver's refusal."""
        first = quoted(self._redact(messages[0]), 300) if messages else "no message"
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        if status == 422:
            return UpstreamRejected(
                f"Highlight's public graph refused the {op.name} request as invalid for its schema (HTTP 422: "
                f"{first}{more}). Nothing was recorded by it. This server's requests match Highlight's public "
                f"schema, so HIGHLIGHT_PUBLIC_GRAPH_URL (now {self.endpoint}) probably points at another GraphQL "
                "service: self-hosted Highlight serves the public graph at /public, not at / or /private.",
                status=422,
            )
        if status == 400:
            return UpstreamRejected(
                f"Highlight could not read the {op.name} request (HTTP 400: {first}). Nothing was recorded by it. "
                f"Check HIGHLIGHT_PUBLIC_GRAPH_URL (now {self.endpoint}).",
                status=400,
            )
        if "BillingQuotaExceeded" in messages:
            return UpstreamRejected(
                "Highlight refused to start a session: the project's session quota is used up "
                "(BillingQuotaExceeded). Nothing was recorded. Raise the quota in Highlight's billing settings "
                "or wait until it resets, then try again.",
                status=status,
            )
        if op is INITIALIZE and project is not None and _is_project_id_error(first):
            return UpstreamRejected(
                f"Highlight does not recognise the project id {project!r} ({first}). Nothing was recorded. Check "
                "HIGHLIGHT_PROJECT_ID, or the project_id argument: it is the id in your Highlight setup snippet, "
                "H.init('<project id>') (with LaunchDarkly's endpoint, your LaunchDarkly client-side ID).",
                status=status,
            )
        return UpstreamRejected(f"Highlight refused {op.name} while {op.doing} ({first}{more}).", status=status)

    # -- no usable answer ---------------------------------------------------------------------------------

    def explain(self, op: Operation) -> Explain:
        """The HttpPolicy's failure (after its retries) as a sentence, for ``op``."""
        # A write that may have arrived is not repeated (see Operation.idempotent); the caller must know.
        unsure = (
            ""
            if op.idempotent
            else " It may still have been recorded; it was not sent again, because a repeat could record it twice."
        )
        return HighlightWording(
            "Highlight", self.endpoint, "HIGHLIGHT_PUBLIC_GRAPH_URL", op.doing, unsure, errors=self, op=op
        ).explain


@dataclass(frozen=True)
class HighlightWording(Wording):
    """Highlight's sentences: a public graph takes no credentials, and the hosted one is shut down."""

    errors: HighlightErrors | None = None
    op: Operation = INITIALIZE

    @property
    def advice(self) -> str:
        assert self.errors is not None
        return self.errors.advice()

    @property
    def hosted(self) -> bool:
        return self.errors is not None and self.errors.hosted

    def missing(self, status: int) -> bool:
        # A redirect, or a method or page that is not there: whatever answered, it is not a public graph.
        return status in (405, 410) or 300 <= status < 400

    def not_found(self, f: Failure) -> str:
        return (
            f"Highlight at {self.url} answered {self.op.name} with HTTP {f.status}, not GraphQL: there is no "
            f"public graph at this address. {self.advice}"
        )

    def rate_limited(self, f: Failure) -> str:
        return (
            f"Highlight is rate-limiting requests (HTTP 429) while {self.doing}; still limited after {tries(f)}. "
            f"Nothing was recorded by this step. Wait {wait_hint(f)} and try again."
        )

    def auth(self, f: Failure) -> str:
        return (
            f"Highlight's public graph refused {self.op.name} (HTTP {f.status}{said(f)}). It takes no credentials, "
            "so a proxy or firewall in front of it probably blocked the request. Check "
            f"HIGHLIGHT_PUBLIC_GRAPH_URL (now {self.url})."
        )

    def server_error(self, f: Failure) -> str:
        after = f" {self.advice}" if self.hosted else " Try again in a few minutes."
        return (
            f"Highlight had a server error (HTTP {f.status}{said(f)}) while {self.doing} ({tries(f)}).{self.unsure}"
            f"{after}"
        )

    def rejected(self, f: Failure) -> str:
        return f"Highlight refused {self.op.name} while {self.doing} (HTTP {f.status}{said(f)})."

    def timeout(self, f: Failure) -> str:
        return (
            f"Highlight did not answer within {f.timeout:g} s while {self.doing} ({tries(f)}).{self.unsure} If it "
            "keeps happening, raise SESSION_REPLAY_MCP_READ_TIMEOUT."
        )

    def deadline(self, f: Failure) -> str:
        return (
            f"{deadline_sentence('Highlight', self.doing, f)}{self.unsure} If it keeps happening, raise "
            "SESSION_REPLAY_MCP_UPSTREAM_DEADLINE."
        )

    def dropped(self, f: Failure) -> str:
        # A public graph that answered before and then cut a connection is running: only for the hosted
        # endpoint (shut down) is the address itself the likely problem.
        after = (
            self.advice
            if self.hosted
            else f"Try again; if it keeps happening, check the network and HIGHLIGHT_PUBLIC_GRAPH_URL (now {self.url})."
        )
        return (
            f"The connection to Highlight at {self.host} dropped while {self.doing} ({f.error}; {tries(f)})."
            f"{self.unsure} {after}"
        )

    def unreachable(self, f: Failure) -> str:
        return (
            f"Could not connect to Highlight at {self.host} while {self.doing} ({f.error}; {tries(f)}). {self.advice}"
        )


def _is_project_id_error(message: str) -> bool:
    # Highlight's project-id decoder fails with "failed to decode <id>", or with "An unsupported verboseID
    # was used: <id>" for one that decodes to several numbers.
    return message.startswith("failed to decode") or "unsupported verboseID" in message
