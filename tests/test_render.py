"""Rendering helpers: outside text cannot break out of its place in the Markdown."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from mcp_server.redact import REDACTED, Redactor
from mcp_server.render.budget import Budget
from mcp_server.render.markdown import code, code_span, plain, table
from mcp_server.text import clean_text, truncate


def test_code_spans_hold_any_backticks() -> None:
    assert code("a`b") == "``a`b``"
    assert code("``x``") == "``` ``x`` ```"
    assert code("") == "` `"


def test_control_and_bidi_characters_are_removed_and_lines_joined() -> None:
    assert clean_text("ok\u202e\u0007 then\nnext\r\n\tline") == "ok then next line"


def test_plain_text_cannot_open_a_link_or_heading() -> None:
    assert plain("# [click](javascript:x)") == "\\# \\[click\\]\\(javascript:x\\)"


def test_table_cells_cannot_add_columns_or_rows() -> None:
    rendered = table(["a"], [[code("x | y\n| z |")]])
    assert rendered.splitlines()[2] == "| `x \\| y \\| z \\|` |"


def test_truncation_says_how_much_was_cut_and_respects_the_limit() -> None:
    text = truncate("x" * 500, 100)
    assert len(text) == 100 and text.endswith("… (+414 chars)")
    assert text.count("x") + 414 == 500


def test_budget_never_exceeds_its_limit() -> None:
    budget = Budget(50, reserve=10)
    assert budget.add("a" * 30)
    assert not budget.add("b" * 20)
    assert len(budget.close("c" * 10)) <= 50


def test_a_redactor_passed_to_truncate_runs_before_the_cut() -> None:
    key = "acme:web:Sk0123456789abcdefghijklmnopqrstuv"
    text = "upstream said: bad key " + key + " (check it)"
    limit = text.index(key) + 26  # the cut would leave a piece of the key too short to be recognised later
    assert Redactor([key])(truncate(text, limit)) == truncate(text, limit)  # the piece alone is not found
    assert truncate(text, limit, Redactor([key])) == f"upstream said: bad key {REDACTED} (check it)"


@given(
    value=st.text(st.characters(codec="ascii"), max_size=40) | st.text(max_size=40),
    limit=st.sampled_from([None, 5, 20, 200]),
)
@example(value=" padded", limit=None)
@example(value="padded ", limit=None)
@example(value="two  spaces", limit=None)
@example(value="tick`s", limit=None)
@example(value="at the limit", limit=12)
@example(value="", limit=None)
def test_a_code_span_is_the_same_by_its_shortcut_as_by_the_general_path(value: str, limit: int | None) -> None:
    # code() answers most recorded values without cleaning them first; it must make exactly what cleaning would.
    assert code(value, limit) == code_span(value, limit)
