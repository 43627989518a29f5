"""Managers in Slack, through real Bolt against the fake Web API:
`/heard reassign CODE @user` moves a case, and `/heard yousaid [team] "…"`
previews a "you said, we did" message, then sends it once per family when
Send is pressed. Every mistake gets one private answer that says what is
wrong and what to do, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import Config
from bot.service.conversation import Conversations
from bot.service.staff import Staff
from storage import repo
from storage.models import CaseChange, Invite, OutboxMessage, YouSaid
from tests.adapters.test_slack_channel import (
    MakeService,
    Slack,
    _buttons,
    _running,
    fake,
    slack_config,
)
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlack, block_actions_body, dm_channel_id
from tests.helpers import ChatFamily, make_invite, tiny_sets

__all__ = ["fake"]

MANAGER = "U0MANAGER1"
SOUTH_MANAGER = "U0MANAGER2"
ADMIN = "U0ADMIN001"
ROBIN = "U0ROBIN001"
LEE = "U0LEE00001"
TEXT = "You told us workers change too often. From January each family keeps one worker."


@pytest.fixture
async def managed(
    fake: FakeSlack, make_service: MakeService, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> AsyncIterator[Slack]:
    """North (Sam, Robin; managed by MANAGER) and South (Lee; SOUTH_MANAGER)."""
    service = make_service(sets=tiny_sets(), default_set="tiny")
    with service.store.sessions.begin() as s:
        north = repo.add_team(s, "North", clock())
        south = repo.add_team(s, "South", clock())
        repo.add_worker(s, north, "Sam", "U0SAM00001", clock())
        repo.add_worker(s, north, "Robin", ROBIN, clock())
        repo.add_worker(s, south, "Lee", LEE, clock())
    config: Config = replace(slack_config(fake), admins=(ADMIN,))
    staff = Staff(service, config)
    staff.add_manager("North", MANAGER, "Alex")
    staff.add_manager("South", SOUTH_MANAGER, "Jo")
    async for running in _running(fake, service, monkeypatch, config):
        yield running


def _family(
    service: Conversations, clock: FakeClock, user: str, team: str = "North"
) -> tuple[ChatFamily, str]:
    """A family in a Slack DM who answered the tiny set, and their case's code."""
    worker = "Sam" if team == "North" else "Lee"
    with service.store.sessions.begin() as s:
        invite = make_invite(s, clock(), team=team, worker=worker)
        token, code = invite.token, invite.code
    fam = ChatFamily(service, dm_channel_id(user), platform="slack")
    fam.start(token)
    fam.tap("yes")
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    fam.say("skip")
    return fam, code


async def _answer(slack: Slack, user: str, contains: str) -> dict[str, Any]:
    return await slack.fake.async_wait_for_message(
        dm_channel_id(user), kind="ephemeral", contains=contains, timeout=15
    )


def _count(slack: Slack, model: type[Any]) -> int:
    with slack.service.store.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_manager_moves_a_case_and_every_mistake_is_explained(
    managed: Slack, clock: FakeClock
) -> None:
    slack = managed
    _, code = _family(slack.service, clock, "U0FAMILY01")

    await slack.command(f"reassign {code} <@{ROBIN}|robin>", user=MANAGER)
    done = await _answer(slack, MANAGER, "has moved")
    assert f"`{code}` has moved from Sam to Robin" in done["text"]
    with slack.service.store.sessions() as s:
        [change] = s.scalars(select(CaseChange)).all()
        robin = next(w for w, _ in repo.list_workers(s) if w.name == "Robin")
        assert change.to_worker_id == robin.id and change.actor == f"slack:{MANAGER}"
        assert s.scalar(select(Invite.worker_id).where(Invite.code == code)) == robin.id

    with slack.service.store.sessions.begin() as s:
        closed = make_invite(s, clock(), team="North", worker="Sam")
        closed.closed_at = clock()
        closed_code = closed.code
    for user, text, says in (
        (MANAGER, f"reassign ZZZZ-9999 <@{ROBIN}>", "No case with the code ZZZZ-9999"),
        (MANAGER, f"reassign {closed_code} <@{ROBIN}>", "is closed"),
        (MANAGER, f"reassign {code} <@U0NOBODY01>", "is not registered as a worker"),
        (MANAGER, f"reassign {code} <@{LEE}|lee>", "not a manager of South"),
        (SOUTH_MANAGER, f"reassign {code} <@{LEE}>", "You are not a manager of North"),
        ("U0STRANGER", f"reassign {code} @Sam", "You are not a manager of North"),
        (MANAGER, f"reassign {code} @Robin", "already Robin's"),
    ):
        await slack.command(text, user=user)
        reply = await _answer(slack, user, says)
        assert reply["text"].startswith("Nothing was changed: ")
        assert "reassign CODE @new-worker" in reply["text"]
    status, usage = await slack.command(f"reassign {code}", user=MANAGER)
    assert status == 200 and "Write it like this" in usage

    await slack.command(f"reassign {code} @Sam", user=ADMIN)
    await _answer(slack, ADMIN, "from Robin to Sam")
    await slack.settle()
    assert _count(slack, CaseChange) == 2


