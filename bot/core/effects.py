"""What the engine asks the service to do. The engine never does I/O itself:
it returns these, and the service applies them in the same transaction as the
new conversation state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RecordAnswer:
    round: int
    question_id: str
    dimension: str
    code: str
    value: int | None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleFollowUp:
    kind: str
    due_at: datetime
    key: str
    """Idempotency key: scheduling the same key twice keeps one follow-up."""


@dataclass(frozen=True, slots=True)
class CancelFollowUps:
    kinds: tuple[str, ...] = ()
    """Empty means every kind."""


@dataclass(frozen=True, slots=True)
class SetStatus:
    status: str
    """"active", "stopped" or "declined"."""


@dataclass(frozen=True, slots=True)
class RaiseSafeguardingAlert:
    categories: tuple[str, ...]
    text: str
    review: bool = False
    """The uncertain band: sent to the duty team at once marked "for review",
    not chased until an `UpgradeSafeguardingAlert` makes it urgent."""


@dataclass(frozen=True, slots=True)
class UpgradeSafeguardingAlert:
    """Make the family's open "for review" alert urgent, with the usual chase."""

    reason: str
    """"yes", "unsure", "no_answer", "again" (another worrying message),
    "stopped" or "forgotten"."""


@dataclass(frozen=True, slots=True)
class EraseRespondent:
    pass


@dataclass(frozen=True, slots=True)
class HideChat:
    """Delete what the platform allows of this chat (a shared phone)."""


Effect = (
    RecordAnswer
    | ScheduleFollowUp
    | CancelFollowUps
    | SetStatus
    | RaiseSafeguardingAlert
    | UpgradeSafeguardingAlert
    | EraseRespondent
    | HideChat
)
