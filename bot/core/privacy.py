"""Pseudonyms. Raw chat ids never leave the service unhashed except into the
`contacts` table, which exists only to send follow-ups."""

from __future__ import annotations

import hashlib
import hmac

from bot.core.errors import ConfigError


def pseudonym(secret: bytes, platform: str, chat_id: str) -> str:
    """Keyed pseudonym: HMAC-SHA256(secret, platform + ":" + chat id), hex.
    An empty key is refused: every family would be hashed with a key anyone
    can recompute (the key file is made only by `heard run` and `heard chat`)."""
    if not secret:
        raise ConfigError("there is no pseudonym key; see [privacy] pseudonym_secret_env")
    return hmac.new(secret, f"{platform}:{chat_id}".encode(), hashlib.sha256).hexdigest()


def log_ref(secret: bytes, platform: str, chat_id: str) -> str:
    """A short tag for log lines, derived apart from the stored pseudonym so a
    log line cannot be joined to a database row."""
    digest = hmac.new(secret, f"log:{platform}:{chat_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:8]
