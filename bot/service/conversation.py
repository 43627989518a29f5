"""The conversation: one inbound message, one database transaction.

Dedupe on the platform's delivery id, load the conversation, run one pure
engine step, then store the new state, the answers and the other effects
together. If anything fails the whole transaction rolls back, the delivery id
is not recorded, and the platform's redelivery is processed as new: nothing is
lost and nothing is stored twice.

Replies are durable: with a `ReplyQueue` (as in `heard run`) they are written
to the outbox in that same transaction, the help-now text first, already
claimed by this process so its sender sends them the moment the transaction
commits (`bot.runtime.outbox.Sender.send_now`). If the chat still has an
earlier message waiting, they queue behind it instead. An outage after the
commit delays them; nothing drops them.

Poison: a message the database refuses (`RejectedData`) is retried with the
platform's redelivery; after `SET_ASIDE_AFTER` refusals it is set aside in a
fresh transaction (its delivery id recorded, a count without its text), its
words still screened and an alert raised if they suggest danger, so neither
the chat nor the polling offset stays stuck on it.

The structure, for anyone adding to the inbound path: `handle` is the one
entry point and owns the transaction and the error handling; `_handle` is the
step inside it (dedupe, load, engine, apply effects, queue replies);
`_set_aside` the fallback when storing keeps failing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.core import effects as fx
from bot.core import engine
from bot.core import questions as question_sets
from bot.core.clean import clean_inbound, clean_text
from bot.core.engine import Phase, State
from bot.core.errors import HeldForSafety, RejectedData, StorageError
from bot.core.invites import is_worker_token, normalise_code
from bot.core.messages import Inbound, InboundKind, Outbound
from bot.core.privacy import log_ref, pseudonym
from bot.core.questions import Questionnaire
from bot.core.texts import STAFF_LOCALE, Texts
from bot.service.alerts import (
    AlertContext,
    AlertSink,
    AlertUpgrade,
    UpgradeContext,
    log_alert,
    log_upgrade,
)
from bot.service.spool import AlertSpool
from storage import erasure, repo, worker_invites
from storage import promises as promise_repo
from storage.models import Invite
from storage.unit import Store, Tx

log = logging.getLogger("heard.service")

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]


SET_ASIDE_AFTER = 3
"""Refusals of one message by the database before it is set aside."""
_REMEMBER_REFUSALS = 10_000


@dataclass(frozen=True, slots=True)
class ReplyQueue:
    """Where `handle` queues replies: claimed by `owner` (the sending process)
    under a lease of `lease`, after which any sender may take them over."""

    owner: str
    lease: timedelta


@dataclass
class _Loaded:
    row: repo.RespondentRow | None
    state: State


class Conversations:
    """Runs engine steps against storage. Thread-safe: it holds no mutable state
    between calls; each call opens its own transaction."""

    def __init__(
        self,
        store: Store,
        *,
        secret: bytes,
        texts: Texts,
        clock: Clock,
        monotonic: Monotonic,
        policy: engine.Policy | None = None,
        sets: Mapping[str, Questionnaire] | None = None,
        default_set: str = "adult",
        alert_sink: AlertSink = log_alert,
        alert_upgrade: AlertUpgrade = log_upgrade,
        spool: AlertSpool | None = None,
    ) -> None:
        """`clock` (UTC wall time) and `monotonic` (for the sweep's time
        budget) come from the composition root, so tests can replace them."""
        self.store = store
        self.secret = secret
        self.texts = texts
        self.policy = policy or engine.Policy()
        self.clock = clock
        self.sets = dict(sets) if sets is not None else question_sets.shipped()
        self.default_set = default_set
        self.alert_sink = alert_sink
        self.alert_upgrade = alert_upgrade
        self.spool = spool
        self.monotonic = monotonic
        self._refusals: dict[tuple[str, str], int] = {}
        self.set_aside_count = 0

    # -- inbound -------------------------------------------------------------

    def handle(self, inbound: Inbound, *, queue: ReplyQueue | None = None) -> list[Outbound]:
        """Process one inbound message exactly once; return the replies.

        With `queue`, the replies are in the outbox when this returns; the
        ones returned carry their `outbox_id` and are for `queue.owner` to
        send now (none when the chat is behind: the sender sends them in
        turn). Raises StorageError if the message could not be stored and
        should be delivered again.

        Every string of `inbound` is cleaned first (`bot.core.clean`), so
        what the screen, the engine and the database see can be stored."""
        inbound = clean_inbound(inbound)
        try:
            with self.store.begin() as tx:
                replies = self._handle(tx, inbound, queue)
            if self._refusals:
                self._refusals.pop((inbound.platform, inbound.message_key), None)
            return replies
        except RejectedData as exc:
            key = (inbound.platform, inbound.message_key)
            refusals = self._refusals.get(key, 0) + 1
            if len(self._refusals) >= _REMEMBER_REFUSALS:
                self._refusals.clear()
            self._refusals[key] = refusals
            reason = type(exc.__cause__ or exc).__name__
            if refusals < SET_ASIDE_AFTER:
                log.warning(
                    "the database refused a %s message (%s), attempt %d of %d",
                    inbound.platform,
                    reason,
                    refusals,
                    SET_ASIDE_AFTER,
                )
                raise
            self._refusals.pop(key, None)
            return self._set_aside(inbound, reason, refusals, queue)
        except StorageError as exc:
            log.error(
                "database error while handling a %s message: %s",
                inbound.platform,
                type(exc.__cause__ or exc).__name__,
            )
            help_now = self._hold_for_safety(inbound)
            if help_now:
                raise HeldForSafety(help_now) from exc
            raise

    # -- safety without the database -------------------------------------------

    def _hold_for_safety(self, inbound: Inbound) -> list[Outbound]:
        """Screen the message without the database; if it is flagged, spool the
        alert and return the help message to show now (empty otherwise).

        Nothing about the conversation is known here, so the uncertain band is
        treated as urgent: the family cannot be asked until the database is back."""
        if inbound.kind not in (InboundKind.TEXT, InboundKind.UNSUPPORTED) or not inbound.text:
            return []
        found = self.policy.screen(inbound.text)
        if found is None:
            return []
        locale = inbound.language_hint if inbound.language_hint in self.texts.locales else "en"
        record = {
            "delivery_key": f"{inbound.platform}:{inbound.message_key}",
            "pseudonym": pseudonym(self.secret, inbound.platform, inbound.chat_id),
            "platform": inbound.platform,
            "locale": locale,
            "categories": list(found.categories),
            "text": inbound.text,
            "at": self.clock().isoformat(),
        }
        if self.spool is None:
            log.error("safeguarding alert could NOT be kept: no alert spool configured")
        else:
            try:
                self.spool.put(record)
                log.warning("database down: safeguarding alert kept in the local spool")
            except OSError as exc:
                log.error("safeguarding alert could NOT be spooled: %s", type(exc).__name__)
        help_now = self.policy.help_now.get(locale) or self.policy.help_now.get("en", "")
        return [Outbound(inbound.platform, inbound.chat_id, help_now)] if help_now else []

    def drain_spool(self) -> int:
        """Raise the alerts kept while the database was down (one transaction);
        how many were new. Runs on the sweep's timer; raises StorageError while
        the database is still down (the spool is kept)."""
        if self.spool is None:
            return 0
        records, upto = self.spool.pending()
        if not records:
            return 0
        raised = 0
        with self.store.begin() as tx:
            for rec in records:
                key = str(rec["delivery_key"])
                if repo.alert_by_delivery(tx, key) is not None:
                    continue
                row = repo.respondent_with_state(tx, str(rec["pseudonym"]))
                self.alert_sink(
                    tx,
                    AlertContext(
                        respondent_id=row.id if row else None,
                        team_id=row.team_id if row else None,
                        worker_id=row.worker_id if row else None,
                        invite_id=row.invite_id if row else None,
                        platform=str(rec["platform"]),
                        locale=str(rec["locale"]),
                        categories=tuple(rec["categories"]),
                        text=str(rec["text"]),
                        at=datetime.fromisoformat(str(rec["at"])),
                        pseudonym=str(rec["pseudonym"]),
                        delivery_key=key,
                    ),
                )
                raised += 1
        self.spool.remove(upto)
        log.info("alert spool drained: %d raised, %d already known", raised, len(records) - raised)
        return raised

    def _set_aside(
        self, inbound: Inbound, reason: str, attempts: int, queue: ReplyQueue | None
    ) -> list[Outbound]:
        """Skip a message the database keeps refusing, in a transaction of its
        own: record its delivery id and a text-free count, screen its words
        and raise an alert if they suggest danger, and tell the family."""
        now = self.clock()
        pseud = pseudonym(self.secret, inbound.platform, inbound.chat_id)
        text = inbound.text or ""
        for keep_text in (True, False):
            try:
                with self.store.begin() as tx:
                    if not repo.mark_processed(tx, inbound.platform, inbound.message_key, now):
                        return []
                    row = repo.respondent_with_state(tx, pseud)
                    state = State.from_dict(row.state) if row and row.state else State()
                    result = engine.set_aside(state, text, texts=self.texts, policy=self.policy)
                    alerts = tuple(
                        fx.RaiseSafeguardingAlert(
                            e.categories, clean_text(e.text) if keep_text else ""
                        )
                        for e in result.effects
                        if isinstance(e, fx.RaiseSafeguardingAlert)
                    )
                    self._apply(tx, row, engine.Step(state, (), alerts), inbound.platform, now)
                    repo.set_aside_inbound(
                        tx, inbound.platform, reason, attempts, bool(alerts), now
                    )
                    outbound = [
                        Outbound.to(inbound.platform, inbound.chat_id, r) for r in result.replies
                    ]
                    if queue is not None:
                        outbound = self._queue(tx, row, outbound, queue, now)
            except RejectedData:
                if keep_text:
                    continue
                raise
            self.set_aside_count += 1
            log.error(
                "set aside a %s message the database refused %d times (%s)%s",
                inbound.platform,
                attempts,
                reason,
                "; safeguarding alert raised" if alerts else "",
            )
            return outbound
        return []

    def _queue(
        self,
        tx: Tx,
        row: repo.RespondentRow | None,
        outbound: list[Outbound],
        queue: ReplyQueue,
        now: datetime,
        *,
        farewell: bool = False,
    ) -> list[Outbound]:
        """Write the replies to the outbox; return the ones to send at once.
        `farewell`: the family has just been erased, so the rows are deleted
        once sent (`storage.erasure.FAREWELL_KIND`)."""
        if not outbound:
            return []
        first = outbound[0]
        behind = repo.chat_is_behind(tx, first.platform, first.chat_id, queue.owner)
        respondent_id = row.id if row is not None else None
        reply_kind = erasure.FAREWELL_KIND if farewell else repo.REPLY_KIND
        rows = [
            repo.outbound_row(
                platform=out.platform,
                address=out.chat_id,
                text=out.text,
                choices=out.choices,
                columns=out.columns,
                kind=repo.HIDE_KIND if out.hide_chat else reply_kind,
                respondent_id=respondent_id,
                now=now,
            )
            for out in outbound
        ]
        ids = repo.queue_replies(
            tx, rows, owner=None if behind else queue.owner, lease_until=now + queue.lease
        )
        if behind:
            log.info("replies queued behind an earlier %s message to the same chat", first.platform)
            return []
        return [replace(out, outbox_id=i) for out, i in zip(outbound, ids, strict=True)]

    def _handle(self, tx: Tx, inbound: Inbound, queue: ReplyQueue | None = None) -> list[Outbound]:
        now = self.clock()
        if not repo.mark_processed(tx, inbound.platform, inbound.message_key, now):
            log.info("duplicate %s delivery ignored", inbound.platform)
            return []
        if inbound.kind is InboundKind.START and inbound.token and is_worker_token(inbound.token):
            bound = self._bind_worker(tx, inbound, now)
            if bound is not None:
                return self._queue(tx, None, bound, queue, now) if queue is not None else bound
        pseud = pseudonym(self.secret, inbound.platform, inbound.chat_id)
        loaded = self._load(tx, pseud)
        event, invite = self._event(tx, inbound, loaded, now)
        questionnaire = self._questionnaire(invite.set_id if invite else loaded.state.set_id)
        result = engine.step(
            loaded.state, event, questionnaire, now, texts=self.texts, policy=self.policy
        )
        respondent_id = loaded.row.id if loaded.row else None
        if isinstance(event, engine.Begin) and invite is not None:
            if respondent_id is None:
                respondent_id = repo.create_respondent(
                    tx, pseudonym=pseud, platform=inbound.platform, invite=invite, now=now
                )
            else:
                repo.rebind_respondent(tx, respondent_id, invite)
            loaded.row = repo.RespondentRow(
                respondent_id, invite.team_id, invite.worker_id, invite.id, "active", None
            )
            repo.save_contact(tx, respondent_id, inbound.platform, inbound.chat_id, now)
        delivery = f"{inbound.platform}:{inbound.message_key}"
        self._apply(tx, loaded.row, result, inbound.platform, now, pseud, delivery)
        if loaded.row is not None and result.state.phase is not Phase.FORGOTTEN:
            repo.save_state(tx, loaded.row.id, result.state.to_dict(), now)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "handled %s %s ref=%s phase %s -> %s, %d replies",
                inbound.platform,
                inbound.kind.value,
                log_ref(self.secret, inbound.platform, inbound.chat_id),
                loaded.state.phase.value,
                result.state.phase.value,
                len(result.replies),
            )
        outbound = [Outbound.to(inbound.platform, inbound.chat_id, r) for r in result.replies]
        if any(isinstance(e, fx.HideChat) for e in result.effects):
            hide = Outbound(inbound.platform, inbound.chat_id, "", hide_chat=True)
            outbound.insert(0, hide)
        if queue is not None:
            forgotten = result.state.phase is Phase.FORGOTTEN
            outbound = self._queue(
                tx, None if forgotten else loaded.row, outbound, queue, now, farewell=forgotten
            )
        return outbound

    def _bind_worker(self, tx: Tx, inbound: Inbound, now: datetime) -> list[Outbound] | None:
        """A worker pressed Start on their own invite link: their chat gets
        their digests. None when no worker invite has the token (then it is
        looked up as a family's). The worker's chat never becomes a family."""
        got = worker_invites.redeem(tx, inbound.token or "", inbound.chat_id, now)
        if got.outcome == "unknown":
            return None
        if got.outcome == "bound":
            repo.audit(tx, "worker invite", "worker chat bound", {"worker_id": got.worker_id}, now)
        log.info("a worker invite link was pressed: %s", got.outcome)
        text = self.texts.get(STAFF_LOCALE, f"worker_link_{got.outcome}", name=got.worker)
        return [Outbound(inbound.platform, inbound.chat_id, text)]

    def _load(self, tx: Tx, pseud: str) -> _Loaded:
        row = repo.respondent_with_state(tx, pseud, lock=True)
        state = State.from_dict(row.state) if row and row.state else State()
        return _Loaded(row, state)

    def _questionnaire(self, set_id: str) -> Questionnaire | None:
        if set_id in self.sets:
            return self.sets[set_id]
        return self.sets.get(self.default_set)

    def _event(
        self, tx: Tx, inbound: Inbound, loaded: _Loaded, now: datetime
    ) -> tuple[engine.Event, Invite | None]:
        if inbound.kind is InboundKind.START:
            if inbound.token:
                return self._redeem(tx, inbound.token, loaded, now, by_token=True)
            return engine.StartPlain(), None
        if inbound.kind is InboundKind.BUTTON:
            return engine.Press(inbound.data), None
        if inbound.kind is InboundKind.UNSUPPORTED:
            return engine.Unsupported(inbound.unsupported_what, inbound.text), None
        text = inbound.text
        code = normalise_code(text) if self.texts.word_for(text) is None else None
        phase = loaded.state.phase
        if code and phase in (Phase.NEW, Phase.FORGOTTEN, Phase.DONE, Phase.DECLINED):
            return self._redeem(tx, code, loaded, now, by_token=False)
        return engine.Text(text), None

    def _redeem(
        self, tx: Tx, ref: str, loaded: _Loaded, now: datetime, *, by_token: bool
    ) -> tuple[engine.Event, Invite | None]:
        invite = repo.invite_by_token(tx, ref) if by_token else repo.invite_by_code(tx, ref)
        if invite is None:
            return engine.InviteRejected("unknown"), None
        if invite.used or invite.used_at is not None:
            if loaded.row is not None and loaded.row.invite_id == invite.id:
                return engine.StartPlain(), None
            return engine.InviteRejected("used"), None
        if invite.closed_at is not None or invite.expires_at <= now:
            return engine.InviteRejected("expired"), None
        if invite.set_id not in self.sets:
            log.error("invite refers to a question set that is not installed")
            return engine.InviteRejected("expired"), None
        if not repo.claim_invite(tx, invite.id, now):
            return engine.InviteRejected("used"), None
        return engine.Begin(invite.locale), invite

    # -- effects -----------------------------------------------------------------

    def _apply(
        self,
        tx: Tx,
        row: repo.RespondentRow | None,
        result: engine.Step,
        platform: str,
        now: datetime,
        pseud: str | None = None,
        delivery: str | None = None,
    ) -> None:
        state = result.state
        for effect in result.effects:
            if isinstance(effect, fx.UpgradeSafeguardingAlert):
                if pseud is not None:
                    self.alert_upgrade(tx, UpgradeContext(pseud, effect.reason, now))
                continue
            if isinstance(effect, fx.EraseRespondent) and row is None and pseud is not None:
                repo.erase_alert_words(tx, pseud, now)
                continue
            if isinstance(effect, fx.RaiseSafeguardingAlert):
                self.alert_sink(
                    tx,
                    AlertContext(
                        respondent_id=row.id if row else None,
                        team_id=row.team_id if row else None,
                        worker_id=row.worker_id if row else None,
                        invite_id=row.invite_id if row else None,
                        platform=platform,
                        locale=state.locale,
                        categories=effect.categories,
                        text=effect.text,
                        at=now,
                        review=effect.review,
                        pseudonym=pseud,
                        delivery_key=delivery,
                    ),
                )
                continue
            if row is None:
                continue
            match effect:
                case fx.RecordAnswer():
                    repo.add_answer(
                        tx,
                        respondent_id=row.id,
                        round=effect.round,
                        set_id=state.set_id,
                        set_version=state.set_version,
                        question_id=effect.question_id,
                        dimension=effect.dimension,
                        code=effect.code,
                        value=effect.value,
                        text=effect.text,
                        team_id=row.team_id,
                        worker_id=row.worker_id,
                        answered_at=now,
                    )
                case fx.ScheduleFollowUp():
                    repo.schedule_followup(tx, row.id, effect.kind, effect.key, effect.due_at, now)
                case fx.CancelFollowUps():
                    repo.cancel_followups(tx, row.id, effect.kinds)
                case fx.SetStatus():
                    repo.set_status(tx, row.id, effect.status)
                case fx.PromiseAsked():
                    promise_repo.mark_promise_asked(tx, effect.promise_id, now)
                case fx.RecordPromiseOutcome():
                    promise_repo.record_promise_outcome(
                        tx,
                        promise_id=effect.promise_id,
                        respondent_id=row.id,
                        outcome=effect.outcome,
                        repaired=effect.repaired,
                        now=now,
                    )
                case fx.EraseRespondent():
                    repo.erase_respondent(tx, row.id, now)
                    repo.audit(tx, "family", "erased own data", {}, now)

    # -- follow-ups ----------------------------------------------------------------

    def follow_up(self, tx: Tx, respondent_id: int, kind: str) -> list[Outbound]:
        """Run a due follow-up inside the caller's transaction; the replies to
        send (none if the family stopped, declined or is no longer reachable)."""
        now = self.clock()
        row = repo.respondent_by_id(tx, respondent_id)
        contact = repo.contact_of(tx, respondent_id)
        if row is None:
            return []
        if kind == engine.DANGER_CHECK:
            # An unanswered danger question is upgraded whatever the family's
            # status: the duty team must hear, even if we may not write to them.
            return self._danger_check(tx, row.pseudonym, contact, now)
        if contact is None or row.status != "active":
            return []
        conv = repo.respondent_with_state(tx, row.pseudonym)
        if conv is None or conv.state is None:
            return []
        state = State.from_dict(conv.state)
        ref, words = 0, ""
        if kind == "promise":
            due = promise_repo.next_promise_to_ask(tx, respondent_id, now)
            if due is None:
                return []
            ref, words = due
        elif kind == "checkin":
            said = promise_repo.you_said_for_checkin(tx, row.team_id, respondent_id)
            if said:
                words = said.get(state.locale) or said.get("en", "")
        result = engine.step(
            state,
            engine.FollowUpDue(kind, ref, words),
            self._questionnaire(state.set_id),
            now,
            texts=self.texts,
            policy=self.policy,
        )
        self._apply(tx, conv, result, contact[0], now, row.pseudonym)
        repo.save_state(tx, respondent_id, result.state.to_dict(), now)
        return [Outbound.to(contact[0], contact[1], r) for r in result.replies]

    def _danger_check(
        self, tx: Tx, pseud: str, contact: tuple[str, str] | None, now: datetime
    ) -> list[Outbound]:
        conv = repo.respondent_with_state(tx, pseud)
        if conv is None or conv.state is None:
            return []
        state = State.from_dict(conv.state)
        result = engine.step(
            state,
            engine.FollowUpDue(engine.DANGER_CHECK),
            self._questionnaire(state.set_id),
            now,
            texts=self.texts,
            policy=self.policy,
        )
        self._apply(tx, conv, result, contact[0] if contact else "", now, pseud)
        repo.save_state(tx, conv.id, result.state.to_dict(), now)
        return []

    def mark_unreachable(self, platform: str, chat_id: str) -> bool:
        """The platform says this person blocked us: send nothing more, ever,
        until they write again. Returns False if we hold nothing about them."""
        pseud = pseudonym(self.secret, platform, chat_id)
        with self.store.begin() as tx:
            row = repo.respondent_with_state(tx, pseud)
            if row is None:
                return False
            repo.set_status(tx, row.id, "unreachable")
            repo.cancel_followups(tx, row.id)
            log.info("respondent marked unreachable on %s", platform)
            return True
