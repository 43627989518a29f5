"""Redelivery storms: Telegram delivers every update three times and Slack
retries every event three times; each answer is stored once and each reply
sent once. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.models import Answer, ProcessedInbound
from tests.adapters import test_slack_channel as slack_base
from tests.adapters.telegram_harness import Heard
from tests.adapters.test_slack_channel import FAMILY, Slack, _buttons, _invite_code
from tests.adapters.test_telegram import ASKED
from tests.conftest import FakeClock
from tests.fakes.slack_api import (
    BOT_ID,
    BOT_USER_ID,
    block_actions_body,
    dm_channel_id,
    dm_message_event,
    event_body,
)
from tests.fakes.telegram_api import FakeTelegram

TIMES = 3
CHAT = 7401

fake = slack_base.fake
slack = slack_base.slack


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as f:
        yield f


async def _stormed(tg: FakeTelegram, action: Callable[[], int]) -> None:
    """Do `action`, deliver its update `TIMES` times in all, wait for the reply."""
    before = tg.sent_count(CHAT)
    update_id = action()
    for _ in range(TIMES - 1):
        tg.redeliver(update_id)
    await tg.wait_for_async(
        lambda: tg.sent_count(CHAT) > before, timeout=10, message="a reply to the storm"
    )


async def test_every_telegram_update_three_times_stores_each_answer_once(
    db_url: str, tg: FakeTelegram
) -> None:
    async with Heard(db_url, tg) as heard:
        token = heard.invite()
        await _stormed(tg, lambda: tg.user_sends_start(CHAT, token))
        await _stormed(tg, lambda: tg.user_taps(CHAT, "Yes, let's start"))
        for q in ASKED:
            if q.kind.value == "text":
                await _stormed(tg, lambda: tg.user_sends_text(CHAT, "Very patient"))
            else:
                label = q.labels["en"][1]
                await _stormed(tg, lambda label=label: tg.user_taps(CHAT, label))
        # Let the last duplicates arrive before counting.
        await tg.wait_for_async(lambda: tg.pending_update_count == 0, timeout=10)
        answers = Counter(question for question, _ in heard.answers())
        assert answers == Counter({q.id: 1 for q in ASKED})
        texts = [m["text"] or "" for m in tg.sent(CHAT)]
        assert sum("Thank you" in t for t in texts) == 1
        questions = [t for t in texts if " of " in t and t.startswith("(")]
        assert len(questions) == len(set(questions)) == len(ASKED)


async def _post_times(slack: Slack, body: str) -> None:
    for attempt in range(TIMES):
        retry: dict[str, Any] = (
            {"retry_num": attempt, "retry_reason": "http_timeout"} if attempt else {}
        )
        status, _ = await slack.post(body, **retry)
        assert status == 200


def _press(message: dict[str, Any], code: str) -> str:
    (button,) = [b for b in _buttons(message) if b["value"].rpartition(":")[2] == code]
    return block_actions_body(
        user_id=FAMILY,
        channel_id=message["channel"],
        action_id=button["action_id"],
        value=button["value"],
        message_ts=message["ts"],
        message={
            "type": "message",
            "ts": message["ts"],
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": message["text"],
            "blocks": message["blocks"],
        },
    )


def _write(text: str) -> str:
    return event_body(dm_message_event(FAMILY, dm_channel_id(FAMILY), text))


async def test_every_slack_event_three_times_stores_each_answer_once(
    slack: Slack, clock: FakeClock
) -> None:
    await _post_times(slack, _write(_invite_code(slack.service, clock)))
    consent = await slack.next_message()
    await _post_times(slack, _press(consent, "yes"))
    first = await slack.next_message()
    await _post_times(slack, _press(first, "4"))
    await slack.next_message()
    await _post_times(slack, _write("no"))
    third = await slack.next_message()
    await _post_times(slack, _press(third, "2"))
    await slack.next_message()
    await _post_times(slack, _write("Kind and clear"))
    thanks = await slack.next_message()
    assert "Thank you." in thanks["text"]
    await slack.settle()
    with slack.service.store.sessions() as s:
        answers = Counter(s.scalars(select(Answer.question_id)))
        processed = s.scalar(select(func.count()).select_from(ProcessedInbound))
    assert answers == Counter({"truth": 1, "same_worker": 1, "how_many": 1, "comment": 1})
    assert processed == 6
    sent = slack.fake.messages(dm_channel_id(FAMILY), kind="message")
    assert len(sent) == 6, [m["text"][:30] for m in sent]
