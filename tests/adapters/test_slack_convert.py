"""The pure Slack converters and the slash command parser, on captured-style
payloads: no network, no database."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.commands import Action, Command, parse
from adapters.slack.convert import (
    BUTTON_TEXT_LIMIT,
    answered,
    plain_text,
    pressed_label,
    render,
    render_text,
    split_text,
    to_inbound,
)
from bot.core import texts
from bot.core.messages import Choice, InboundKind, Outbound
from tests.fakes.slack_api import block_actions_body, bot_message_event, dm_message_event

SELF = "U0BOT"


def envelope(event: dict[str, Any], event_id: str = "Ev01") -> dict[str, Any]:
    return {"type": "event_callback", "event_id": event_id, "event": event}


def interaction(form: str) -> dict[str, Any]:
    from urllib.parse import parse_qs

    payload: dict[str, Any] = json.loads(parse_qs(form)["payload"][0])
    return payload


# -- to_inbound: direct messages -----------------------------------------------------


def test_a_dm_is_text_keyed_by_event_id() -> None:
    inbound = to_inbound(envelope(dm_message_event("U1", "D1", "ABCD-3467"), "Ev9"))
    assert inbound is not None
    assert (inbound.platform, inbound.chat_id, inbound.message_key) == ("slack", "D1", "Ev9")
    assert (inbound.kind, inbound.text) == (InboundKind.TEXT, "ABCD-3467")


def test_slack_encoding_is_undone() -> None:
    event = dm_message_event(
        "U1", "D1", "a &lt;b&gt; &amp; <https://x.org|her note> <mailto:a@b.c>"
    )
    inbound = to_inbound(envelope(event))
    assert inbound is not None and inbound.text == "a <b> & her note a@b.c"
    assert plain_text("<https://example.org>") == "https://example.org"


@pytest.mark.parametrize(
    "event",
    [
        bot_message_event("D1", "a question"),
        {**dm_message_event(SELF, "D1", "hi")},
        {**dm_message_event("U1", "D1", "hi"), "subtype": "bot_message"},
        {**dm_message_event("U1", "D1", "hi"), "subtype": "message_deleted"},
        {**dm_message_event("U1", "D1", "hi"), "subtype": "channel_join"},
        {**dm_message_event("U1", "C1", "hi"), "channel_type": "channel"},
        {**dm_message_event("U1", "D1", "hi"), "type": "app_mention"},
    ],
    ids=["bot", "self", "bot_message", "deleted", "join", "channel", "other-event"],
)
def test_what_is_not_a_family_writing_is_ignored(event: dict[str, Any]) -> None:
    assert to_inbound(envelope(event), self_user_id=SELF) is None


def test_an_edit_is_unsupported_but_an_unfurl_or_our_own_edit_is_ignored() -> None:
    def changed(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "message",
            "subtype": "message_changed",
            "channel_type": "im",
            "channel": "D1",
            "message": new,
            "previous_message": old,
        }

    edit = to_inbound(
        envelope(changed({"user": "U1", "text": "yes"}, {"user": "U1", "text": "ye"}))
    )
    assert edit is not None
    assert (edit.kind, edit.unsupported_what) == (InboundKind.UNSUPPORTED, "edited message")
    unfurl = changed({"user": "U1", "text": "see x.org"}, {"user": "U1", "text": "see x.org"})
    assert to_inbound(envelope(unfurl)) is None
    ours = changed({"bot_id": "B1", "text": "✓ Yes"}, {"bot_id": "B1", "text": "Q"})
    assert to_inbound(envelope(ours)) is None


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        ({"subtype": "file_share", "files": [{"id": "F1"}]}, "file"),
        ({"files": [{"id": "F1"}]}, "file"),
        ({"text": "   "}, "message without text"),
    ],
)
def test_files_and_empty_messages_are_unsupported(extra: dict[str, Any], what: str) -> None:
    inbound = to_inbound(envelope({**dm_message_event("U1", "D1", "x"), **extra}))
    assert inbound is not None
    assert (inbound.kind, inbound.unsupported_what) == (InboundKind.UNSUPPORTED, what)


# -- to_inbound: button presses ---------------------------------------------------------


def test_a_press_is_a_button_with_a_stable_key() -> None:
    body = interaction(
        block_actions_body(
            user_id="U1",
            channel_id="D1",
            action_id="heard_choice_3",
            value="q1.2:4",
            message_ts="1700.0001",
        )
    )
    inbound = to_inbound(body)
    assert inbound is not None
    assert (inbound.kind, inbound.chat_id, inbound.data) == (InboundKind.BUTTON, "D1", "q1.2:4")
    assert inbound.message_key == f"action:1700.0001:{body['actions'][0]['action_ts']}"
    assert to_inbound(body) == inbound


def test_other_buttons_are_not_the_family_conversation() -> None:
    body = interaction(
        block_actions_body(
            user_id="U1", channel_id="C1", action_id="heard_alert_ack", value="a", message_ts="1"
        )
    )
    assert to_inbound(body) is None
    assert to_inbound({"type": "view_submission"}) is None


# -- render -------------------------------------------------------------------------


def test_render_puts_text_in_sections_and_choices_in_buttons() -> None:
    out = Outbound(
        "slack",
        "D1",
        "(1 of 4) Does your worker tell you <the truth>?",
        (Choice("q1.0:1", "😞 Never"), Choice("q1.0:skip", "Skip")),
    )
    payload = render(out)
    assert payload["text"] == "(1 of 4) Does your worker tell you &lt;the truth&gt;?"
    section, actions = payload["blocks"]
    assert section["text"] == {"type": "plain_text", "text": out.text, "emoji": True}
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in actions["elements"]] == [
        ("heard_choice_0", "q1.0:1", "😞 Never"),
        ("heard_choice_1", "q1.0:skip", "Skip"),
    ]


def test_render_keeps_within_block_kit_limits() -> None:
    choices = tuple(Choice(f"lang:{n}", "L" * 100) for n in range(30))
    payload = render(Outbound("slack", "D1", "x" * 7000, choices))
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds == ["section"] * 3 + ["actions"] * 2
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"][:3])
    first, second = payload["blocks"][3:]
    assert len(first["elements"]) == 25 and len(second["elements"]) == 5
    ids = [e["action_id"] for block in (first, second) for e in block["elements"]]
    assert len(set(ids)) == 30
    assert all(len(e["text"]["text"]) <= BUTTON_TEXT_LIMIT for e in first["elements"])


def test_render_never_exceeds_fifty_blocks() -> None:
    payload = render_text("y" * 200_000)
    assert len(payload["blocks"]) == 50
    assert len(payload["text"]) <= 40_000


def test_split_text_prefers_line_breaks_then_spaces() -> None:
    assert split_text("ab\ncd", 5) == ["ab\ncd"]
    assert split_text("ab\ncd\nef", 5) == ["ab\ncd", "ef"]
    assert split_text("one two three", 8) == ["one two", "three"]
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]


# -- after a press ----------------------------------------------------------------------


def test_answered_shows_the_choice_and_drops_the_buttons() -> None:
    out = Outbound("slack", "D1", "Is it OK?", (Choice("c1:yes", "Yes, let's start"),))
    message = {"type": "message", "ts": "1.1", **render(out)}
    action = {"action_id": "heard_choice_0", "value": "c1:yes", "text": {"text": "c1:yes"}}
    label = pressed_label(message, action)
    assert label == "Yes, let's start"
    update = answered(message, label)
    assert update["text"] == "Is it OK?"
    assert [b["type"] for b in update["blocks"]] == ["section", "context"]
    assert update["blocks"][-1]["elements"][0]["text"] == "✓ Yes, let's start"


# -- /heard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command(Action.HELP)),
        ("help", Command(Action.HELP)),
        ("REPORT north", Command(Action.REPORT, team="north")),
        ("report", Command(Action.REPORT)),
        (
            "report North Family Support 2026-Q4 csv",
            Command(Action.REPORT, team="North Family Support", period="2026-Q4", want_csv=True),
        ),
        ("report 2026-11", Command(Action.REPORT, period="2026-11")),
        ("invite", Command(Action.INVITE)),
        ("invite young", Command(Action.INVITE, set_id="young")),
        ("invite cy", Command(Action.INVITE, locale="cy")),
        ("Invite Young Cymraeg", Command(Action.INVITE, set_id="young", locale="cy")),
        ("invite teens", Command(Action.HELP, unknown="teens")),
        ("invitation", Command(Action.HELP, unknown="invitation")),
        (
            "reassign ABCD-2345 <@U0ROBIN01|robin>",
            Command(Action.REASSIGN, code="ABCD-2345", worker="U0ROBIN01"),
        ),
        (
            "reassign abcd-2345 <@W0ROBIN01>",
            Command(Action.REASSIGN, code="abcd-2345", worker="W0ROBIN01"),
        ),
        (
            "reassign ABCD-2345 @Robin Lee",
            Command(Action.REASSIGN, code="ABCD-2345", worker="Robin Lee"),
        ),
        ("reassign ABCD-2345", Command(Action.REASSIGN_USAGE)),
        (
            'yousaid North Family Support "We changed it."',
            Command(Action.YOU_SAID, team="North Family Support", words="We changed it."),
        ),
        ("yousaid “We changed it.”", Command(Action.YOU_SAID, words="We changed it.")),
        ("yousaid We changed it.", Command(Action.YOU_SAID_USAGE)),
    ],
)
def test_parse_the_slash_command(text: str, expected: Command) -> None:
    assert parse(text, set_ids=("adult", "young"), texts=texts.load()) == expected


# -- the app manifest ---------------------------------------------------------------------


def test_the_manifest_asks_for_what_the_adapter_uses() -> None:
    manifest = (Path(__file__).parents[2] / "slack-manifest.yml").read_text(encoding="utf-8")
    scopes = re.search(r"bot:\n((?:\s+(?:#.*|- \S+)\n)+)", manifest)
    assert scopes is not None
    granted = set(re.findall(r"- (\S+)", scopes.group(1)))
    assert granted == {"chat:write", "im:history", "im:write", "commands", "files:write"}
    assert re.search(r"bot_events:\n\s+- message\.im\n", manifest)
    assert re.search(r"interactivity:\n(?:\s+#.*\n)*\s+is_enabled: true", manifest)
    assert "- command: /heard\n" in manifest
    assert "messages_tab_enabled: true" in manifest
