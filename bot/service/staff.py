"""Staff use cases, one transaction each: what the CLI and the chat
platforms offer administrators, workers and managers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.config import Config
from bot.core import questions
from bot.core.errors import HeardError, StorageError
from bot.core.invites import Card
from bot.core.texts import Texts
from bot.service import cases
from bot.service.admin import add_team, add_worker, create_invite, demo_invite, find_worker
from bot.service.conversation import Conversations
from bot.service.ports import (
    DeskProblem,
    InviteMade,
    InviteOutcome,
    InviteProblem,
    NotAWorker,
    PromiseOutcome,
    PromiseRecorded,
)
from bot.service.promises import Promises
from storage import repo
from storage.unit import Store


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: int
    name: str
    team: str
    slack_user: str | None


@dataclass(frozen=True, slots=True)
class MadeInvite:
    card: Card
    worker_name: str
    set_id: str
    locale: str
    expires_at: datetime


class Staff:
    """Administration use cases, one transaction each. Implements the
    `StaffDesk` port for the chat platforms."""

    def __init__(self, conversations: Conversations, config: Config) -> None:
        self.conversations = conversations
        self.store: Store = conversations.store
        self.config = config
        self.promises = Promises(self.store, config, conversations.texts)

    @property
    def texts(self) -> Texts:
        return self.conversations.texts

    def clock(self) -> datetime:
        return self.conversations.clock()

    @property
    def set_ids(self) -> tuple[str, ...]:
        return tuple(questions.shipped())

    def add_team(self, name: str) -> tuple[int, str]:
        with self.store.begin() as tx:
            team = add_team(tx, name, self.clock())
            return team.id, team.name

    def list_teams(self) -> list[tuple[int, str]]:
        with self.store.read() as tx:
            return [(t.id, t.name) for t in repo.list_teams(tx)]

    def add_worker(self, team: str, name: str, slack_user: str | None) -> tuple[int, str]:
        with self.store.begin() as tx:
            worker = add_worker(tx, team, name, slack_user, self.clock())
            return worker.id, worker.name

    def list_workers(self) -> list[WorkerInfo]:
        with self.store.read() as tx:
            return [
                WorkerInfo(w.id, w.name, t.name, w.slack_user_id) for w, t in repo.list_workers(tx)
            ]

    def make_invite(
        self, worker_ref: str, *, set_id: str, locale: str, valid_for: timedelta
    ) -> MadeInvite:
        with self.store.begin() as tx:
            worker = find_worker(tx, worker_ref)
            card, invite = create_invite(
                tx,
                worker,
                set_id=set_id,
                locale=locale,
                now=self.clock(),
                valid_for=valid_for,
                bot_username=self.config.telegram.bot_username,
                texts=self.texts,
            )
            return MadeInvite(card, worker.name, set_id, locale, invite.expires_at)

    def invite_for_slack_user(self, slack_user: str, set_id: str, locale: str) -> InviteOutcome:
        set_id = set_id or self.config.default_set
        locale = locale or self.config.default_locale
        try:
            with self.store.begin() as tx:
                worker = repo.worker_by_slack_user(tx, slack_user)
                if worker is None:
                    return NotAWorker()
                card, invite = create_invite(
                    tx,
                    worker,
                    set_id=set_id,
                    locale=locale,
                    now=self.clock(),
                    valid_for=self.config.invite_valid_for,
                    bot_username=self.config.telegram.bot_username,
                    texts=self.texts,
                    actor=f"worker {worker.id} (Slack)",
                )
                return InviteMade(card, set_id, locale, invite.expires_at)
        except HeardError as exc:
            if isinstance(exc, StorageError):
                raise
            return InviteProblem(str(exc))

    def promise_for_slack_user(
        self, slack_user: str, code: str, text: str, due: str
    ) -> PromiseOutcome:
        with self.store.read() as tx:
            if repo.worker_by_slack_user(tx, slack_user) is None:
                return NotAWorker()
        try:
            made = self.promises.add(
                code=code, text=text, due=due, now=self.clock(), by_slack_user=slack_user
            )
        except HeardError as exc:
            if isinstance(exc, StorageError):
                raise
            return DeskProblem(str(exc))
        return PromiseRecorded(made.code, made.due_at, made.ask_at)

    def chat_token(
        self,
        pseudonym: str,
        *,
        set_id: str,
        locale: str,
        resumable: Callable[[dict[str, Any] | None], bool],
    ) -> str:
        """For `heard chat`: "" when this terminal's conversation can carry on,
        else the token of a fresh demo invite."""
        with self.store.begin() as tx:
            row = repo.respondent_with_state(tx, pseudonym)
            if resumable(row.state if row else None):
                return ""
            card, _ = demo_invite(tx, self.clock(), set_id=set_id, locale=locale, texts=self.texts)
            return card.token

    def close_cases(
        self, *, code: str | None = None, invite_id: int | None = None, worker: str | None = None
    ) -> repo.CaseClosure:
        with self.store.begin() as tx:
            return cases.close_cases(
                tx, now=self.clock(), code=code, invite_id=invite_id, worker=worker
            )

    def followups_report(self) -> str:
        with self.store.read() as tx:
            return cases.report(tx, self.config.schedule, self.clock())