async def test_you_said_is_previewed_then_sent_once_to_the_right_families(
    managed: Slack, clock: FakeClock
) -> None:
    slack = managed
    reached = ["U0FAMILY01", "U0FAMILY02"]
    for user in reached:
        _family(slack.service, clock, user)
    _family(slack.service, clock, "U0FAMILY03")[0].say("stop")
    _family(slack.service, clock, "U0FAMILY04", team="South")

    await slack.command(f'yousaid "{TEXT}"', user=MANAGER)
    preview = await _answer(slack, MANAGER, "This goes to the families of *North*")
    assert "(2)" in preview["text"] and TEXT in preview["text"]
    assert _count(slack, YouSaid) == 0 and _you_said_rows(slack) == 0
    send, cancel = _buttons(preview)
    assert json.loads(send["value"].partition(":send:")[2])["team"] == "North"

    await _press(slack, MANAGER, preview, cancel)
    await _answer(slack, MANAGER, "Nothing was sent.")
    await _press(slack, MANAGER, preview, send)
    await _answer(slack, MANAGER, "Sent to 2 families of North")
    await _press(slack, MANAGER, preview, send)  # a second press sends nothing more
    await _answer(slack, MANAGER, "was sent already")

    for user in reached:
        await slack.fake.async_wait_for_message(dm_channel_id(user), contains=TEXT, timeout=20)
    await slack.settle()
    for user in ("U0FAMILY03", "U0FAMILY04"):
        assert not [m for m in slack.fake.messages(dm_channel_id(user)) if TEXT in m["text"]]
    for user in reached:
        assert len([m for m in slack.fake.messages(dm_channel_id(user)) if TEXT in m["text"]]) == 1
    with slack.service.store.sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "yousaid")).all()
        assert sorted(r.address for r in rows) == sorted(dm_channel_id(u) for u in reached)
        [said] = s.scalars(select(YouSaid)).all()
        assert (said.families, said.actor) == (2, f"slack:{MANAGER}")

    # Someone else pressing the same button is refused, and sends nothing.
    await _press(slack, SOUTH_MANAGER, {**preview, "channel": dm_channel_id(SOUTH_MANAGER)}, send)
    await _answer(slack, SOUTH_MANAGER, "You are not a manager of North")
    assert _count(slack, YouSaid) == 1

    # The next month, the team's report lists what changed.
    clock.now = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    await slack.command("report 2026-03", user=MANAGER)
    report = await _answer(slack, MANAGER, "What families said: North, 2026-03")
    shown = json.dumps(report["blocks"], ensure_ascii=False)
    assert "You said, we did" in shown and f"2026-03-02 · North: {TEXT}" in shown
    await slack.settle()


async def test_you_said_mistakes_get_one_private_answer_and_nothing_is_sent(
    managed: Slack, clock: FakeClock
) -> None:
    slack = managed
    _family(slack.service, clock, "U0FAMILY01")
    for user, text, says in (
        (MANAGER, f'yousaid "{"x" * 301}"', "301 characters"),
        (MANAGER, 'yousaid "We changed the statutory threshold."', "jargon"),
        (MANAGER, f'yousaid Nowhere "{TEXT}"', "No team called 'Nowhere'"),
        (SOUTH_MANAGER, f'yousaid North "{TEXT}"', "You are not a manager of North"),
        ("U0STRANGER", f'yousaid "{TEXT}"', "Only a team's managers and administrators"),
        (ADMIN, f'yousaid "{TEXT}"', "Name the team first"),
    ):
        await slack.command(text, user=user)
        reply = await _answer(slack, user, says)
        assert reply["text"].startswith("Nothing was sent: ") and not _buttons(reply)
    assert _you_said_rows(slack) == 0
    status, usage = await slack.command("yousaid North no quotes", user=MANAGER)
    assert status == 200 and "Write it like this" in usage

    await slack.command(f'yousaid "{TEXT}"', user=MANAGER)
    preview = await _answer(slack, MANAGER, "This goes to the families of *North*")
    clock.advance(timedelta(hours=2))
    await _press(slack, MANAGER, preview, _buttons(preview)[0])
    await _answer(slack, MANAGER, "more than an hour old")
    forged = {**_buttons(preview)[0], "value": "heard_yousaid:send:{not json"}
    await _press(slack, MANAGER, preview, forged)
    await _answer(slack, MANAGER, "is not one Heard made")
    assert _you_said_rows(slack) == 0

    await slack.command(f'yousaid South "{TEXT}"', user=SOUTH_MANAGER)
    nobody = await _answer(slack, SOUTH_MANAGER, "No family of South can get this now")
    assert not _buttons(nobody)
    await slack.settle()
    assert _count(slack, YouSaid) == 0


def _you_said_rows(slack: Slack) -> int:
    with slack.service.store.sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "yousaid")
            )
            or 0
        )


async def _press(slack: Slack, user: str, message: dict[str, Any], button: dict[str, Any]) -> None:
    body = block_actions_body(
        user_id=user,
        channel_id=message["channel"],
        action_id=button["action_id"],
        value=button["value"],
        message_ts=message["ts"],
        is_ephemeral=True,
    )
    status, _ = await slack.post(body)
    assert status == 200
