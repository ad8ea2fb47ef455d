"""What export URLs reveal: date, session id, compression and link expiry for the common signing schemes."""

from __future__ import annotations

from datetime import UTC, datetime

from mcp_server.exports.urlinfo import inspect_export_url

REC = "5-3cde95d6-a5b8-4a62-9b3a-6aa834f8747c"


def test_gcs_v4_signed_url() -> None:
    info = inspect_export_url(
        f"https://storage.googleapis.com/lr-export/acme/web/2026-11-20/{REC}-2.jsonl.gz"
        "?X-Goog-Date=20261120T100000Z&X-Goog-Expires=3600&X-Goog-Signature=ab"
    )
    assert info.signed
    assert info.session_id == f"{REC}/2" and info.recorded_on == "2026-11-20" and info.compressed
    assert info.expires_at == datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    assert info.replay_url("acme", "web") == f"https://app.logrocket.com/acme/web/s/{REC}/2"


def test_s3_v4_signed_url() -> None:
    info = inspect_export_url(
        f"https://lr-exports.s3.us-east-1.amazonaws.com/2026/11/20/{REC}/0/events.jsonl"
        "?X-Amz-Date=20261120T100000Z&X-Amz-Expires=600&X-Amz-Signature=cd"
    )
    assert info.recorded_on == "2026-11-20"
    assert info.compressed is False
    assert info.session_id == f"{REC}/0"
    assert info.expires_at == datetime(2026, 11, 20, 10, 10, tzinfo=UTC)


def test_v2_expires_and_azure_sas() -> None:
    assert inspect_export_url("https://cdn.example/x.jsonl?Expires=1795132800&Signature=z").expires_at == datetime(
        2026, 11, 20, tzinfo=UTC
    )
    azure = inspect_export_url("https://acct.blob.core.windows.net/c/x.ndjson?se=2026-11-20T00:00:00Z&sig=q")
    assert azure.expires_at == datetime(2026, 11, 20, tzinfo=UTC)


def test_an_opaque_url_reveals_nothing_it_does_not_hold() -> None:
    info = inspect_export_url("https://files.example.com/download/8c1f")
    assert info.session_id is None and info.recorded_on is None and info.expires_at is None and not info.signed
