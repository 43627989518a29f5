"""Pseudonym key rotation (`heard keys rotate`).

A respondent is stored as HMAC-SHA256(secret, platform + chat id). To change
the secret, every respondent whose contact (the raw chat id) is still held is
given the pseudonym the new secret makes of it, all in one transaction, so
when the family writes again under the new secret they are recognised and
carry on where they were.

A respondent whose contact is gone (they closed their case, it expired, or
they were never sent anything) keeps the old pseudonym. That is safe: the
old pseudonym cannot be recomputed from anything Heard still holds, and once
the old secret is destroyed nobody can compute it at all, so those rows
become unlinkable to any chat. If such a family writes again they start as a
new respondent, which is what losing the contact already meant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.errors import ConfigError
from bot.core.privacy import pseudonym
from storage import repo
from storage.unit import Store

log = logging.getLogger("heard.keys")

MIN_SECRET = 16


@dataclass(frozen=True, slots=True)
class Rotation:
    rotated: int
    """Respondents given a pseudonym under the new secret."""
    kept: int
    """Respondents without a contact, who keep their old pseudonym."""
    dry_run: bool


class KeyRotation:
    def __init__(self, store: Store, secret: bytes, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.secret = secret
        self.clock = clock

    def rotate(self, new_secret: bytes, *, dry_run: bool, actor: str) -> Rotation:
        if len(new_secret) < MIN_SECRET:
            raise ConfigError(
                f"the new pseudonym secret must hold at least {MIN_SECRET} characters"
            )
        if new_secret == self.secret:
            raise ConfigError(
                "the new pseudonym secret is the same as the current one; generate a new one"
            )
        with self.store.begin() as tx:
            reachable = repo.reachable_respondents(tx)
            total = repo.count_respondents(tx)
            result = Rotation(len(reachable), total - len(reachable), dry_run)
            if dry_run:
                return result
            repo.set_pseudonyms(
                tx,
                [(rid, pseudonym(new_secret, platform, chat)) for rid, platform, chat in reachable],
            )
            repo.audit(
                tx,
                actor,
                "rotated the pseudonym secret",
                {"rotated": result.rotated, "kept": result.kept},
                self.clock(),
            )
        log.info("pseudonym key rotated: %d re-derived, %d kept", result.rotated, result.kept)
        return result
