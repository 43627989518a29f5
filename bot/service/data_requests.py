"""Data requests from a family, acted on by an administrator (UK GDPR
Article 15, the right of access, and Article 17, the right to erasure).

A family is found by their case's invite code. `export` gathers everything
Heard holds about them; `forget` erases them exactly as the in-chat FORGET
does (`storage.repo.erase_respondent`), in one transaction, and reports what
it removed per table. Both are written to the audit log with counts only, so
the audit entry itself never leads back to the family.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.core.errors import NotFoundError
from bot.core.invites import normalise_code
from bot.core.questions import Questionnaire
from bot.service.conversation import Conversations
from storage import data_requests as held
from storage import repo
from storage.unit import Tx


@dataclass(frozen=True, slots=True)
class Erasure:
    respondents: int
    removed: dict[str, int]
    """Rows removed per table (safeguarding_alerts: alerts whose link to the
    family and whose text were cleared; the alert itself stays for the duty
    team's record)."""


def _code(raw: str) -> str:
    code = normalise_code(raw)
    if code is None:
        raise NotFoundError(
            f"{raw!r} is not an invite code; codes look like ABCD-3467 (see the family's card)"
        )
    return code


class DataRequests:
    def __init__(self, conversations: Conversations, config: Config) -> None:
        self.conversations = conversations
        self.store = conversations.store
        self.config = config

    def _family(self, tx: Tx, raw_code: str) -> list[int]:
        code = _code(raw_code)
        if not held.invite_exists(tx, code):
            raise NotFoundError(f"no case has the code {code}; check the code on the card")
        return held.respondents_for_code(tx, code)

    def holdings(self, raw_code: str) -> dict[str, int]:
        """What `forget` would remove, per table, without changing anything."""
        with self.store.read() as tx:
            return _sum(held.holdings(tx, rid) for rid in self._family(tx, raw_code))

    def forget(self, raw_code: str, *, actor: str) -> Erasure:
        now = self.conversations.clock()
        with self.store.begin() as tx:
            ids = self._family(tx, raw_code)
            removed = _sum(held.holdings(tx, rid) for rid in ids)
            for rid in ids:
                repo.erase_respondent(tx, rid, now)
            repo.audit(
                tx,
                actor,
                "erased a family's data on request",
                {"respondents": len(ids), "removed": removed},
                now,
            )
        return Erasure(len(ids), removed)

    def export(self, raw_code: str, *, actor: str) -> dict[str, Any]:
        """Everything Heard holds about the family, as JSON-ready values.
        The read and its audit entry are one transaction."""
        now = self.conversations.clock()
        with self.store.begin() as tx:
            ids = self._family(tx, raw_code)
            people = [self._person(tx, rid) for rid in ids]
            counts = _sum(held.holdings(tx, rid) for rid in ids)
            repo.audit(
                tx,
                actor,
                "exported a family's data on request",
                {"respondents": len(ids), "rows": counts},
                now,
            )
        return {
            "organisation": self.config.organisation,
            "exported_at": _iso(now),
            "code": _code(raw_code),
            "people": people,
            "rows_held": counts,
        }

    def _person(self, tx: Tx, rid: int) -> dict[str, Any]:
        record = held.respondent_record(tx, rid) or {}
        state = (record.get("conversation") or {}).get("state") or {}
        locale = str(state.get("locale") or self.config.default_locale)
        set_id = str(state.get("set_id") or (record.get("case") or {}).get("question_set") or "")
        q = self.conversations.sets.get(set_id)
        conversation = record.get("conversation")
        return {
            "platform": record.get("platform"),
            "status": record.get("status"),
            "first_contact": _iso(record.get("first_contact")),
            "language": locale,
            "case": {k: _iso(v) for k, v in (record.get("case") or {}).items()},
            "contact": (
                {k: _iso(v) for k, v in record["contact"].items()}
                if record.get("contact")
                else None
            ),
            "conversation": (
                {
                    "phase": state.get("phase"),
                    "question_set": set_id or None,
                    "round": state.get("round"),
                    "updated": _iso(conversation["updated"]),
                }
                if conversation
                else None
            ),
            "answers": [
                {
                    "round": a.round,
                    "question_set": a.set_id,
                    "question_set_version": a.set_version,
                    "question": _question_text(q, a.question_id, locale),
                    "question_id": a.question_id,
                    "answer": _answer_label(q, a.question_id, a.code, locale),
                    "text": a.text,
                    "answered_at": _iso(a.answered_at),
                }
                for a in held.answers(tx, rid)
            ],
            "followups": [
                {"kind": f.kind, "due_at": _iso(f.due_at), "status": f.status}
                for f in held.followups(tx, rid)
            ],
            "messages": [
                {
                    "kind": m.kind,
                    "status": m.status,
                    "queued_at": _iso(m.created_at),
                    "sent_at": _iso(m.sent_at),
                    "text": m.text,
                }
                for m in held.messages(tx, rid)
            ],
            "alerts": [self._alert(a) for a in held.alerts(tx, rid)],
        }

    def _alert(self, alert: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "raised_at": _iso(alert.at),
            "categories": [c for c in alert.categories.split(",") if c],
            "what_you_wrote": alert.text,
            "status": alert.status,
        }
        if self.config.data_requests.include_duty_notes:
            out["duty_team"] = {
                "sent_times": alert.sends,
                "delivered_at": _iso(alert.delivered_at),
                "acknowledged_by": alert.acknowledged_by,
                "acknowledged_at": _iso(alert.acknowledged_at),
            }
        return out


def _sum(parts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for table, n in part.items():
            total[table] = total.get(table, 0) + n
    return total


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _question(q: Questionnaire | None, question_id: str) -> Any:
    if q is None:
        return None
    return next((x for x in q.questions if x.id == question_id), None)


def _question_text(q: Questionnaire | None, question_id: str, locale: str) -> str | None:
    question = _question(q, question_id)
    if question is None or q is None:
        return None
    return str(question.text.get(q.locale_or_default(locale)))


def _answer_label(q: Questionnaire | None, question_id: str, code: str, locale: str) -> str:
    question = _question(q, question_id)
    if question is None or q is None or code not in question.codes:
        return code
    labels = question.labels.get(q.locale_or_default(locale), ())
    index = question.codes.index(code)
    return str(labels[index]) if index < len(labels) else code
