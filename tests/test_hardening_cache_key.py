"""Different exports never share a cache entry; a fresh signature on the same export does.

The cache key once dropped any parameter whose name started like a signing one (``se``, ``st``, ``sig``...) and
sorted and decoded the rest, so ``?session=alice`` and ``?session=bob`` were answered from one entry.
"""

from __future__ import annotations

import pytest

from mcp_server.exports.cache import ExportCache

BASE = "https://storage.googleapis.com/lr-exports/acme/web/2026-11-18/export.jsonl"
GCS_V4 = (
    "X-Goog-Algorithm=GOOG4-HMAC-SHA256&X-Goog-Credential=exporter%2F20261118%2Fauto%2Fstorage%2Fgoog4_request"
    "&X-Goog-Date=20261118T110640Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature={sig}"
)
S3_V4 = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261118%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261118T110640Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok{sig}"
    "&X-Amz-Signature={sig}"
)
V2 = "GoogleAccessId=svc%40acme.iam&AWSAccessKeyId=AKIA&Expires=179500{sig}&Signature=abc{sig}%3D"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (f"{BASE}?session=alice", f"{BASE}?session=bob"),
        (BASE, f"{BASE}?start=999"),
        (f"{BASE}?se=1", f"{BASE}?se=2"),  # Azure's names are not LogRocket's storage: kept
        (f"{BASE}?sig=1", f"{BASE}?sig=2"),
        (f"{BASE}?expires_in=1", f"{BASE}?expires_in=2"),  # a prefix of a signing name is not one
        (f"{BASE}?id=1&id=2", f"{BASE}?id=2&id=1"),
        (f"{BASE}?a=%41", f"{BASE}?a=A"),
        (f"{BASE}?a=b&c", f"{BASE}?a=b%26c"),
        (f"{BASE}?response-content-type=text%2Fplain", f"{BASE}?response-content-type=application%2Fjson"),
        ("https://storage.googleapis.com/lr-exports/a.jsonl", "https://storage.googleapis.com/lr-exports/A.jsonl"),
        (
            "https://storage.googleapis.com/lr-exports/a%2Fb.jsonl",
            "https://storage.googleapis.com/lr-exports/a/b.jsonl",
        ),
    ],
)
def test_different_exports_get_different_entries(one: str, other: str) -> None:
    assert ExportCache.key(one) != ExportCache.key(other)


@pytest.mark.parametrize("signing", [GCS_V4, S3_V4, V2])
def test_a_fresh_signature_of_the_same_export_hits_the_same_entry(signing: str) -> None:
    first = f"{BASE}?generation=17&{signing.format(sig='0a1b')}"
    again = f"{BASE}?generation=17&{signing.format(sig='9f8e')}"
    assert ExportCache.key(first) == ExportCache.key(again) == ExportCache.key(f"{BASE}?generation=17")
    # Scheme and host case, and an explicit default-less port, are the only other things normalised.
    assert ExportCache.key(first.replace("https://storage", "HTTPS://STORAGE")) == ExportCache.key(first)
    assert ExportCache.key(f"{BASE}?generation=18&{signing.format(sig='0a1b')}") != ExportCache.key(first)


def test_signing_names_are_matched_without_case_and_after_decoding() -> None:
    assert ExportCache.key(f"{BASE}?x-goog-signature=1&X%2DGoog%2DDate=2") == ExportCache.key(BASE)
