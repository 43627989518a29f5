"""Arbitrary JSON into every inbound converter and both HTTP endpoints: no
crash, and no 500 for a request that is properly signed (Slack) or carries
the webhook secret (Telegram). `test_service_fuzz.py` covers what comes after
the converters (random conversations with redeliveries); this covers the edge.

The endpoint tests draw their bodies with hypothesis first and then post them
to one running Heard (a server per example would take minutes), so a failure
there is reported with the body that caused it, unshrunk."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from adapters.slack.convert import parse_body
from adapters.slack.convert import to_inbound as slack_inbound
from adapters.telegram.convert import to_inbound as telegram_inbound
from bot.core.messages import Inbound
from tests.adapters import test_slack_channel as slack_base
from tests.adapters.telegram_harness import WEBHOOK_SECRET, Heard, free_port
from tests.adapters.test_slack_channel import Slack
from tests.fakes.telegram_api import FakeTelegram

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BODIES = 150
"""Bodies posted to each HTTP endpoint."""

fake = slack_base.fake
slack = slack_base.slack

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
any_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _maybe(likely: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly what the field should hold, sometimes anything at all."""
    return st.one_of(likely, likely, any_json)


slack_event = st.fixed_dictionaries(
    {},
    optional={
        "type": _maybe(st.just("message")),
        "channel_type": _maybe(st.sampled_from(["im", "channel"])),
        "channel": _maybe(st.sampled_from(["D0FUZZ0001", ""])),
        "user": _maybe(st.sampled_from(["U0FUZZ0001", ""])),
        "text": any_json,
        "subtype": _maybe(st.sampled_from(["message_changed", "file_share", "bot_message"])),
        "bot_id": any_json,
        "files": any_json,
        "message": any_json,
        "previous_message": any_json,
        "ts": any_json,
    },
)
slack_action = st.fixed_dictionaries(
    {},
    optional={
        "action_id": _maybe(st.sampled_from(["heard_choice_0", "heard_ack", "other"])),
        "value": _maybe(st.sampled_from(["q1.0:3", "c1:yes", "ack:1"])),
        "action_ts": any_json,
        "type": any_json,
    },
)
slack_bodies = st.one_of(
    any_json,
    st.fixed_dictionaries(
        {"type": _maybe(st.just("event_callback"))},
        optional={
            "event_id": _maybe(st.text(min_size=1, max_size=12)),
            "event": _maybe(slack_event),
            "team_id": any_json,
            "authorizations": any_json,
        },
    ),
    st.fixed_dictionaries(
        {"type": _maybe(st.just("block_actions"))},
        optional={
            "actions": _maybe(st.lists(_maybe(slack_action), max_size=2)),
            "container": _maybe(
                st.fixed_dictionaries(
                    {},
                    optional={"channel_id": any_json, "message_ts": any_json},
                )
            ),
            "channel": any_json,
            "user": _maybe(st.fixed_dictionaries({"id": _maybe(st.just("U0FUZZ0001"))})),
            "trigger_id": any_json,
            "message": any_json,
        },
    ),
)

telegram_chat = st.fixed_dictionaries(
    {
        "id": _maybe(st.integers(min_value=-(10**13), max_value=10**13)),
        "type": _maybe(st.sampled_from(["private", "group", "supergroup", "channel"])),
    },
    optional={"first_name": any_json},
)
telegram_user = st.fixed_dictionaries(
    {
        "id": _maybe(st.integers(min_value=1, max_value=10**12)),
        "is_bot": _maybe(st.booleans()),
        "first_name": _maybe(st.text(max_size=10)),
    },
    optional={"language_code": any_json},
)
telegram_message = st.fixed_dictionaries(
    {
        "message_id": _maybe(st.integers(min_value=1, max_value=10**6)),
        "date": _maybe(st.integers(min_value=0, max_value=2**31)),
        "chat": _maybe(telegram_chat),
    },
    optional={
        "from": _maybe(telegram_user),
        "text": _maybe(st.text(max_size=40)),
        "caption": any_json,
        "sticker": any_json,
        "entities": any_json,
    },
)
telegram_updates = st.one_of(
    any_json,
    st.fixed_dictionaries(
        {"update_id": _maybe(st.integers(min_value=1, max_value=2**31))},
        optional={
            "message": _maybe(telegram_message),
            "edited_message": _maybe(telegram_message),
            "callback_query": _maybe(
                st.fixed_dictionaries(
                    {
                        "id": _maybe(st.text(min_size=1, max_size=8)),
                        "from": _maybe(telegram_user),
                        "chat_instance": _maybe(st.text(max_size=8)),
                    },
                    optional={"data": any_json, "message": _maybe(telegram_message)},
                )
            ),
        },
    ),
)


# -- the pure converters ------------------------------------------------------------------


@FAST
@given(slack_bodies)
def test_the_slack_converter_takes_any_json(body: Any) -> None:
    if not isinstance(body, dict):
        return
    result = slack_inbound(body, self_user_id="U0HEARD")
    assert result is None or isinstance(result, Inbound)


@FAST
@given(st.one_of(slack_bodies.map(json.dumps), st.text(max_size=200)), st.booleans())
def test_the_slack_body_parser_takes_any_text(body: str, as_json: bool) -> None:
    parsed = parse_body(
        body, "application/json" if as_json else "application/x-www-form-urlencoded"
    )
    assert parsed is None or isinstance(parsed, dict)


def _update(payload: Any) -> Update | None:
    """What python-telegram-bot makes of the JSON (None when it refuses it,
    as the webhook does with a 400)."""
    if not isinstance(payload, dict):
        return None
    try:
        return Update.de_json(payload, None)
    except Exception:
        return None


@FAST
@given(telegram_updates)
def test_the_telegram_converter_takes_any_update_the_library_accepts(payload: Any) -> None:
    update = _update(payload)
    if update is None:
        return
    result = telegram_inbound(update)
    assert result is None or isinstance(result, Inbound)


# -- the HTTP endpoints -------------------------------------------------------------------


def _draw(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` values from hypothesis (with its edge cases), for posting."""
    drawn: list[Any] = []

    @settings(max_examples=count, deadline=None, database=None)
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as f:
        yield f


async def test_the_telegram_webhook_never_answers_500_to_a_request_with_the_secret(
    db_url: str, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    bodies = _draw(telegram_updates, BODIES)
    statuses: dict[int, int] = {}
    async with (
        Heard(db_url, tg, mode="webhook", webhook_url=url, port=port),
        aiohttp.ClientSession() as session,
    ):
        for body in bodies:
            async with session.post(
                url,
                data=json.dumps(body),
                headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
                },
            ) as resp:
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                assert resp.status != 500, body
    assert set(statuses) <= {200, 400}, statuses
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_the_slack_endpoint_never_answers_500_to_a_signed_request(
    slack: Slack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bodies = _draw(slack_bodies, BODIES)
    statuses: dict[int, int] = {}
    for body in bodies:
        text = json.dumps(body)
        status, _ = await slack.post(text, content_type="application/json")
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, body
    await slack.settle()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
