"""A promise over Slack from start to end, through real Bolt against the fake
Web API: the worker records it with `/heard promise`, the follow-up sweep of
`heard run` asks the family in their DM after the due time (not in quiet
hours, not after STOP), the family taps their answers, and the next month's
report shows the share only over k families."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.core.disclosure import FEWER
from bot.core.promises import PROMISES_KEPT, PROMISES_REPAIRED
from bot.runtime.followups import FollowUpRunner
from bot.service.staff import cli_viewer
from storage.models import Promise
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
from tests.fakes.slack_api import FakeSlack, dm_channel_id
from tests.helpers import ChatFamily, make_invite, tiny_sets

__all__ = ["fake"]

KEEPS = "U0FAMILY01"
STOPS = "U0FAMILY02"


@pytest.fixture
async def slack(
    fake: FakeSlack, make_service: MakeService, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> AsyncIterator[Slack]:
    clock.now = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    service = make_service(sets=tiny_sets(), default_set="tiny")
    config = replace(slack_config(fake), promise_ask_after=timedelta(0))
    async for running in _running(fake, service, monkeypatch, config):
        yield running


def _joined(slack: Slack, clock: FakeClock, user: str) -> str:
    with slack.service.store.sessions.begin() as s:
        invite = make_invite(s, clock(), worker="Sam Jones")
        token, code = invite.token, invite.code
    fam = ChatFamily(slack.service, dm_channel_id(user), platform="slack")
    fam.start(token)
    fam.tap("yes")
    return code


def _asked(slack: Slack, user: str) -> list[dict[str, object]]:
    return [
        m for m in slack.fake.messages(dm_channel_id(user), kind="message") if "ring" in m["text"]
    ]


async def test_a_promise_recorded_in_slack_is_asked_in_daytime_and_counted_not_shown(
    slack: Slack, clock: FakeClock
) -> None:
    _register_worker(slack.service, clock)
    keeps = _joined(slack, clock, KEEPS)
    stops = _joined(slack, clock, STOPS)
    for code in (keeps, stops):
        await slack.command(f'promise {code} "I will ring you on Friday" by 2h')
    await slack.fake.async_wait_for(
        lambda: len(slack.fake.messages(dm_channel_id(WORKER), kind="ephemeral")) >= 2,
        message="two promises recorded",
    )
    assert await slack.write("stop", user=STOPS) == 200
    await slack.settle()
    assert slack.runtime is not None
    runner = FollowUpRunner(slack.runtime.app, slack.runtime.channels, sender=slack.runtime.sender)

    clock.now = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # due, but quiet hours
    await runner.tick()
    await slack.runtime.sender.drain()
    assert _asked(slack, KEEPS) == []

    clock.now = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    await runner.tick()
    question = await slack.fake.async_wait_for_message(
        dm_channel_id(KEEPS), contains="Did this happen?", kind="message", timeout=20
    )
    assert "“I will ring you on Friday”" in str(_asked(slack, KEEPS)[0]["text"])
    await slack.tap(question, "no", user=KEEPS)
    sorry = await slack.fake.async_wait_for_message(
        dm_channel_id(KEEPS), contains="explain or say sorry", kind="message", timeout=20
    )
    await slack.tap(sorry, "yes", user=KEEPS)
    await slack.fake.async_wait_for_message(
        dm_channel_id(KEEPS), contains="Thank you for telling us", kind="message", timeout=20
    )
    await slack.settle()
    assert _asked(slack, STOPS) == []
    with slack.service.store.sessions() as s:
        outcomes = sorted((p.outcome or "-", p.repaired) for p in s.scalars(select(Promise)))
    assert outcomes == [("-", None), ("no", True)]

    # One family's answer never shows: the shares are hidden below k.
    clock.now = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    report = slack.runtime.app.staff.reports.report(cli_viewer(), period="2026-03", team="North")
    for record in (PROMISES_KEPT, PROMISES_REPAIRED):
        [row] = [r for r in report.summary() if r.question == record.id]
        assert (row.suppressed, row.reason, row.distribution) == (True, FEWER, None)
