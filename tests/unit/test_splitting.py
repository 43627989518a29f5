"""One splitter for every platform: long replies become parts within the
platform's limit, cut where a reader would expect."""

from __future__ import annotations

import pytest

from adapters.slack.convert import SECTION_TEXT_LIMIT, render_text
from adapters.splitting import split_text
from adapters.telegram.convert import MAX_TEXT, render
from bot.core.messages import Outbound


def test_short_text_is_one_part() -> None:
    assert split_text("ab\ncd", 5) == ["ab\ncd"]


def test_cuts_prefer_paragraphs_then_lines_then_words() -> None:
    assert split_text("one two\n\nthree four", 14) == ["one two", "three four"]
    assert split_text("ab\ncd\nef", 5) == ["ab\ncd", "ef"]
    assert split_text("one two three", 8) == ["one two", "three"]


def test_a_word_longer_than_the_limit_is_cut_mid_word() -> None:
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_blank_text_has_no_parts_and_nothing_is_lost() -> None:
    assert split_text("", 10) == []
    assert split_text("  \n ", 10) == []
    text = " ".join(f"word{n}" for n in range(500))
    parts = split_text(text, 97)
    assert all(len(p) <= 97 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        split_text("abc", 0)


def test_each_platform_uses_its_own_limit() -> None:
    text = "\n".join(["x" * 1000] * 10)
    telegram = render(Outbound("telegram", "1", text))
    assert [len(p.text) for p in telegram] == [4003, 4003, 2001]
    assert all(len(p.text) <= MAX_TEXT for p in telegram)
    sections = [b for b in render_text(text)["blocks"] if b["type"] == "section"]
    assert len(sections) == 5  # two 1,000-character lines to a section
    assert all(len(b["text"]["text"]) <= SECTION_TEXT_LIMIT for b in sections)
