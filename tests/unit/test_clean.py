"""The one place inbound text is made storable: `bot.core.clean`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.core.clean import clean_inbound, clean_text
from bot.core.messages import Inbound, InboundKind


def test_nul_controls_surrogates_and_noncharacters_go() -> None:
    assert clean_text("hu\x00rt\x07 me\x1b") == "hurt me"
    assert clean_text("a\ud800b\udfffc") == "abc"
    assert clean_text("a\ufdd0b\ufffe\uffffc\U0010ffff") == "abc"
    assert clean_text("a\x80b\x9fc\x7f") == "abc"


def test_whitespace_and_separators_keep_words_apart() -> None:
    assert clean_text("line one\nline two\ttab\r\n") == "line one\nline two\ttab\r\n"
    assert clean_text("hurt\x0bme\x0cnow\x1fplease\x85ok") == "hurt me now please ok"


def test_a_split_surrogate_pair_becomes_its_character() -> None:
    assert clean_text("smile \ud83d\ude00") == "smile 😀"


def test_clean_text_is_returned_as_it_is() -> None:
    words = "Ça va très bien, merci 👍 — שלום"
    assert clean_text(words) is words


def test_every_string_of_an_inbound_is_cleaned() -> None:
    raw = Inbound("telegram", "12\x00", "k\ud800", InboundKind.TEXT, text="a\x00b", data="x\x01")
    cleaned = clean_inbound(raw)
    assert (cleaned.chat_id, cleaned.message_key, cleaned.text, cleaned.data) == (
        "12",
        "k",
        "ab",
        "x",
    )
    fine = Inbound("telegram", "12", "k", InboundKind.TEXT, text="fine")
    assert clean_inbound(fine) is fine


@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF)))
def test_anything_cleaned_encodes_as_utf8_without_nul_and_is_stable(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")
    assert "\x00" not in cleaned
    assert clean_text(cleaned) == cleaned
