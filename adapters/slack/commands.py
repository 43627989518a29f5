"""The staff slash command: `/heard invite [young] [LANG]`,
`/heard promise CODE "what you promised" by DATE`, `/heard digest [on|off]`,
`help`, and for managers `/heard report [TEAM] [PERIOD] [csv]`,
`/heard reassign CODE @user` and `/heard yousaid [TEAM] "what changed"` (a
preview with a Send button).

`parse` reads what the worker typed (pure). `WorkerDesk` asks the service's
`StaffDesk` port for an invite (one transaction, synchronously, so the
channel runs it on a worker thread after acknowledging Slack). The answers
are Block Kit payloads built here from the `slack_…` texts in
`bot/locales/*.toml`, in the staff language, so the channel only moves them
around.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from adapters.slack.convert import escape
from bot.config import Config
from bot.core import questions
from bot.core.texts import STAFF_LOCALE, Texts
from bot.service.ports import (
    CaseOutcome,
    DeskProblem,
    InviteMade,
    InviteOutcome,
    NotAWorker,
    PromiseOutcome,
    ReportMade,
    ReportOutcome,
    StaffDesk,
    YouSaidOutcome,
    YouSaidSent,
)


class Action(StrEnum):
    INVITE = "invite"
    HELP = "help"
    REPORT = "report"
    PROMISE = "promise"
    PROMISE_USAGE = "promise_usage"
    REASSIGN = "reassign"
    REASSIGN_USAGE = "reassign_usage"
    YOU_SAID = "yousaid"
    YOU_SAID_USAGE = "yousaid_usage"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class Command:
    action: Action
    set_id: str = ""
    locale: str = ""
    unknown: str = ""
    """A word we could not read; the worker gets help that names it."""
    code: str = ""
    words: str = ""
    """The promise, in the worker's words."""
    due: str = ""
    worker: str = ""
    """For a reassignment: the new worker's Slack user id, or their name."""

    team: str = ""
    """For a report: the team's name as typed (may hold spaces)."""
    period: str = ""
    want_csv: bool = False
    switch: str = ""
    """For a digest: "on", "off", or "" to see the latest."""


_PROMISE = re.compile(
    r"^\s*promise\s+(?P<code>\S+)\s+[\"“”](?P<words>[^\"“”]+)[\"“”]\s+by\s+(?P<due>\S+)\s*$",
    re.IGNORECASE,
)


_REASSIGN = re.compile(r"^\s*reassign\s+(?P<code>\S+)\s+(?P<who>\S.*?)\s*$", re.IGNORECASE)
_YOU_SAID = re.compile(
    r"^\s*yousaid\s+(?P<team>[^\"“”]*?)\s*[\"“”](?P<words>[^\"“”]+)[\"“”]\s*$",
    re.IGNORECASE,
)
_MENTION = re.compile(r"^<@(?P<id>[UW][A-Z0-9]+)(?:\|[^>]*)?>$")

YOU_SAID_SEND = "heard_yousaid:send:"
"""The value of the Send button under a "you said" preview: a prefix, then
the preview as JSON (team, text, when)."""
YOU_SAID_CANCEL = "heard_yousaid:cancel"


def _person(who: str) -> str:
    """A mention Slack escaped (`<@U123|sam>`) becomes the user id; `@Sam
    Jones` becomes the name."""
    found = _MENTION.match(who)
    if found:
        return found["id"]
    return who.removeprefix("@").strip()


def parse(text: str, *, set_ids: Collection[str], texts: Texts) -> Command:
    """Read `/heard …` arguments. Anything unclear becomes help, never an error."""
    words = text.split()
    if not words:
        return Command(Action.HELP)
    head = words[0].lower()
    if head in ("help", "?"):
        return Command(Action.HELP)
    if head in ("report", "reports"):
        return _report(words[1:])
    if head in ("digest", "digests"):
        rest = [w.lower() for w in words[1:]]
        if not rest:
            return Command(Action.DIGEST)
        if len(rest) == 1 and rest[0] in ("on", "off"):
            return Command(Action.DIGEST, switch=rest[0])
        return Command(Action.HELP, unknown=words[1])
    if head == "promise":
        match = _PROMISE.match(text)
        if match is None:
            return Command(Action.PROMISE_USAGE)
        return Command(
            Action.PROMISE,
            code=match["code"],
            words=match["words"].strip(),
            due=match["due"],
        )
    if head == "reassign":
        match = _REASSIGN.match(text)
        if match is None:
            return Command(Action.REASSIGN_USAGE)
        return Command(Action.REASSIGN, code=match["code"], worker=_person(match["who"]))
    if head == "yousaid":
        match = _YOU_SAID.match(text)
        if match is None:
            return Command(Action.YOU_SAID_USAGE)
        return Command(Action.YOU_SAID, team=match["team"], words=match["words"].strip())
    if head != "invite":
        return Command(Action.HELP, unknown=words[0])
    set_id = locale = ""
    for word in words[1:]:
        if word.lower() in set_ids and not set_id:
            set_id = word.lower()
            continue
        named = texts.locale_named(word)
        if named and not locale:
            locale = named
            continue
        return Command(Action.HELP, unknown=word)
    return Command(Action.INVITE, set_id=set_id, locale=locale)


