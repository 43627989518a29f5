"""Heard's exception tree, in one place.

HeardError                 base of everything Heard raises on purpose
├── ConfigError            a config file or key is wrong; message names the key and the fix
├── QuestionSetError       a question set file is malformed; message names file and question
├── InviteError            an invite code cannot be used (unknown, used, expired)
├── NotFoundError          a named team, worker or manager does not exist
├── NotAllowedError        the person asking may not see this report
├── PeriodError            a report period is malformed or not over yet
├── ConflictError          the thing to add exists already (a team or worker of that name)
├── StorageError           the database cannot be reached or written
│   └── HeldForSafety      ... while a family disclosed danger: help shown, alert spooled
│   └── RejectedData       the database refused this data: retrying the same fails again
└── DeliveryError          a platform could not take a message
    ├── Unreachable        the person blocked the bot or the chat is gone: stop sending
    ├── RetryAfter         the platform asked us to wait `seconds` (429)
    └── TransientError     network error or 5xx: retry with backoff

The CLI turns any HeardError into one plain line on stderr and a non-zero exit;
anything else is a bug and is logged with a traceback. Storage translates
every database driver error into `StorageError` at its boundary, and adapters
translate every platform error into a `DeliveryError`, so the layers above
never see a vendor's exception.
"""

from __future__ import annotations

from typing import Any


class HeardError(Exception):
    """Base for errors that carry a message meant for a person."""


class ConfigError(HeardError):
    pass


class QuestionSetError(HeardError):
    pass


class InviteError(HeardError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotFoundError(HeardError):
    pass


class NotAllowedError(HeardError):
    """The person asking may not see this (a report of a team they do not manage)."""


class PeriodError(HeardError):
    """A report period that is malformed, in the future or not over yet."""


class ConflictError(HeardError):
    pass


class StorageError(HeardError):
    pass


class RejectedData(StorageError):
    """The database refused what one transaction tried to write (a value it
    cannot hold, a broken constraint), as opposed to being unreachable.
    Retrying the same message will most likely fail the same way, so the
    conversation sets such a message aside after a few attempts."""


class DeliveryError(HeardError):
    pass


class Unreachable(DeliveryError):
    pass


class RetryAfter(DeliveryError):
    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"platform asked to wait {seconds} s")
        self.seconds = seconds


class TransientError(DeliveryError):
    pass


class HeldForSafety(StorageError):
    """The database failed while a family was telling us someone may be in
    danger. The alert is kept in the local spool; `replies` (where to get help
    now) must still be shown at once. Nothing else was stored, so the platform
    should deliver the message again (Telegram: leave it unconfirmed; Slack:
    answer non-200)."""

    def __init__(self, replies: list[Any]) -> None:
        super().__init__("database unavailable; the alert is spooled")
        self.replies = replies
