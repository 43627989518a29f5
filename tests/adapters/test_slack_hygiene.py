"""Slack requests Heard must not trust: an unsigned or malformed body is
refused before anything parses it, without a traceback, and a button in a
family's DM pressed by someone else is not their answer."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from storage.models import Answer
from tests.adapters import test_slack_channel as base
from tests.adapters.test_slack_channel import Slack, _invite_code, _processed
from tests.conftest import FakeClock

STRANGER = "U0STRANGR9"
fake = base.fake
slack = base.slack


async def test_an_unsigned_huge_malformed_body_is_refused_with_401_and_no_traceback(
    slack: Slack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    junk = "[" * (1024 * 1024 - 64)
    status, _ = await slack.post(junk, bad_signature=True)
    assert status == 401
    status, _ = await slack.post(junk, bad_signature=True, content_type="application/json")
    assert status == 401
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert _processed(slack.service) == 0


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("[[[[", "application/json"),
        ("{not json", "application/x-www-form-urlencoded"),
        ("[1, 2]", "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
        ("payload=%5B%5D", "application/x-www-form-urlencoded"),
    ],
)
async def test_a_signed_body_that_is_not_a_slack_request_gets_400_and_no_traceback(
    slack: Slack, caplog: pytest.LogCaptureFixture, body: str, content_type: str
) -> None:
    caplog.set_level(logging.DEBUG)
    status, _ = await slack.post(body, content_type=content_type)
    assert status == 400
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def test_a_button_pressed_by_someone_else_in_a_familys_dm_is_ignored(
    slack: Slack, clock: FakeClock
) -> None:
    code = _invite_code(slack.service, clock)
    assert await slack.write(code) == 200
    consent = await slack.next_message()
    assert await slack.tap(consent, "yes") == 200
    first = await slack.next_message()

    assert await slack.tap(first, "4", user=STRANGER) == 200
    await asyncio.sleep(0.2)
    await slack.settle()
    with slack.service.store.sessions() as s:
        assert s.scalars(select(Answer)).all() == []

    assert await slack.tap(first, "4") == 200
    second = await slack.next_message()
    assert "(2 of 4)" in second["text"]
    with slack.service.store.sessions() as s:
        assert [a.code for a in s.scalars(select(Answer))] == ["4"]
