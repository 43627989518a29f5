"""Pure converters between Telegram updates and Heard's messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from adapters.splitting import split_text
from bot.core.messages import Inbound, InboundKind, Outbound

PLATFORM = "telegram"
MAX_TEXT = 4096

_MEDIA = (
    ("sticker", "sticker"),
    ("voice", "voice note"),
    ("video_note", "video note"),
    ("audio", "audio"),
    ("video", "video"),
    ("animation", "animation"),
    ("photo", "photo"),
    ("document", "file"),
    ("location", "location"),
    ("venue", "location"),
    ("contact", "contact"),
    ("poll", "poll"),
    ("dice", "dice"),
)


def _what(message: Message) -> str:
    for attr, name in _MEDIA:
        if getattr(message, attr, None):
            return name
    return "message"


def _private(chat: Any) -> bool:
    """A one-to-one chat with a real id."""
    return (
        chat is not None
        and getattr(chat, "type", None) == "private"
        and isinstance(getattr(chat, "id", None), int)
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def to_inbound(update: Update) -> Inbound | None:
    """Heard's view of one update, or None for updates Heard does not handle
    (group chats, channel posts, service messages) and for updates missing
    what every real one has (a chat with an id): python-telegram-bot accepts
    those too, and one must not stop the chat or the polling offset."""
    key = str(update.update_id)
    query = update.callback_query
    if query is not None:
        chat: Any = getattr(query.message, "chat", None) if query.message else None
        if not _private(chat):
            return None
        user = query.from_user
        return Inbound(
            PLATFORM,
            str(chat.id),
            key,
            InboundKind.BUTTON,
            data=query.data if isinstance(query.data, str) else "",
            language_hint=_text(user.language_code) if user else "",
        )
    edited = update.edited_message
    if edited is not None:
        if not _private(edited.chat):
            return None
        return Inbound(
            PLATFORM,
            str(edited.chat.id),
            key,
            InboundKind.UNSUPPORTED,
            text=_text(edited.text) or _text(edited.caption),
            unsupported_what="edited message",
        )
    message = update.message
    if message is None or not _private(message.chat):
        return None
    chat_id = str(message.chat.id)
    hint = _text(message.from_user.language_code) if message.from_user else ""
    text = message.text
    if not isinstance(text, str):
        return Inbound(
            PLATFORM,
            chat_id,
            key,
            InboundKind.UNSUPPORTED,
            text=_text(message.caption),
            unsupported_what=_what(message),
            language_hint=hint,
        )
    head, _, rest = text.strip().partition(" ")
    if head.split("@", 1)[0].lower() == "/start":
        token = rest.strip().split(" ", 1)[0] if rest.strip() else ""
        return Inbound(PLATFORM, chat_id, key, InboundKind.START, token=token, language_hint=hint)
    return Inbound(PLATFORM, chat_id, key, InboundKind.TEXT, text=text, language_hint=hint)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One Telegram sendMessage call."""

    text: str
    markup: InlineKeyboardMarkup | None


def keyboard(out: Outbound) -> InlineKeyboardMarkup | None:
    if not out.choices:
        return None
    per_row = max(1, out.columns)
    buttons = [InlineKeyboardButton(c.label, callback_data=c.data) for c in out.choices]
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    skip_last = len(out.choices) > 1 and out.choices[-1].data.endswith(":skip")
    if skip_last and per_row > 1 and len(rows[-1]) > 1:
        rows[-1] = rows[-1][:-1]
        rows.append([buttons[-1]])
    return InlineKeyboardMarkup(rows)


def render(out: Outbound) -> list[Rendered]:
    """The sendMessage calls for one outbound message: long text is split, and
    the keyboard goes on the last part so it sits under the question."""
    parts = split_text(out.text, MAX_TEXT) or [out.text]
    markup = keyboard(out)
    return [Rendered(p, markup if i == len(parts) - 1 else None) for i, p in enumerate(parts)]


def chosen_label(message: Message | None, data: str) -> str | None:
    """The label of the button with `data` on `message`, if it is there."""
    markup = message.reply_markup if message else None
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None
