"""Normalised messages exchanged between platform adapters and the service.

Adapters convert platform payloads into `Inbound` at the edge and render
`Outbound` back into platform calls. Nothing in here knows about Telegram,
Slack or the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_CHOICE_DATA_BYTES = 64


class InboundKind(StrEnum):
    TEXT = "text"
    """A typed message (may look like a command: "stop", "/help")."""
    BUTTON = "button"
    """A press on a button Heard sent; `data` is the opaque choice id."""
    START = "start"
    """A start with an optional invite token (Telegram deep link `/start TOKEN`)."""
    UNSUPPORTED = "unsupported"
    """Sticker, voice note, photo, file, location, edited message, ..."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a person did in a chat.

    `message_key` is the platform's own id for this delivery (Telegram
    `update_id`, Slack `event_id`, a counter in the console). The service stores
    it in the same transaction as the effects so a redelivery is ignored.
    `chat_id` is the raw platform address; it is pseudonymised by the service
    and never logged.
    """

    platform: str
    chat_id: str
    message_key: str
    kind: InboundKind
    text: str = ""
    data: str = ""
    token: str = ""
    unsupported_what: str = ""
    language_hint: str = ""


@dataclass(frozen=True, slots=True)
class Choice:
    """A button. `data` is opaque to the platform and at most 64 bytes."""

    data: str
    label: str

    def __post_init__(self) -> None:
        if len(self.data.encode("utf-8")) > MAX_CHOICE_DATA_BYTES:
            raise ValueError(f"choice data over {MAX_CHOICE_DATA_BYTES} bytes: {self.data!r}")


@dataclass(frozen=True, slots=True)
class Reply:
    """Something the engine wants to say, not yet addressed to a chat."""

    text: str
    choices: tuple[Choice, ...] = ()
    columns: int = 1
    """How many buttons per row a platform with keyboards should use."""


@dataclass(frozen=True, slots=True)
class Outbound:
    """A reply addressed to one chat on one platform.

    `hide_chat`: instead of a message, delete what the platform lets us
    delete of this chat before the replies that follow (Telegram deletes
    recent messages; Slack and the console say how to clear the chat by
    hand). Such an Outbound carries the words to say if the platform cannot
    delete anything, in `text`.

    `outbox_id`: the outbox row that holds this reply durably, when it was
    queued (see `Conversations.handle`); the sender records its fate there."""

    platform: str
    chat_id: str
    text: str
    choices: tuple[Choice, ...] = ()
    columns: int = 1
    hide_chat: bool = False
    outbox_id: int | None = None

    @classmethod
    def to(cls, platform: str, chat_id: str, reply: Reply) -> Outbound:
        return cls(platform, chat_id, reply.text, reply.choices, reply.columns)
