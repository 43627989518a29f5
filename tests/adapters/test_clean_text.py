"""Text no database accepts (a NUL, a lone surrogate) arrives over Telegram:
it is cleaned at the edge, stored, answered, and a disclosure carrying a NUL
still raises its alert. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from storage.models import Answer, SafeguardingAlert
from tests.adapters.telegram_harness import Heard, reply_after
from tests.adapters.test_telegram import ASKED
from tests.fakes.telegram_api import FakeTelegram

CHAT = 7301


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


async def _to_the_first_text_question(heard: Heard, tg: FakeTelegram, chat: int) -> None:
    token = heard.invite()
    await reply_after(tg, chat, lambda: tg.user_sends_start(chat, token))
    await reply_after(tg, chat, lambda: tg.user_taps(chat, "Yes, let's start"))
    for q in ASKED:
        if q.kind.value == "text":
            return
        label = q.labels["en"][1]
        await reply_after(tg, chat, lambda label=label: tg.user_taps(chat, label))
    raise AssertionError("the adult set has no text question")


async def test_nul_and_surrogates_are_stored_clean_and_answered(
    db_url: str, tg: FakeTelegram
) -> None:
    async with Heard(db_url, tg) as heard:
        await _to_the_first_text_question(heard, tg, CHAT)
        reply = await reply_after(
            tg, CHAT, lambda: tg.user_sends_text(CHAT, "Very\x00 pat\ud800ient \ud83d\ude00")
        )
        assert "could not take that message" not in reply
        with heard.app.sessions() as s:
            texts = [a.text for a in s.scalars(select(Answer)) if a.text]
        assert texts == ["Very patient 😀"]
        assert heard.app.conversation.set_aside_count == 0


async def test_a_disclosure_with_a_nul_still_alerts(db_url: str, tg: FakeTelegram) -> None:
    async with Heard(db_url, tg) as heard:
        await _to_the_first_text_question(heard, tg, CHAT)
        words = "my step dad hi\x00ts me and im scared to go home\x00"
        await reply_after(tg, CHAT, lambda: tg.user_sends_text(CHAT, words))
        with heard.app.sessions() as s:
            alerts = list(s.scalars(select(SafeguardingAlert)))
        assert len(alerts) == 1
        assert alerts[0].text == "my step dad hits me and im scared to go home"
