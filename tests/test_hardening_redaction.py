"""A key is redacted in part and encoded too: cut short, mostly masked, in base64/base64url/hex/percent form.

Once, only the whole key (and its URL-encoded form) was matched: an upstream message echoing a truncated key
(``acme:web:SEKRET…``), a masked key showing most of the secret, or ``base64("token <key>")`` went through.
"""

from __future__ import annotations

import base64
import logging
import secrets

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client

from mcp_server.redact import REDACTED, RedactingFilter, Redactor, run_length
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import text_of

SECRET = "Sk" + secrets.token_urlsafe(24)  # letters, digits, '-' and '_', as real keys are
KEY = f"acme:web:{SECRET}"
TOKEN = "tok-" + secrets.token_urlsafe(20)
RUN = run_length(SECRET)  # half the secret: a run that long gives it away


def encodings(text: str) -> list[str]:
    raw = text.encode()
    return [raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]


def traces(text: str, secret: str = SECRET) -> list[str]:
    """Runs of half of ``secret`` (any case) in ``text``, and its encodings' cores."""
    lowered = text.lower()
    run = run_length(secret)
    runs = [secret[i : i + run].lower() for i in range(len(secret) - run + 1)]
    cores = [e[4:-4].lower() for e in (base64.b64encode(secret.encode()).decode(), secret.encode().hex())]
    return [r for r in (*runs, *cores) if r in lowered]


@pytest.mark.parametrize(
    "message",
    [
        f"invalid key acme:web:{SECRET[:RUN]}…",  # truncated, as an error message shows it
        f"key {KEY[:-3]}",
        f"key acme:web:{SECRET[:-4]}****",  # masked, most of it showing
        f"key acme:web:****{SECRET[4:]}",
        f"Authorization: Basic {base64.b64encode(f'token {KEY}'.encode()).decode()}",
        f"auth={base64.urlsafe_b64encode(f'token {KEY}'.encode()).decode()}",
        f"auth={base64.b64encode(f'x{KEY}'.encode()).decode()} {base64.b64encode(f'xy{KEY}'.encode()).decode()}",
        f"auth={base64.b64encode(KEY.encode()).decode().rstrip('=')}",
        f"hex {KEY.encode().hex()} and {SECRET.encode().hex().upper()}",
        f"url {KEY.replace(':', '%3A')}",
        f"{TOKEN[:-2]} and {base64.b64encode(f'Bearer {TOKEN}'.encode()).decode()}",
    ],
    # Ids that do not show the (random) secrets: every pytest-xdist worker must collect the same tests.
    ids=[
        "truncated",
        "cut-short",
        "masked-end",
        "masked-start",
        "basic-auth",
        "base64url",
        "base64-offsets",
        "base64-unpadded",
        "hex",
        "percent",
        "token",
    ],
)
def test_parts_and_encodings_of_a_secret_are_redacted(message: str) -> None:
    redact = Redactor([KEY, TOKEN])
    cleaned = redact(message)
    assert REDACTED in cleaned
    assert not traces(cleaned), cleaned
    assert not traces(cleaned, TOKEN[4:]), cleaned


def test_text_without_the_secret_is_left_alone() -> None:
    # Shorter runs stay: words a chosen secret contains ("sandbox-web-key") must not vanish from answers.
    assert Redactor(["acme:web:sandbox-web-key-4f1c9e"])("sandbox-exporter") == "sandbox-exporter"
    redact = Redactor([KEY])
    text = f"acme:web is the app; {SECRET[: RUN - 1]} is too short a piece to give the key away"
    assert redact(text) == text


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    start=st.integers(0, len(SECRET) - RUN),
    length=st.integers(RUN, len(SECRET)),
    encoding=st.sampled_from(["plain", "upper", "b64", "b64url", "hex", "prefix-b64"]),
    prefix=st.text(max_size=7),
)
def test_any_long_enough_run_of_the_secret_is_redacted_in_any_common_encoding(
    before: str, after: str, start: int, length: int, encoding: str, prefix: str
) -> None:
    piece = SECRET[start : start + length]
    if encoding == "plain":
        shown = piece
    elif encoding == "upper":
        shown = piece.upper()
    elif encoding == "hex":
        shown = SECRET.encode().hex()
    elif encoding == "b64":
        shown = base64.b64encode(f"{prefix}{KEY}".encode()).decode()
    elif encoding == "b64url":
        shown = base64.urlsafe_b64encode(f"token {KEY}".encode()).decode()
    else:
        shown = base64.b64encode(f"{prefix}{SECRET}{after}".encode()).decode()
    cleaned = Redactor([KEY])(before + shown + after)
    assert not traces(cleaned) or traces(before + after), cleaned
    if encoding in ("plain", "upper"):
        assert piece.lower() not in cleaned.lower()


@pytest.mark.anyio
async def test_an_upstream_error_echoing_a_truncated_key_reaches_neither_the_answer_nor_the_log(
    captured_logs: list[str],
) -> None:
    def logrocket(request: httpx2.Request) -> httpx2.Response:
        # LogRocket-like: the key, cut and masked, and the Authorization header, base64-encoded.
        echoed = base64.b64encode(request.headers["authorization"].encode()).decode()
        return httpx2.Response(403, json={"detail": f"token acme:web:{SECRET[: RUN + 2]}… rejected (req {echoed})"})

    settings = Settings(logrocket_api_key=KEY, max_retries=0)
    server = build_server(settings, logrocket_transport=httpx2.MockTransport(logrocket))
    logging.getLogger("mcp_server.test").warning("upstream said: %s", f"acme:web:{SECRET[-RUN:]}")
    async with Client(server) as client:
        result = await client.call_tool("identify_user", {"user_id": "u-1", "name": "Jane"})
    assert result.is_error
    assert REDACTED in text_of(result)
    assert not traces(text_of(result)), text_of(result)
    assert captured_logs and all(not traces(line) for line in captured_logs), captured_logs
    record = logging.LogRecord("x", logging.INFO, "", 0, "key %s", (KEY[:-2],), None)
    RedactingFilter().filter(record)
    assert not traces(record.getMessage())
