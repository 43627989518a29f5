"""Digests and comment reviews as Block Kit (pure).

A digest is a DM to the worker: a header, the figures, the comment sections
and a footnote with the base, then its chart uploaded privately to the same
DM. A comment for review goes to each of the team's managers with Release,
Withhold and Edit buttons; Edit opens a modal with the text to change.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.slack.convert import escape
from bot.service.ports import DigestMessage, ReviewRequest

REVIEW_PREFIX = "digest-review:"
"""Button values: "digest-review:<release|withhold|edit>:<comment id>"."""
EDIT_CALLBACK = "digest-review-edit"
EDIT_BLOCK = "comment"
EDIT_ACTION = "text"


def digest_message(message: DigestMessage) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "\n".join(escape(x) for x in message.lines)[:2900]},
        },
    ]
    for section in message.sections:
        body = f"*{escape(section.title)}*\n" + "\n".join(
            f"• {escape(line)}" for line in section.lines
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(message.footnote)}]}
    )
    return {"text": f"{message.title}. {' '.join(message.lines)}"[:3000], "blocks": blocks[:50]}


def review_message(request: ReviewRequest, labels: dict[str, str]) -> dict[str, Any]:
    """`labels`: the button words, by action (release, withhold, edit)."""
    buttons = []
    for action in ("release", "withhold", "edit"):
        button: dict[str, Any] = {
            "type": "button",
            "action_id": f"{REVIEW_PREFIX}{action}",
            "text": {"type": "plain_text", "text": labels[action]},
            "value": f"{REVIEW_PREFIX}{action}:{request.comment_id}",
        }
        if action == "release":
            button["style"] = "primary"
        elif action == "withhold":
            button["style"] = "danger"
        buttons.append(button)
    return {
        "text": f"{request.title}: {request.text}"[:3000],
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": request.title[:150]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(request.intro)}]},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"> {escape(request.text)}"}},
            {"type": "actions", "block_id": "review", "elements": buttons},
        ],
    }


def decided_message(title: str, text: str, note: str) -> dict[str, Any]:
    """The review message once decided: the buttons give way to who did what."""
    return {
        "text": f"{title}: {note}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"> {escape(text)}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
        ],
    }


def parse_value(value: str) -> tuple[str, int] | None:
    """("release", 12) from "digest-review:release:12"; None if malformed."""
    parts = value.removeprefix(REVIEW_PREFIX).split(":")
    if len(parts) != 2 or parts[0] not in ("release", "withhold", "edit") or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def edit_modal(
    comment_id: int, text: str, channel: str, ts: str, words: dict[str, str]
) -> dict[str, Any]:
    """`words`: title, label and submit."""
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": json.dumps({"id": comment_id, "channel": channel, "ts": ts}),
        "title": {"type": "plain_text", "text": words["title"][:24]},
        "submit": {"type": "plain_text", "text": words["submit"][:24]},
        "blocks": [
            {
                "type": "input",
                "block_id": EDIT_BLOCK,
                "label": {"type": "plain_text", "text": words["label"][:2000]},
                "element": {
                    "type": "plain_text_input",
                    "action_id": EDIT_ACTION,
                    "multiline": True,
                    "initial_value": text[:3000],
                },
            }
        ],
    }


def submitted(view: dict[str, Any]) -> tuple[int, str, str, str] | None:
    """(comment id, new text, channel, ts) from a submitted edit modal."""
    try:
        meta = json.loads(str(view.get("private_metadata") or "{}"))
        value = view["state"]["values"][EDIT_BLOCK][EDIT_ACTION]["value"]
        return int(meta["id"]), str(value or ""), str(meta["channel"]), str(meta["ts"])
    except (KeyError, TypeError, ValueError):
        return None