def _report(words: list[str]) -> Command:
    """`report [TEAM…] [PERIOD] [csv]`: a word that reads as a calendar period
    is the period, `csv` asks for the file, the rest is the team's name."""
    period = ""
    want_csv = False
    team: list[str] = []
    for word in words:
        if word.lower() == "csv":
            want_csv = True
        elif not period and _PERIOD.match(word):
            period = word
        else:
            team.append(word)
    return Command(Action.REPORT, team=" ".join(team), period=period, want_csv=want_csv)


_PERIOD = re.compile(r"^\d{4}(-\d{1,2}|-[Qq]\d)?$")

Made = InviteMade


class WorkerDesk:
    """Invite cards for workers, by their Slack user id. Thread-safe: every
    call opens its own transaction."""

    def __init__(self, config: Config, staff: StaffDesk) -> None:
        self.config = config
        self.staff = staff

    @property
    def texts(self) -> Texts:
        return self.staff.texts

    @property
    def set_ids(self) -> tuple[str, ...]:
        return self.staff.set_ids

    def say(self, key: str, **values: object) -> str:
        """A worker-facing text (`slack_<key>`), in the staff language."""
        return self.texts.get(STAFF_LOCALE, f"slack_{key}", **values)

    def make_invite(self, slack_user: str, command: Command) -> InviteOutcome:
        """Create one invite for the worker registered as `slack_user`.
        Raises StorageError when the database cannot be used."""
        return self.staff.invite_for_slack_user(slack_user, command.set_id, command.locale)

    def record_promise(self, slack_user: str, command: Command) -> PromiseOutcome:
        """Record a promise on one of this worker's cases. Raises
        StorageError when the database cannot be used."""
        return self.staff.promise_for_slack_user(
            slack_user, command.code, command.words, command.due
        )

    def promise_reply(self, outcome: PromiseOutcome, slack_user: str, command_name: str) -> str:
        """The private answer to `/heard promise`."""
        if isinstance(outcome, NotAWorker):
            return self.say("not_a_worker_promise", user_id=slack_user)
        if isinstance(outcome, DeskProblem):
            return self.say(
                "promise_problem",
                problem=escape(_sentence(outcome.message)),
                usage=self.say("promise_usage", command=command_name),
            )
        return self.say(
            "promise_recorded",
            code=outcome.code,
            ask=f"{outcome.ask_at.day} {outcome.ask_at:%B %Y, %H:%M} UTC",
        )

    def reassign(self, slack_user: str, command: Command) -> CaseOutcome:
        """Move a case for a manager of its team. Raises StorageError when
        the database cannot be used."""
        return self.staff.reassign_for_slack_user(slack_user, command.code, command.worker)

    def reassign_reply(self, outcome: CaseOutcome, command_name: str) -> str:
        if isinstance(outcome, DeskProblem):
            return self.say(
                "nothing_done",
                problem=escape(_sentence(outcome.message)),
                usage=self.say("reassign_usage", command=command_name),
            )
        return self.say(
            "reassigned",
            code=outcome.code,
            before=escape(outcome.from_worker),
            after=escape(outcome.to_worker),
        )

    def you_said(self, slack_user: str, command: Command) -> YouSaidOutcome:
        """A preview of a "you said" message. Raises StorageError when the
        database cannot be used."""
        return self.staff.you_said_for_slack_user(slack_user, command.team, command.words)

    def you_said_confirmed(self, slack_user: str, value: str) -> YouSaidOutcome:
        """Send the previewed message whose Send button carried `value`.
        Raises StorageError when the database cannot be used."""
        try:
            preview = json.loads(value.removeprefix(YOU_SAID_SEND))
            team, text, at = str(preview["team"]), str(preview["text"]), str(preview["at"])
        except (ValueError, KeyError, TypeError):
            return DeskProblem("this button is not one Heard made; type the command again")
        return self.staff.you_said_for_slack_user(slack_user, team, text, confirm_at=at)

    def you_said_message(self, outcome: YouSaidOutcome, command_name: str) -> dict[str, Any]:
        """The private answer: a problem, the preview with Send and Cancel
        buttons, or what was sent."""
        if isinstance(outcome, DeskProblem):
            text = self.say(
                "you_said_nothing_sent",
                problem=escape(_sentence(outcome.message)),
                usage=self.say("yousaid_usage", command=command_name),
            )
            return {"text": text}
        if isinstance(outcome, YouSaidSent):
            return {
                "text": self.say(
                    "you_said_sent", families=outcome.families, team=escape(outcome.team)
                )
            }
        if outcome.families == 0:
            return {"text": self.say("you_said_nobody", team=escape(outcome.team))}
        preview = self.say(
            "you_said_preview",
            team=escape(outcome.team),
            families=outcome.families,
            text=escape(outcome.text),
        )
        value = YOU_SAID_SEND + json.dumps(
            {"team": outcome.team, "text": outcome.text, "at": outcome.at}, ensure_ascii=False
        )
        send = self.say("you_said_send")
        return {
            "text": preview,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": preview}},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "heard_yousaid_send",
                            "style": "primary",
                            "text": {"type": "plain_text", "text": send},
                            "value": value,
                        },
                        {
                            "type": "button",
                            "action_id": "heard_yousaid_cancel",
                            "text": {"type": "plain_text", "text": self.say("you_said_cancel")},
                            "value": YOU_SAID_CANCEL,
                        },
                    ],
                },
            ],
        }

    def report(self, slack_user: str, command: Command, command_name: str) -> ReportOutcome:
        """The report a manager asked for, or a polite refusal; audited by the
        service. Raises StorageError when the database cannot be used."""
        return self.staff.report_for_slack_user(
            slack_user,
            team=command.team,
            period=command.period,
            want_csv=command.want_csv,
            command=command_name,
        )

    # -- answers ------------------------------------------------------------

    def help_text(self, command_name: str, unknown: str = "") -> str:
        default = questions.shipped().get(self.config.default_set)
        default_title = (
            default.title.get(self.config.default_locale, self.config.default_set)
            if default
            else self.config.default_set
        )
        languages = ", ".join(f"`{code}` ({name})" for code, name in self.texts.names.items())
        example = next(
            (c for c in self.texts.locales if c != self.config.default_locale),
            self.config.default_locale,
        )
        body = self.say(
            "help",
            command=command_name,
            default_set=f"“{default_title}”",
            default_language=self.texts.names.get(
                self.config.default_locale, self.config.default_locale
            ),
            example_language=example,
            languages=languages,
        )
        if unknown:
            return self.say("unknown_word", word=escape(unknown)) + "\n" + body
        return body

    def card_message(self, made: Made, bot_user_id: str) -> dict[str, Any]:
        """The private answer to a worker with their new invite card."""
        questionnaire = questions.shipped().get(made.set_id)
        titles = questionnaire.title if questionnaire else {}
        set_title = titles.get(self.config.default_locale) or titles.get(made.locale) or ""
        bot = f"<@{bot_user_id}>" if bot_user_id else "Heard"
        details = self.say(
            "card_details",
            set_title=escape(set_title or made.set_id),
            language=escape(self.texts.names.get(made.locale, made.locale)),
            expires=f"{made.expires_at.day} {made.expires_at:%B %Y}",
        )
        code = self.say("card_code", code=made.card.code, link=made.card.link)
        how = self.say("card_how", bot=bot) + " " + self.say("card_qr_sent", bot=bot)
        return {
            "text": self.say("card_fallback", code=made.card.code, link=made.card.link),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.say("card_title")}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": details}]},
                {"type": "section", "text": {"type": "mrkdwn", "text": code}},
                {"type": "section", "text": {"type": "mrkdwn", "text": how}},
            ],
        }


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def report_message(made: ReportMade) -> dict[str, Any]:
    """The private Block Kit answer with a report's figures."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": made.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(made.headline)}*"}},
    ]
    for section in made.sections:
        lines = [escape(line) for line in section.lines]
        chunk: list[str] = []
        for line in lines:
            if sum(len(x) + 1 for x in chunk) + len(line) > 2800:
                blocks.append(_section(section.title, chunk))
                chunk = []
            chunk.append(line)
        if chunk:
            blocks.append(_section(section.title, chunk))
    notes = [escape(n) for n in made.notes]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(notes)}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": made.files_note}]})
    return {"text": f"{made.title}. {made.headline}", "blocks": blocks[:50]}


def _section(title: str, lines: list[str]) -> dict[str, Any]:
    body = f"*{escape(title)}*\n" + "\n".join(f"• {line}" for line in lines)
    return {"type": "section", "text": {"type": "mrkdwn", "text": body}}
