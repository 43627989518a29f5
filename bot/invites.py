"""Invite cards: a single-use token for a Telegram deep link, a short code a
family can type, and a QR code of the link."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

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


def new_token() -> str:
    """URL-safe, 32 characters: fits Telegram's 64-character start parameter."""
    return secrets.token_urlsafe(24)


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


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


def write_qr(link: str, path: Path) -> None:
    import qrcode

    image = qrcode.make(link, border=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        image.save(fh)


def qr_png(link: str) -> bytes:
    import io

    import qrcode

    buf = io.BytesIO()
    qrcode.make(link, border=2).save(buf)
    return buf.getvalue()
