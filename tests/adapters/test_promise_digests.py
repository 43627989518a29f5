"""Promises in a worker's digest, through real Bolt against the fake Web API:
the worker records a promise for each of five families with `/heard promise`,
each family is asked in their DM after the due time and taps an answer, and
the next month's digest in the worker's DM shows the share kept only when at
least k families (so at least k promises) answered. Below k the share is not
there at all; the share put right, over two families, never is. And the
"what happens next" answers reach a worker's digest on Telegram (real
python-telegram-bot against the fake Bot API) under their own heading."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.runtime.digests import DigestRunner
from bot.runtime.followups import FollowUpRunner
from storage.models import Worker
from tests.adapters.telegram_harness import Heard
from tests.adapters.test_slack_channel import (
    WORKER,
    MakeService,
    Slack,
    _register_worker,
    _running,
    fake,
    slack_config,
)
from tests.conftest import FakeClock
from tests.digests_seed import MANAGER, NEXT_STEPS, NOW, SAM, seed_team
from tests.fakes.slack_api import FakeSlack, dm_channel_id
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import ChatFamily, make_invite, tiny_sets

__all__ = ["fake"]

FAMILIES = [f"U0FAMILY{i:02d}" for i in range(1, 6)]
CHAT = "434343"
ANSWERS = [("yes", None), ("yes", None), ("yes", None), ("no", "yes"), ("no", "no")]
"""What each family says: did it happen, and (after No) did the worker explain."""


@pytest.fixture
async def slack(
    fake: FakeSlack, make_service: MakeService, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> AsyncIterator[Slack]:
    clock.now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    service = make_service(sets=tiny_sets(), default_set="tiny")
    config = replace(slack_config(fake), promise_ask_after=timedelta(0))
    async for running in _running(fake, service, monkeypatch, config):
        yield running


def _answered_the_survey(slack: Slack, clock: FakeClock, user: str) -> str:
    with slack.service.store.sessions.begin() as s:
        invite = make_invite(s, clock(), worker="Sam Jones")
        token, code = invite.token, invite.code
    family = ChatFamily(slack.service, dm_channel_id(user), platform="slack")
    family.start(token)
    family.tap("yes")
    family.tap("4")
    family.tap("yes")
    family.tap("1")
    assert "Thank you" in family.say("skip")
    return code


def _digest_texts(slack: Slack) -> list[str]:
    return [
        str(m["text"])
        for m in slack.fake.messages(dm_channel_id(WORKER), kind="message")
        if "What families said" in str(m["text"])
    ]


@pytest.mark.parametrize("answered", [4, 5])
async def test_the_share_kept_reaches_the_digest_only_from_k_families(
    slack: Slack, clock: FakeClock, answered: int
) -> None:
    _register_worker(slack.service, clock)
    codes = [_answered_the_survey(slack, clock, user) for user in FAMILIES]
    for code in codes:
        status, _ = await slack.command(f'promise {code} "I will ring you on Friday" by 2h')
        assert status == 200
    await slack.fake.async_wait_for(
        lambda: len(slack.fake.messages(dm_channel_id(WORKER), kind="ephemeral")) >= 5,
        message="five promises recorded",
    )
    await slack.settle()
    assert slack.runtime is not None
    runner = FollowUpRunner(slack.runtime.app, slack.runtime.channels, sender=slack.runtime.sender)

    clock.now = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    await runner.tick()
    for user, (happened, explained) in list(zip(FAMILIES, ANSWERS, strict=True))[:answered]:
        question = await slack.fake.async_wait_for_message(
            dm_channel_id(user), contains="Did this happen?", kind="message", timeout=20
        )
        await slack.tap(question, happened, user=user)
        if explained is not None:
            sorry = await slack.fake.async_wait_for_message(
                dm_channel_id(user), contains="explain or say sorry", kind="message", timeout=20
            )
            await slack.tap(sorry, explained, user=user)
        await slack.fake.async_wait_for_message(
            dm_channel_id(user), contains="Thank you for telling us", kind="message", timeout=20
        )
    await slack.settle()

    clock.now = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    digests = DigestRunner(slack.runtime.app, {"slack": slack.channel}, owner="test")
    results = await digests.tick()
    assert ("Sam Jones", "sent") in [(r.who, r.status) for r in results]
    (text,) = _digest_texts(slack)
    assert "5 families answered" in text
    assert "Worker changes in the last 6 months, from the case records: none: 100%" in text
    assert "Promises not kept" not in text, "two families' answers are never a share"
    preview = digests.digests.preview("Sam Jones", "2026-03").as_json()
    if answered < 5:
        assert "Promises kept" not in text
        assert preview["promises"] == {"kept": None, "repaired": None}
    else:
        assert "Promises kept, as families told us: 60%" in text
        assert preview["promises"] == {"kept": 60.0, "repaired": None}
    assert preview["worker_changes"]["6_months"]["changes_0"] == 100.0


async def test_what_happens_next_reaches_a_telegram_digest_under_its_own_heading(
    db_url: str,
) -> None:
    """A family's "what happens next" answer, released by a manager, reaches
    the worker's digest on Telegram under its own heading, scrubbed; the one
    that raised an alert and the worker under k get nothing."""
    with FakeTelegram() as tg:
        heard = Heard(db_url, tg)
        heard.app.conversation.clock = lambda: NOW
        seed_team(heard.app.store.engine)
        with heard.app.store.engine.begin() as conn:
            conn.execute(
                update(Worker)
                .where(Worker.id == SAM)
                .values(slack_user_id=None, telegram_chat=CHAT)
            )
        async with heard:
            runner = DigestRunner(heard.app, {"telegram": heard.channel}, owner="test")
            runner.digests.clock = lambda: NOW
            assert runner.digests.collect() == 7
            for request in runner.digests.to_review(50):
                runner.digests.review(MANAGER, request.comment_id, "release", None)
            await runner.tick()
        [text] = [str(m["text"]) for m in tg.sent(CHAT) if m["method"] == "sendMessage"]
        heading = "What families think happens next"
        assert heading in text and NEXT_STEPS[6] in text.split(heading)[1]
        assert "scared" not in text and "07700" not in text and "Ana is kind" not in text
