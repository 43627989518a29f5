"""The ports: what the service needs from a platform channel, and what a
channel may call back. Adapters implement `Channel`; the runtime wires them.

A channel receives inbound messages and hands them to an `InboundHandler`;
it sends `Outbound` messages and reports failures with the `DeliveryError`
subclasses in `bot.core.errors`, so the outbox sender and the reply path
treat every platform alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.core.errors import DeliveryError, RetryAfter, TransientError, Unreachable
from bot.core.invites import Card
from bot.core.messages import Inbound, Outbound
from bot.core.texts import Texts

__all__ = [
    "ActionChannel",
    "ActionHandler",
    "CaseMoved",
    "CaseOutcome",
    "Channel",
    "DeliveryError",
    "DeskProblem",
    "DigestMessage",
    "DigestSender",
    "InboundHandler",
    "InviteMade",
    "InviteOutcome",
    "InviteProblem",
    "NotAWorker",
    "PromiseOutcome",
    "PromiseRecorded",
    "ReportMade",
    "ReportOutcome",
    "ReportRefused",
    "RetryAfter",
    "ReviewDecided",
    "ReviewOutcome",
    "ReviewRequest",
    "StaffDesk",
    "TransientError",
    "Unreachable",
    "UnreachableHandler",
    "YouSaidOutcome",
    "YouSaidReady",
    "YouSaidSent",
]

InboundHandler = Callable[[Inbound], Awaitable[list[Outbound]]]
"""Process one inbound message; returns the replies, already stored durably."""

UnreachableHandler = Callable[[str, str], Awaitable[None]]
"""Called with (platform, chat id) when a person can no longer be reached."""

ActionHandler = Callable[[str, str, str, str], Awaitable[None]]
"""A staff button press outside a family conversation (the duty team's
Acknowledge): called as `(user, value, chat, message ref)`."""


class Channel(Protocol):
    """What `heard run` needs from each platform adapter."""

    platform: str

    async def start(self, on_inbound: InboundHandler, on_unreachable: UnreachableHandler) -> None:
        """Connect, check credentials, and begin receiving. Raises ConfigError
        with the key to fix if the platform rejects the credentials."""

    async def send(self, out: Outbound) -> str:
        """Send one message at the platform's pace; return its message id.
        Raises a DeliveryError subclass when it cannot."""

    async def stop(self) -> None:
        """Stop receiving and finish what is in flight."""


@runtime_checkable
class ActionChannel(Channel, Protocol):
    """A channel whose staff can press buttons (Telegram, Slack)."""

    def add_action_handler(self, prefix: str, handler: ActionHandler) -> None:
        """Route presses whose value starts with `prefix` to `handler`."""


@runtime_checkable
class CheckableChannel(Protocol):
    """A channel that can say, before anything is sent, whether Heard may
    post to an address (Slack `conversations.info`, Telegram `getChat`)."""

    platform: str

    async def can_post(self, address: str) -> str:
        """Empty if Heard can post to `address`; else a short reason, such as
        the platform's error code (never anything about a family)."""
        ...


@dataclass(frozen=True, slots=True)
class InviteMade:
    card: Card
    set_id: str
    locale: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NotAWorker:
    """The staff member is not a registered, active worker."""


@dataclass(frozen=True, slots=True)
class InviteProblem:
    message: str
    """Meant for the worker, e.g. a language the set does not offer."""


InviteOutcome = InviteMade | NotAWorker | InviteProblem


@dataclass(frozen=True, slots=True)
class PromiseRecorded:
    code: str
    due_at: datetime
    ask_at: datetime


@dataclass(frozen=True, slots=True)
class DeskProblem:
    message: str
    """What is wrong and what to do, meant for the staff member."""


PromiseOutcome = PromiseRecorded | NotAWorker | DeskProblem


@dataclass(frozen=True, slots=True)
class CaseMoved:
    code: str
    from_worker: str
    to_worker: str


CaseOutcome = CaseMoved | DeskProblem


@dataclass(frozen=True, slots=True)
class YouSaidReady:
    """A "you said, we did" preview. To send it, the same person passes
    `team`, `text` and `at` back (a Slack button carries them)."""

    team: str
    families: int
    text: str
    at: str
    """When the preview was made (ISO 8601): it names this preview, so
    confirming it twice sends it once."""


@dataclass(frozen=True, slots=True)
class YouSaidSent:
    team: str
    families: int


YouSaidOutcome = YouSaidReady | YouSaidSent | DeskProblem


