"""Digests on Slack, through real Bolt and slack_sdk against the fake Web API:
a worker with 7 families gets the figures of their `heard report` and the
chart uploaded privately to their DM; one with 3 gets only the kind "not
enough yet"; a manager releases, withholds and edits comments with buttons and
a modal, and only released ones reach the digest; each digest goes once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Config, DigestsConfig
from bot.runtime.digests import DigestRunner
from bot.service.staff import cli_viewer
from storage.models import Digest
from tests.adapters.test_slack_channel import MakeService, Slack, _running, fake, slack_config
from tests.conftest import FakeClock
from tests.digests_seed import ANA_SLACK, MANAGER, NOW, SAM_SLACK, seed_team
from tests.fakes.slack_api import FakeSlack, block_actions_body, dm_channel_id, view_submission_body
from tests.helpers import app_of

__all__ = ["fake"]


@pytest.fixture
async def slack(
    fake: FakeSlack, make_service: MakeService, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> AsyncIterator[Slack]:
    clock.now = NOW
    service = make_service()
    seed_team(service.store.engine)
    config: Config = replace(slack_config(fake), digests=DigestsConfig(comments="moderated"))
    async for running in _running(fake, service, monkeypatch, config):
        yield running


def _runner(slack: Slack) -> DigestRunner:
    assert slack.runtime is not None
    return DigestRunner(slack.runtime.app, {"slack": slack.channel}, owner="test")


def _dm_texts(fake: FakeSlack, user: str) -> list[str]:
    return [
        m["text"] + json.dumps(m["blocks"] or [])
        for m in fake.messages(dm_channel_id(user), kind="message")
    ]


def _statuses(slack: Slack) -> dict[str, str]:
    with slack.service.store.sessions() as s:
        return {d.key: d.status for d in s.scalars(select(Digest))}


async def test_seven_families_get_figures_and_a_chart_three_get_the_kind_message(
    slack: Slack,
) -> None:
    runner = _runner(slack)
    results = await runner.tick()
    assert sorted((r.who, r.status) for r in results) == [
        ("Ana Lewis", "sent"),
        ("Bo Evans", "skipped"),
        ("Sam Jones", "sent"),
        ("a manager", "sent"),
    ]
    assert slack.runtime is not None
    report = slack.runtime.app.staff.reports.report(
        cli_viewer(), worker="Sam Jones", period="2026-11"
    )
    (sam,) = [t for t in _dm_texts(slack.fake, SAM_SLACK) if "What families said" in t]
    assert "7 families answered" in sam
    for row in report.summary():
        if row.question is None and row.mean is not None and row.dimension != "continuity":
            assert f"{row.mean:.1f} out of 5" in sam
    uploads = [u for u in slack.fake.uploads if u["completed"]]
    sam_chart = [u for u in uploads if u["channel"] == dm_channel_id(SAM_SLACK)]
    assert len(sam_chart) == 1 and sam_chart[0]["is_png"]
    (ana,) = _dm_texts(slack.fake, ANA_SLACK)
    assert "(3 so far, 5 needed)" in ana
    assert "out of 5" not in ana and "Ana is kind" not in ana and "own words" not in ana
    assert not [u for u in uploads if u["channel"] == dm_channel_id(ANA_SLACK)]
    summary = [t for t in _dm_texts(slack.fake, MANAGER) if "What families said: North" in t]
    assert len(summary) == 1
    team = slack.runtime.app.staff.reports.report(cli_viewer(), team="North", period="2026-11")
    assert f"Based on {team.families()} families" in summary[0]
    for row in team.summary():
        if row.question is None and row.mean is not None and row.dimension != "continuity":
            assert f"{row.mean:.1f} out of 5" in summary[0]
    assert [u for u in uploads if u["channel"] == dm_channel_id(MANAGER)]
    # again, and after a restart of the runner: nothing more goes out
    before = len(slack.fake.messages(kind="message"))
    assert await runner.tick() == []
    assert await _runner(slack).tick() == []
    assert len(slack.fake.messages(kind="message")) == before
    assert set(_statuses(slack).values()) == {"sent", "skipped"}


async def test_a_chart_that_will_not_upload_leaves_the_text_digest(slack: Slack) -> None:
    slack.fake.fail_next(
        "files.getUploadURLExternal", status=400, error="invalid_arguments", count=5
    )
    await _runner(slack).tick()
    texts = _dm_texts(slack.fake, SAM_SLACK)
    assert any("7 families answered" in t for t in texts)
    assert any("could not be attached" in t for t in texts)
    assert _statuses(slack)["worker:1:2026-11"] == "sent"


def _reviews(fake: FakeSlack) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.messages(dm_channel_id(MANAGER), kind="message")
        if any(b.get("type") == "actions" for b in m["blocks"] or [])
    ]


async def _press(slack: Slack, message: dict[str, Any], action: str, user: str = MANAGER) -> None:
    (button,) = [
        e
        for b in message["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"].endswith(action)
    ]
    body = block_actions_body(
        user_id=user,
        channel_id=message["channel"],
        action_id=button["action_id"],
        value=button["value"],
        message_ts=message["ts"],
        message={
            "type": "message",
            "ts": message["ts"],
            "text": message["text"],
            "blocks": message["blocks"],
        },
    )
    status, _ = await slack.post(body)
    assert status == 200
    await slack.settle()


async def test_managers_release_withhold_and_edit_and_only_released_comments_are_sent(
    slack: Slack,
) -> None:
    runner = _runner(slack)
    digests = runner.digests
    await runner._db(digests.collect)
    assert await runner.offer_reviews() == 6
    reviews = _reviews(slack.fake)
    assert len(reviews) == 6
    shown = " ".join(m["text"] for m in reviews)
    assert "scared" not in shown, "a comment that raised an alert is never shown"
    assert "07700" not in shown and "Jayden" not in shown and "Aberystwyth" not in shown

    def find(words: str) -> dict[str, Any]:
        return next(m for m in reviews if words in m["text"])

    await _press(slack, find("early in the morning"), "release", user=ANA_SLACK)
    assert slack.fake.messages(dm_channel_id(MANAGER), kind="update") == []
    await _press(slack, find("early in the morning"), "release")
    await _press(slack, find("[phone]"), "withhold")
    await _press(slack, find("plan for the children"), "release")
    await _press(slack, find("is kind"), "release")
    await _press(slack, find("rings back"), "edit")
    (opened,) = slack.fake.views
    view = opened["view"]
    assert view["callback_id"] == "digest-review-edit"
    body = view_submission_body(
        user_id=MANAGER,
        callback_id=view["callback_id"],
        private_metadata=view["private_metadata"],
        values={
            "comment": {
                "text": {"type": "plain_text_input", "value": "Sam Jones rings back, thanks."}
            }
        },
    )
    status, _ = await slack.post(body)
    assert status == 200
    await slack.settle()
    updates = slack.fake.messages(dm_channel_id(MANAGER), kind="update")
    notes = " ".join(json.dumps(u["blocks"]) for u in updates)
    assert (
        notes.count("Released by") == 3
        and "Withheld by" in notes
        and "Edited and released" in notes
    )
    assert "[name] rings back, thanks." in notes

    await runner.tick()
    (sam,) = [t for t in _dm_texts(slack.fake, SAM_SLACK) if "What families said" in t]
    assert "early in the morning" in sam and "[name] rings back, thanks." in sam
    assert "plan for the children" in sam and "What families think happens next" in sam
    assert "[phone]" not in sam and "daughter" not in sam and "scared" not in sam
    (ana,) = _dm_texts(slack.fake, ANA_SLACK)
    assert "is kind" not in ana, "never under k, even when released"


async def test_workers_see_their_latest_digest_and_turn_them_off_and_on(slack: Slack) -> None:
    await _runner(slack).tick()
    sent = len(_dm_texts(slack.fake, SAM_SLACK))
    status, _ = await slack.command("digest", user=SAM_SLACK)
    assert status == 200
    await slack.settle()
    texts = _dm_texts(slack.fake, SAM_SLACK)
    assert len(texts) == sent + 1 and "7 families answered" in texts[-1]
    await slack.command("digest off", user=SAM_SLACK)
    await slack.settle()
    (said,) = slack.fake.messages(dm_channel_id(SAM_SLACK), kind="ephemeral")[-1:]
    assert "off" in said["text"]
    with slack.service.store.sessions() as s:
        from storage.models import Worker

        assert s.get(Worker, 1).digests_off is True  # type: ignore[union-attr]
    await slack.command("digest on", user=SAM_SLACK)
    await slack.settle()
    with slack.service.store.sessions() as s:
        from storage.models import Worker

        assert s.get(Worker, 1).digests_off is False  # type: ignore[union-attr]
    status, _ = await slack.command("digest", user="U0NOTWORKR")
    await slack.settle()
    (refusal,) = slack.fake.messages(dm_channel_id("U0NOTWORKR"), kind="ephemeral")
    assert "registered" in refusal["text"]


async def test_two_instances_and_a_restart_send_each_digest_once(
    slack: Slack, make_service: MakeService, clock: FakeClock
) -> None:
    assert slack.runtime is not None
    app = slack.runtime.app
    second = app_of(make_service(), app.config)
    a = DigestRunner(app, {"slack": slack.channel}, owner="process-a")
    b = DigestRunner(second, {"slack": slack.channel}, owner="process-b")
    # process-a plans and claims, then dies before sending anything
    await a._db(a.digests.plan)
    claimed = await a._db(a.digests.claim, "process-a", app.config.schedule.lease)
    assert len(claimed) == 4
    assert await b.tick() == [], "claims of a live process are left alone"
    clock.advance(app.config.schedule.lease + timedelta(seconds=1))
    results = await asyncio.gather(a.tick(), b.tick(), _runner(slack).tick())
    done = sorted((r.who, r.status) for batch in results for r in batch)
    assert done == [
        ("Ana Lewis", "sent"),
        ("Bo Evans", "skipped"),
        ("Sam Jones", "sent"),
        ("a manager", "sent"),
    ]
    for user in (SAM_SLACK, ANA_SLACK):
        digests = [t for t in _dm_texts(slack.fake, user) if "What families said" in t]
        assert len(digests) == 1
    assert [t for t in _dm_texts(slack.fake, MANAGER) if "What families said: North" in t]
    assert len([t for t in _dm_texts(slack.fake, MANAGER) if "What families said: North" in t]) == 1
