"""Heard's exception tree, in one place.

HeardError                 base of everything Heard raises on purpose
├── ConfigError            a config file or key is wrong; message names the key and the fix
├── QuestionSetError       a question set file is malformed; message names file and question
├── InviteError            an invite code cannot be used (unknown, used, expired)
├── NotFoundError          a named team, worker or manager does not exist
└── StorageError           the database cannot be reached or written

The CLI turns any HeardError into one plain line on stderr and a non-zero exit;
anything else is a bug and is logged with a traceback.
"""

from __future__ import annotations


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


class StorageError(HeardError):
    pass