@dataclass(frozen=True, slots=True)
class ReportSection:
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReportMade:
    """A report for a chat platform, already through disclosure control and
    audited: words to show privately, and files for the manager's DM."""

    title: str
    headline: str
    sections: tuple[ReportSection, ...]
    notes: tuple[str, ...]
    chart_png: bytes
    chart_name: str
    csv: bytes | None
    csv_name: str
    files_note: str


@dataclass(frozen=True, slots=True)
class ReportRefused:
    message: str
    """Polite, for the person who asked; holds no figures."""


ReportOutcome = ReportMade | ReportRefused


@dataclass(frozen=True, slots=True)
class DigestMessage:
    """A digest ready for a chat platform, already through disclosure control:
    a title, the figures as lines, comment sections, a footnote and charts
    (PNG) to attach privately. `chart_failed` is said when a chart cannot be
    attached, so the digest still goes out as text."""

    title: str
    lines: tuple[str, ...]
    sections: tuple[ReportSection, ...]
    footnote: str
    charts: tuple[tuple[str, bytes], ...]
    """(file name, PNG)."""
    chart_failed: str

    def plain(self) -> str:
        """The whole digest as plain text (the console, Telegram, fallbacks)."""
        parts = [self.title, "", *self.lines]
        for section in self.sections:
            parts += ["", section.title, *(f"• {line}" for line in section.lines)]
        parts += ["", self.footnote]
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """A scrubbed comment shown to a team's managers to release, withhold or
    edit before it may reach the worker's digest."""

    comment_id: int
    title: str
    intro: str
    text: str
    managers: tuple[str, ...]
    """Slack user ids."""


@dataclass(frozen=True, slots=True)
class ReviewDecided:
    status: str
    """released or withheld."""
    text: str
    note: str
    """What to show in place of the buttons, e.g. "Released by <@U…>"."""


ReviewOutcome = ReviewDecided | DeskProblem


@runtime_checkable
class DigestSender(Protocol):
    """A channel that can deliver digests to staff (Slack, Telegram)."""

    platform: str

    async def send_digest(self, target: str, message: DigestMessage) -> str:
        """Send a digest privately to `target` (a Slack user id or a Telegram
        chat id), charts attached where the platform can; returns the message
        id. A chart that fails to upload leaves a text-only digest. Raises a
        DeliveryError subclass when the digest itself cannot go."""
        ...


class StaffDesk(Protocol):
    """The staff use cases a chat platform offers its workers and managers.
    Synchronous (each call is one transaction): run it on a worker thread."""

    @property
    def texts(self) -> Texts: ...

    @property
    def set_ids(self) -> tuple[str, ...]: ...

    def invite_for_slack_user(self, slack_user: str, set_id: str, locale: str) -> InviteOutcome:
        """Make one invite for the worker registered as `slack_user`.
        Raises StorageError when the database cannot be used."""
        ...

    def promise_for_slack_user(
        self, slack_user: str, code: str, text: str, due: str
    ) -> PromiseOutcome:
        """Record a promise on a case of the worker registered as
        `slack_user`. Raises StorageError when the database cannot be used."""
        ...

    def reassign_for_slack_user(self, slack_user: str, code: str, worker: str) -> CaseOutcome:
        """Move a case to another worker, for a manager of its team or an
        admin. Raises StorageError when the database cannot be used."""
        ...

    def you_said_for_slack_user(
        self, slack_user: str, team: str, text: str, confirm_at: str = ""
    ) -> YouSaidOutcome:
        """Without `confirm_at`, a preview; with the `at` of a preview, send
        it (once, however often it is confirmed). `team` may be empty for a
        manager of one team. Raises StorageError when the database cannot be
        used."""
        ...

    def report_for_slack_user(
        self, slack_user: str, *, team: str, period: str, want_csv: bool, command: str
    ) -> ReportOutcome:
        """The report a manager or admin asked for in Slack (`team` may be
        empty), or a refusal; either way audited. Raises StorageError when the
        database cannot be used."""
        ...

    def digest_for_slack_user(self, slack_user: str, command: str) -> DigestMessage | DeskProblem:
        """The latest digest of the worker registered as `slack_user`."""
        ...

    def digests_switch(self, slack_user: str, on: bool, command: str) -> str:
        """Turn a worker's scheduled digests on or off; the answer to show."""
        ...

    def review_comment(
        self, slack_user: str, comment_id: int, action: str, text: str | None
    ) -> ReviewOutcome:
        """A manager's Release, Withhold or Edit (with `text`) of a comment."""
        ...
