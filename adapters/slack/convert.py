"""Pure converters between Slack payloads and Heard's messages.

`to_inbound` turns what Slack sends (an Events API envelope for a DM, or a
`block_actions` interaction) into an `Inbound`, or None when it is nothing a
family did. `render` turns an `Outbound` into the `text` + `blocks` arguments
of `chat.postMessage`, within Slack's Block Kit limits. `answered` rewrites a
message after a button press so it shows the choice and no longer offers
buttons. Nothing here does I/O, so captured payloads make complete tests.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from adapters.splitting import split_text
from bot.core.messages import Choice, Inbound, InboundKind, Outbound
from bot.core.texts import Texts

PLATFORM = "slack"
CHOICE_ACTION = "heard_choice_"
"""Prefix of the `action_id` of every answer button Heard renders."""

SECTION_TEXT_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ELEMENTS_PER_ACTIONS_BLOCK = 25
BLOCKS_PER_MESSAGE = 50
TEXT_LIMIT = 40000

_TEXT_SUBTYPES = (None, "thread_broadcast", "me_message")
"""Message subtypes that carry something a person typed."""

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def parse_body(body: str, content_type: str) -> dict[str, Any] | None:
    """The request body Slack sent, as Bolt will read it: JSON (Events API),
    a form (slash commands) or a form whose `payload` is JSON (interactions).
    None when it is none of these, or not an object, so the endpoint can
    answer 400 before Bolt (which would raise on it) sees it."""
    try:
        if content_type == "application/json" or body.startswith("{"):
            parsed: Any = json.loads(body)
        else:
            form = dict(parse_qsl(body, keep_blank_values=True))
            parsed = json.loads(form["payload"]) if "payload" in form else form
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


_OBJECT_FIELDS = ("user", "channel", "team", "enterprise", "container", "message", "view")
"""Fields Bolt reads ids from (`x` or `x.id`) before any listener runs."""
_ID_FIELDS = ("id", "channel_id", "team_id", "user_id", "enterprise_id", "message_ts")
_EVENT_TEXT_FIELDS = ("type", "subtype", "channel", "channel_type", "user", "team", "ts")
_ACTION_FIELDS = ("action_id", "block_id", "type", "value")


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _ids_are_text(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return _plain(value)
    return all(_plain(value.get(k)) for k in _ID_FIELDS)


def well_formed(body: Mapping[str, Any]) -> bool:
    """Whether Bolt can route `body`: the fields it reads before any of
    Heard's code runs have the types Slack sends (it raises, or answers 500,
    on others). A body that fails this is not a Slack request: 400."""
    if not _plain(body.get("type")) or not _plain(body.get("command")):
        return False
    if not all(_ids_are_text(body.get(k)) for k in _OBJECT_FIELDS):
        return False
    if "event" in body:
        event = body["event"]
        if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
            return False
        if not all(_plain(event.get(k)) for k in _EVENT_TEXT_FIELDS):
            return False
    if "actions" in body:
        actions = body["actions"]
        if not isinstance(actions, list) or not all(
            isinstance(a, Mapping) and all(_plain(a.get(k)) for k in _ACTION_FIELDS)
            for a in actions
        ):
            return False
        if not actions or not isinstance(actions[0].get("action_id"), str):
            return False
    elif body.get("type") == "block_actions":
        return False
    return True


def to_inbound(body: Mapping[str, Any], *, self_user_id: str = "") -> Inbound | None:
    """What a person did, from a Slack request body; None if it is not for Heard.

    Only direct messages count (`channel_type: "im"`): the family conversation
    never happens in a channel. Messages from any bot, joins, deletions and
    other housekeeping subtypes are None. An edited message or a file is
    UNSUPPORTED so the family hears what works. A button press is BUTTON only
    for Heard's own answer buttons (`heard_choice_<n>`).
    """
    kind = body.get("type")
    if kind == "event_callback":
        return _from_event(body, self_user_id)
    if kind == "block_actions":
        return _from_action(body)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is an object, else an empty one: a field of the wrong
    type in a payload is treated as missing, never raised on."""
    return value if isinstance(value, Mapping) else {}


def _from_bot(message: Mapping[str, Any], self_user_id: str) -> bool:
    return bool(
        message.get("bot_id")
        or message.get("subtype") == "bot_message"
        or (self_user_id and message.get("user") == self_user_id)
    )


def _from_event(body: Mapping[str, Any], self_user_id: str) -> Inbound | None:
    event = body.get("event")
    event_id = body.get("event_id")
    if not isinstance(event, Mapping) or not isinstance(event_id, str) or not event_id:
        return None
    channel = event.get("channel")
    if event.get("type") != "message" or event.get("channel_type") != "im":
        return None
    if not isinstance(channel, str) or not channel or _from_bot(event, self_user_id):
        return None

    def unsupported(what: str) -> Inbound:
        return Inbound(PLATFORM, channel, event_id, InboundKind.UNSUPPORTED, unsupported_what=what)

    subtype = event.get("subtype")
    if subtype == "message_changed":
        new = _mapping(event.get("message"))
        old = _mapping(event.get("previous_message"))
        # Slack also sends message_changed when it unfurls a link, and for our
        # own chat.update after a button press: neither is the person editing.
        if _from_bot(new, self_user_id) or new.get("text") == old.get("text"):
            return None
        return unsupported("edited message")
    if subtype == "file_share" or event.get("files"):
        return unsupported("file")
    if subtype not in _TEXT_SUBTYPES:
        return None
    raw_text = event.get("text")
    text = plain_text(raw_text if isinstance(raw_text, str) else "")
    if not text.strip():
        return unsupported("message without text")
    return Inbound(PLATFORM, channel, event_id, InboundKind.TEXT, text=text)


