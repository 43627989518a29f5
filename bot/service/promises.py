"""Kept promises, continuity of worker and "you said, we did": the use cases,
one transaction each, for the CLI and the chat platforms.

- A worker records a promise on a family's case (its invite code). The family
  is asked, as a follow-up row of kind "promise" due at the promise's
  `ask_at`, whether it happened; the sweep keeps quiet hours, stop, forget and
  closed cases as for every follow-up. Outcomes are stored per promise but
  only ever come out counted, in reports.
- Reassigning a case moves the family to another worker from now on and
  records the change with its date.
- A "you said, we did" message goes once to each family of a team who
  answered in the last six months and can still be reached, as one outbox row
  each, in their language where a translation was given, held to daytime; it
  is shown again at the start of the family's next check-in.

Their figures reach managers only through the reports (`bot.service.reports`,
from `storage.promises.record_aggregates`), under the same disclosure control
as every other figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Config
from bot.core.errors import HeardError, NotAllowedError, NotFoundError
from bot.core.invites import normalise_code
from bot.core.promises import (
    MAX_PROMISE_CHARS,
    MAX_YOU_SAID_CHARS,
    check_family_text,
    parse_due,
)
from bot.core.texts import Texts
from bot.service.admin import find_worker
from storage import promises as prepo
from storage import repo
from storage import reports as store_reports
from storage.models import Invite, Worker
from storage.unit import Store, Tx

AUDIENCE_WINDOW = timedelta(days=183)
"""'Answered in the last 6 months.'"""


@dataclass(frozen=True, slots=True)
class PromiseMade:
    id: int
    code: str
    due_at: datetime
    ask_at: datetime


@dataclass(frozen=True, slots=True)
class Reassigned:
    code: str
    from_worker: str
    to_worker: str
    families: int
    at: datetime


@dataclass(frozen=True, slots=True)
class YouSaidPreview:
    team: str
    families: int
    by_locale: dict[str, int]
    texts: dict[str, str]
    sent: bool = False


def _case(tx: Tx, code: str) -> Invite:
    wanted = normalise_code(code) or code.strip().upper()
    invite = repo.invite_by_code(tx, wanted)
    if invite is None:
        raise NotFoundError(f"no case with the code {wanted}; check the code on the family's card")
    if invite.closed_at is not None:
        raise HeardError(f"the case {wanted} is closed; a closed case gets no more messages")
    return invite


class Promises:
    """The use cases of this module, one transaction per call."""

    def __init__(self, store: Store, config: Config, texts: Texts) -> None:
        self.store = store
        self.config = config
        self.texts = texts

    # -- promises ---------------------------------------------------------------

    def add(
        self,
        *,
        code: str,
        text: str,
        due: str,
        now: datetime,
        by_slack_user: str | None = None,
        actor: str = "admin",
    ) -> PromiseMade:
        """Record a promise on the case `code`. From Slack (`by_slack_user`)
        only the worker who has the case may. Raises HeardError with what
        to change: unknown or closed code, a family who has not started yet,
        a due date in the past, words a family may not follow."""
        with self.store.begin() as tx:
            invite = _case(tx, code)
            if by_slack_user is not None:
                worker = repo.worker_by_slack_user(tx, by_slack_user)
                if worker is None:
                    raise HeardError("you are not registered as a worker in Heard; ask an admin")
                if worker.id != invite.worker_id:
                    raise HeardError(
                        f"the case {invite.code} is another worker's; "
                        "you can record promises for your own families only"
                    )
                actor = f"worker {worker.id} (Slack)"
            family = prepo.family_of_invite(tx, invite.id)
            if family is None:
                raise HeardError(
                    f"the family with the code {invite.code} has not started with Heard yet; "
                    "record the promise once they have"
                )
            words = check_family_text(text, invite.locale, limit=MAX_PROMISE_CHARS, what="promise")
            when = parse_due(
                due, now, self.config.schedule.quiet_hours().zone, self.config.promise_ask_after
            )
            promise_id = prepo.add_promise(
                tx,
                invite_id=invite.id,
                respondent_id=family,
                team_id=invite.team_id,
                worker_id=invite.worker_id,
                text=words,
                due_at=when.at,
                ask_at=when.ask_at,
                created_at=now,
            )
            repo.schedule_followup(tx, family, "promise", f"promise:{promise_id}", when.ask_at, now)
            repo.audit(tx, actor, "promise recorded", {"promise_id": promise_id}, now)
            return PromiseMade(promise_id, invite.code, when.at, when.ask_at)

    def open_of(self, worker_ref: str) -> tuple[Worker, list[prepo.OpenPromise]]:
        with self.store.read() as tx:
            worker = find_worker(tx, worker_ref)
            return worker, prepo.open_promises(tx, worker.id)

    # -- continuity ----------------------------------------------------------------

    def reassign(
        self,
        *,
        code: str,
        worker_ref: str,
        now: datetime,
        actor: str = "admin",
        by_slack_user: str | None = None,
    ) -> Reassigned:
        """Move the case `code` to another worker. From Slack
        (`by_slack_user`) only an administrator or a manager of the case's
        team (and of the new worker's team) may. Raises HeardError saying what
        to change: unknown or closed code, unknown or inactive worker, the
        same worker; NotAllowedError for anyone else."""
        with self.store.begin() as tx:
            invite = _case(tx, code)
            if by_slack_user is not None:
                actor = f"slack:{by_slack_user}"
                self._check_manager(tx, by_slack_user, invite.team_id, "move its cases")
                try:
                    to = find_worker(tx, worker_ref)
                except NotFoundError:
                    raise NotFoundError(
                        f"{worker_ref} is not registered as a worker in Heard; "
                        "ask an administrator to register them first"
                    ) from None
                self._check_manager(tx, by_slack_user, to.team_id, "move cases to it")
            else:
                to = find_worker(tx, worker_ref)
            if not to.active:
                raise HeardError(f"{to.name} is not an active worker; choose another")
            if to.id == invite.worker_id:
                raise HeardError(f"the case {invite.code} is already {to.name}'s")
            before = prepo.worker_name(tx, invite.worker_id)
            moved = prepo.reassign_case(
                tx,
                invite=invite,
                to_worker_id=to.id,
                to_team_id=to.team_id,
                actor=actor,
                now=now,
            )
            repo.audit(
                tx,
                actor,
                "case reassigned",
                {"invite_id": invite.id, "to_worker_id": to.id},
                now,
            )
            return Reassigned(invite.code, before, to.name, moved, now)

    def _check_manager(self, tx: Tx, slack_user: str, team_id: int, what: str) -> None:
        if slack_user in self.config.admins:
            return
        if team_id in store_reports.managed_team_ids(tx, slack_user):
            return
        name = store_reports.team_by_id(tx, team_id)
        raise NotAllowedError(
            f"you are not a manager of {name.name if name else 'that team'}, so you cannot "
            f"{what}; ask one of its managers or an administrator"
        )

    # -- you said, we did -----------------------------------------------------------

    def you_said(
        self,
        *,
        team: str,
        text: str,
        text_cy: str | None,
        now: datetime,
        send: bool,
        actor: str = "admin",
        by_slack_user: str | None = None,
        request_key: str | None = None,
    ) -> YouSaidPreview:
        """Preview (send=False) or send a "you said, we did" message. Nothing
        is sent unless every text passes the checks. From Slack
        (`by_slack_user`) only an administrator or a manager of the team may.
        `request_key` names the preview being confirmed: a second send with
        the same key raises HeardError and sends nothing."""
        texts = {"en": check_family_text(text, "en", limit=MAX_YOU_SAID_CHARS, what="message")}
        if text_cy is not None:
            texts["cy"] = check_family_text(
                text_cy, "cy", limit=MAX_YOU_SAID_CHARS, what="Welsh message"
            )
        with self.store.begin() as tx:
            found = repo.team_by_name(tx, team.strip())
            if found is None:
                hint = "heard team list" if by_slack_user is None else "ask an administrator"
                raise NotFoundError(f"no team called {team!r}; for the teams' names, {hint}")
            if by_slack_user is not None:
                actor = f"slack:{by_slack_user}"
                self._check_manager(tx, by_slack_user, found.id, "message its families")
            audience = prepo.you_said_audience(tx, found.id, now - AUDIENCE_WINDOW)
            by_locale: dict[str, int] = {}
            for family in audience:
                loc = family.locale if family.locale in texts else "en"
                by_locale[loc] = by_locale.get(loc, 0) + 1
            preview = YouSaidPreview(found.name, len(audience), by_locale, texts)
            if not send:
                return preview
            if not audience:
                raise HeardError(
                    f"no family of {found.name} can get it now (none answered in the last "
                    "6 months, or they stopped); nothing was sent"
                )
            said_id = prepo.add_you_said(
                tx,
                team_id=found.id,
                text=texts,
                families=len(audience),
                actor=actor,
                now=now,
                request_key=request_key,
            )
            if said_id is None:
                raise HeardError("this message was sent already; nothing was sent again")
            daytime = self.config.schedule.quiet_hours().ends_after(now)
            rows = []
            for family in audience:
                loc = family.locale if family.locale in texts else "en"
                words = self.texts.get(loc, "you_said_message", words=texts[loc])
                rows.append(
                    repo.outbound_row(
                        platform=family.platform,
                        address=family.address,
                        text=words,
                        kind="yousaid",
                        ref=f"yousaid:{said_id}",
                        respondent_id=family.respondent_id,
                        now=daytime,
                    )
                )
            repo.enqueue_outbound_rows(tx, rows)
            repo.audit(
                tx,
                actor,
                "you said sent",
                {"you_said_id": said_id, "team_id": found.id, "families": len(audience)},
                now,
            )
            return YouSaidPreview(found.name, len(audience), by_locale, texts, sent=True)
