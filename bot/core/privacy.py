"""Pseudonyms. Raw chat ids never leave the service unhashed except into the
`contacts` table, which exists only to send follow-ups."""

from __future__ import annotations

import hashlib
import hmac


def pseudonym(secret: bytes, platform: str, chat_id: str) -> str:
    """Keyed pseudonym: HMAC-SHA256(secret, platform + ":" + chat id), hex."""
    return hmac.new(secret, f"{platform}:{chat_id}".encode(), hashlib.sha256).hexdigest()


def log_ref(secret: bytes, platform: str, chat_id: str) -> str:
    """A short tag for log lines, derived apart from the stored pseudonym so a
    log line cannot be joined to a database row."""
    digest = hmac.new(secret, f"log:{platform}:{chat_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:8]