def _from_action(body: Mapping[str, Any]) -> Inbound | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return None
    action = actions[0]
    if not str(action.get("action_id", "")).startswith(CHOICE_ACTION):
        return None
    value = action.get("value")
    container = _mapping(body.get("container"))
    channel = container.get("channel_id") or _mapping(body.get("channel")).get("id")
    if not isinstance(value, str) or not value or not isinstance(channel, str) or not channel:
        return None
    press = action.get("action_ts") or body.get("trigger_id") or ""
    key = f"action:{container.get('message_ts', '')}:{press}"
    return Inbound(PLATFORM, channel, key, InboundKind.BUTTON, data=value)


def plain_text(text: str) -> str:
    """Slack's encoded message text as the person typed it: links unwrapped to
    their label (or address), and the three escaped characters restored."""

    def unwrap(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if label:
            return label
        return target.removeprefix("mailto:")

    text = _LINK.sub(unwrap, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape(text: str) -> str:
    """Escape the characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback(text: str) -> str:
    """The top-level `text` of a message: what Slack shows in notifications
    and where blocks cannot be shown. Escaped, and within Slack's limit."""
    return _clip(escape(text), TEXT_LIMIT)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _button(n: int, choice: Choice) -> dict[str, Any]:
    if len(choice.data) > BUTTON_VALUE_LIMIT:
        raise ValueError(f"button value over {BUTTON_VALUE_LIMIT} characters")
    return {
        "type": "button",
        "action_id": f"{CHOICE_ACTION}{n}",
        "text": {
            "type": "plain_text",
            "text": _clip(choice.label or choice.data, BUTTON_TEXT_LIMIT),
            "emoji": True,
        },
        "value": choice.data,
    }


def render_text(text: str, choices: Sequence[Choice] = ()) -> dict[str, Any]:
    """`chat.postMessage` arguments for `text` and optional answer buttons.

    The text goes into plain-text sections (no mrkdwn surprises from what a
    question set says), split to fit; buttons go into actions blocks of at
    most 25. `text` is the escaped fallback Slack shows in notifications.
    """
    groups = [
        choices[i : i + ELEMENTS_PER_ACTIONS_BLOCK]
        for i in range(0, len(choices), ELEMENTS_PER_ACTIONS_BLOCK)
    ]
    room = BLOCKS_PER_MESSAGE - len(groups)
    parts = split_text(text, SECTION_TEXT_LIMIT)
    if len(parts) > room:
        parts = [*parts[: room - 1], _clip(parts[room - 1], SECTION_TEXT_LIMIT - 1) + "…"]
    blocks: list[dict[str, Any]] = [_section(p) for p in parts]
    n = 0
    for g, group in enumerate(groups):
        elements = []
        for choice in group:
            elements.append(_button(n, choice))
            n += 1
        blocks.append({"type": "actions", "block_id": f"heard_choices_{g}", "elements": elements})
    text_only = fallback(text) if text.strip() else " / ".join(escape(c.label) for c in choices)
    return {"text": text_only, "blocks": blocks}


SLACK_WORDING = {"hidden": "slack_hidden"}
"""Replies whose general wording tells a family to do something Slack does
not offer (delete the whole chat), and the Slack wording said instead."""


def slack_wording(out: Outbound, texts: Texts) -> Outbound:
    """`out` with Slack's own wording where the general reply does not fit
    Slack, in the same language (the reply's text says which it is)."""
    for key, slack_key in SLACK_WORDING.items():
        for locale in texts.locales:
            if out.text == texts.get(locale, key):
                return dataclasses.replace(out, text=texts.get(locale, slack_key))
    return out


def render(out: Outbound) -> dict[str, Any]:
    """`chat.postMessage` arguments (`text`, `blocks`) for one `Outbound`.

    All buttons share one actions block, which Slack wraps to the screen, so
    `Outbound.columns` is not used."""
    return render_text(out.text, out.choices)


def pressed_label(message: Mapping[str, Any], action: Mapping[str, Any]) -> str:
    """The label of the button that was pressed, as Heard rendered it."""
    action_id = action.get("action_id")
    for block in message.get("blocks") or []:
        if not isinstance(block, Mapping) or block.get("type") != "actions":
            continue
        for element in block.get("elements") or []:
            if isinstance(element, Mapping) and element.get("action_id") == action_id:
                return str((element.get("text") or {}).get("text") or "")
    return str((action.get("text") or {}).get("text") or action.get("value") or "")


def answered(message: Mapping[str, Any], label: str) -> dict[str, Any]:
    """`chat.update` arguments for a message whose button was pressed: the same
    text, no buttons, and a line showing the choice. Taking the buttons away
    stops a second tap on an old question."""
    blocks: list[Any] = [
        b
        for b in message.get("blocks") or []
        if isinstance(b, Mapping) and b.get("type") != "actions"
    ]
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "plain_text",
                    "text": _clip(f"✓ {label}", SECTION_TEXT_LIMIT),
                    "emoji": True,
                }
            ],
        }
    )
    return {"text": str(message.get("text") or escape(label) or "✓"), "blocks": blocks}
