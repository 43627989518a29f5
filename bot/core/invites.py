"""Invite cards: a single-use token for a Telegram deep link, a short code a
family can type, and a QR code of the link."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import qrcode

# No 0/O, 1/I/L, 5/S or 2/Z: codes get read aloud and typed on small phones.
CODE_ALPHABET = "346789ABCDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 8
_CODE_TYPED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{6,14}[A-Za-z0-9]$")


@dataclass(frozen=True, slots=True)
class Card:
    token: str
    code: str
    link: str

    def as_json(self) -> dict[str, str]:
        return {"token": self.token, "code": self.code, "link": self.link}


def normalise_code(text: str) -> str | None:
    """What a family typed, as a stored code ("abcd 3467" -> "ABCD-3467"),
    or None if it cannot be a code."""
    t = text.strip()
    if not _CODE_TYPED.match(t):
        return None
    raw = re.sub(r"[\s\-]", "", t).upper()
    if len(raw) != CODE_LENGTH:
        return None
    return f"{raw[:4]}-{raw[4:]}"


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


def qr_png(link: str) -> bytes:
    """A QR code of `link`, as PNG bytes."""
    buf = io.BytesIO()
    qrcode.make(link, border=2).save(buf)
    return buf.getvalue()


WORKER_TOKEN_PREFIX = "worker_"
"""Starts a worker's invite token, so a Start with it binds a worker's chat
for digests and never begins a family's questions. A family's token (32
random URL-safe characters) is looked up as a family's if no worker invite has it."""


def is_worker_token(token: str) -> bool:
    return token.startswith(WORKER_TOKEN_PREFIX)
