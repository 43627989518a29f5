"""Staff use cases, one transaction each: what the CLI and the chat
platforms offer administrators, workers and managers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.config import Config
from bot.core import questions
from bot.core.errors import HeardError, NotAllowedError, NotFoundError, StorageError
from bot.core.invites import WORKER_TOKEN_PREFIX, Card, deep_link
from bot.core.texts import Texts
from bot.service import cases, render_report
from bot.service.admin import add_team, add_worker, create_invite, demo_invite, find_worker
from bot.service.conversation import Conversations
from bot.service.digests import Digests
from bot.service.ports import (
    CaseMoved,
    CaseOutcome,
    DeskProblem,
    DigestMessage,
    InviteMade,
    InviteOutcome,
    InviteProblem,
    NotAWorker,
    PromiseOutcome,
    PromiseRecorded,
    ReportMade,
    ReportOutcome,
    ReportRefused,
    ReportSection,
    ReviewOutcome,
    YouSaidOutcome,
    YouSaidReady,
    YouSaidSent,
)
from bot.service.promises import Promises
from bot.service.reports import Reports, Row, Viewer
from storage import digests as store_digests
from storage import repo, worker_invites
from storage import reports as store_reports
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


@dataclass(frozen=True, slots=True)
class WorkerLink:
    link: str
    worker_name: str
    expires_at: datetime


YOU_SAID_CONFIRM_WITHIN = timedelta(hours=1)
"""How long a "you said" preview may be confirmed: after that the families
it would reach may have changed, so the manager sees a fresh one."""


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

    def add_worker(
        self, team: str, name: str, slack_user: str | None, telegram_chat: str | None = None
    ) -> tuple[int, str]:
        """`telegram_chat`: where a worker without Slack gets their digest."""
        if telegram_chat is not None and not telegram_chat.strip().lstrip("-").isdigit():
            raise HeardError(
                f"--telegram-chat {telegram_chat!r}: a Telegram chat id is a number, e.g. 123456789"
            )
        with self.store.begin() as tx:
            worker = add_worker(tx, team, name, slack_user, self.clock())
            if telegram_chat:
                store_digests.set_telegram_chat(tx, worker.id, telegram_chat.strip())
            return worker.id, worker.name

    def worker_link(self, worker_ref: str, valid_for: timedelta) -> WorkerLink:
        """A one-time t.me link: the worker presses Start and their chat gets
        their digests (`heard worker invite`)."""
        username = self.config.telegram.bot_username.strip().lstrip("@")
        if not username:
            raise HeardError(
                "a worker invite is a Telegram link: set [telegram] bot_username first"
            )
        now = self.clock()
        with self.store.begin() as tx:
            worker = find_worker(tx, worker_ref)
            token = WORKER_TOKEN_PREFIX + secrets.token_urlsafe(18)
            worker_invites.add(tx, token, worker.id, now, now + valid_for)
            repo.audit(tx, "cli", "worker invite created", {"worker_id": worker.id}, now)
            return WorkerLink(deep_link(username, token), worker.name, now + valid_for)

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

    def reassign_for_slack_user(self, slack_user: str, code: str, worker: str) -> CaseOutcome:
        try:
            moved = self.promises.reassign(
                code=code, worker_ref=worker, now=self.clock(), by_slack_user=slack_user
            )
        except HeardError as exc:
            if isinstance(exc, StorageError):
                raise
            return DeskProblem(str(exc))
        return CaseMoved(moved.code, moved.from_worker, moved.to_worker)

    def you_said_for_slack_user(
        self, slack_user: str, team: str, text: str, confirm_at: str = ""
    ) -> YouSaidOutcome:
        now = self.clock()
        try:
            team = team.strip() or self._only_team(slack_user)
            if not confirm_at:
                preview = self.promises.you_said(
                    team=team,
                    text=text,
                    text_cy=None,
                    now=now,
                    send=False,
                    by_slack_user=slack_user,
                )
                return YouSaidReady(
                    preview.team, preview.families, preview.texts["en"], now.isoformat()
                )
            try:
                made_at = datetime.fromisoformat(confirm_at)
            except ValueError:
                raise HeardError(
                    "this button is not one Heard made; type the command again"
                ) from None
            if (
                made_at.tzinfo is None
                or not timedelta(0) <= now - made_at <= YOU_SAID_CONFIRM_WITHIN
            ):
                raise HeardError(
                    "this preview is more than an hour old; type the command again to see "
                    "whom it reaches now"
                )
            # The preview, not the presser: the message goes once however
            # often (and by whomever) its Send button is pressed.
            key = hashlib.sha256(
                "\x1f".join((team.casefold(), text, confirm_at)).encode()
            ).hexdigest()[:40]
            sent = self.promises.you_said(
                team=team,
                text=text,
                text_cy=None,
                now=now,
                send=True,
                by_slack_user=slack_user,
                request_key=key,
            )
        except HeardError as exc:
            if isinstance(exc, StorageError):
                raise
            return DeskProblem(str(exc))
        return YouSaidSent(sent.team, sent.families)

    def _only_team(self, slack_user: str) -> str:
        """The one team a manager manages, for commands that may leave it out."""
        with self.store.read() as tx:
            mine = sorted(store_reports.managed_team_ids(tx, slack_user))
            names = store_reports.teams_by_id(tx)
        if len(mine) == 1:
            return names[mine[0]]
        if mine:
            listed = ", ".join(names[t] for t in mine)
            raise HeardError(f"you manage more than one team ({listed}); name the team first")
        if slack_user in self.config.admins:
            raise HeardError("name the team first, as it is in Heard")
        raise NotAllowedError(
            "only a team's managers and administrators can send “you said, we did” messages"
        )

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

    # -- managers and reports ---------------------------------------------------------

    @property
    def reports(self) -> Reports:
        return Reports(self.store, self.config.k_threshold, self.config.admins, self.clock)

    def add_manager(self, team: str, slack_user: str, name: str | None) -> str:
        """Let `slack_user` see the reports of `team`; returns the team's name."""
        slack_user = slack_user.strip()
        if not slack_user:
            raise HeardError("a manager needs their Slack user id: --slack-user U012ABCDEF")
        now = self.clock()
        with self.store.begin() as tx:
            found = repo.team_by_name(tx, team.strip())
            if found is None:
                raise NotFoundError(f"no team called {team!r}; see the teams with: heard team list")
            worker = repo.worker_by_slack_user(tx, slack_user)
            if worker is not None and worker.team_id == found.id:
                raise HeardError(
                    f"Slack user {slack_user} is a worker in {found.name}; a worker cannot "
                    "manage their own team's figures"
                )
            made = store_reports.add_manager(tx, found, slack_user, name, now)
            if made is None:
                raise HeardError(f"Slack user {slack_user} already manages {found.name}")
            repo.audit(tx, "admin", "manager added", {"manager_id": made.id}, now)
            return found.name

    def list_managers(self) -> list[tuple[str, str, str | None]]:
        """(Slack user, team, name) for every team a manager manages."""
        with self.store.read() as tx:
            return [(m.slack_user_id, t.name, m.name) for m, t in store_reports.list_managers(tx)]

    def remove_manager(self, slack_user: str, team: str | None) -> int:
        now = self.clock()
        with self.store.begin() as tx:
            team_id = None
            if team:
                found = repo.team_by_name(tx, team.strip())
                if found is None:
                    raise NotFoundError(f"no team called {team!r}")
                team_id = found.id
            removed = store_reports.remove_managers(tx, slack_user.strip(), team_id)
            if not removed:
                where = f" of {team}" if team else ""
                raise NotFoundError(f"Slack user {slack_user} is not a manager{where}")
            repo.audit(tx, "admin", "manager removed", {"teams": removed}, now)
            return removed

    @property
    def digests(self) -> Digests:
        seed = hmac.new(self.config.pseudonym_secret, b"digest comment order", "sha256").digest()
        return Digests(self.store, self.config, self.texts, self.clock, seed)

    def digest_for_slack_user(self, slack_user: str, command: str) -> DigestMessage | DeskProblem:
        return self.digests.latest_for_slack_user(slack_user, command)

    def digests_switch(self, slack_user: str, on: bool, command: str) -> str:
        return self.digests.switch(slack_user, on, command)

    def review_comment(
        self, slack_user: str, comment_id: int, action: str, text: str | None
    ) -> ReviewOutcome:
        return self.digests.review(slack_user, comment_id, action, text)

    def report_for_slack_user(
        self, slack_user: str, *, team: str, period: str, want_csv: bool, command: str
    ) -> ReportOutcome:
        reports = self.reports
        viewer = reports.viewer_for_slack(slack_user)
        say = render_report.Words(self.texts, self.config.default_locale, reports.k)
        fmt = "slack+csv" if want_csv else "slack"
        if not team and not viewer.admin:
            with self.store.read() as tx:
                mine = sorted(store_reports.managed_team_ids(tx, slack_user))
                names = store_reports.teams_by_id(tx)
            if len(mine) == 1:
                team = names[mine[0]]
            elif len(mine) > 1:
                listed = ", ".join(names[t] for t in mine)
                return ReportRefused(
                    say("which_team", teams=listed, command=command, example=names[mine[0]])
                )
        try:
            report = reports.report(viewer, team=team or None, period=period or None, fmt=fmt)
        except NotAllowedError:
            return ReportRefused(say("refused"))
        except HeardError as exc:
            if isinstance(exc, StorageError):
                raise
            return ReportRefused(say("problem", problem=str(exc)))
        sections = []
        for title, rows in render_report.sections(report):
            sections.append(ReportSection(say(title), tuple(_slack_line(r, say) for r in rows)))
        changes = render_report.change_lines(report) or [say("no_changes")]
        sections.append(ReportSection(say("changes"), tuple(changes)))
        notes = tuple(sorted({say.reason(r) for r in report.rows if r.suppressed}))
        who = (report.scope.team or "organisation").lower().replace(" ", "-")
        stem = f"heard-{who}-{report.period}"
        return ReportMade(
            title=say.title(report),
            headline=render_report.headline(report, say),
            sections=tuple(sections),
            notes=(*notes, *render_report.notes(report, say)),
            chart_png=render_report.trend_chart(report, say),
            chart_name=f"{stem}.png",
            csv=render_report.as_csv(report).encode() if want_csv else None,
            csv_name=f"{stem}.csv",
            files_note=say("files_sent_csv" if want_csv else "files_sent"),
        )


def _slack_line(row: Row, say: render_report.Words) -> str:
    what = say.measure(row)
    if row.section == "trend":
        what = f"{row.period} · {what}"
    if row.suppressed:
        return f"{what}: {say.families(row)}"
    figures = [f"{say('col_families')} {say.families(row)}"]
    if row.mean is not None:
        figures.append(f"{say('col_mean')} {row.mean:.1f}")
    if row.distribution and row.kind != "scale5":
        figures.append(say.distribution(row).replace("  ", ", ") + " %")
    return f"{what}: " + ", ".join(figures)


def cli_viewer() -> Viewer:
    """Whoever runs `heard` on the server is an administrator."""
    import getpass

    return Viewer(f"cli:{getpass.getuser()}", admin=True)
