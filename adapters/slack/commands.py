"""The workers' slash command: `/heard invite [young] [LANG]`, `help`, `report`.

`parse` reads what the worker typed (pure). `WorkerDesk` does the database
work of an invite in one transaction, synchronously, so the channel runs it
on a worker thread after acknowledging Slack. The answers are Block Kit
payloads built here from `texts`, so the channel only moves them around.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from adapters.slack import texts as say
from adapters.slack.convert import escape
from bot import admin, questions
from bot.config import Config
from bot.errors import HeardError, StorageError
from bot.invites import Card
from bot.service import Service
from bot.texts import Texts
from storage import repo


class Action(StrEnum):
    INVITE = "invite"
    HELP = "help"
    REPORT = "report"


@dataclass(frozen=True, slots=True)
class Command:
    action: Action
    set_id: str = ""
    locale: str = ""
    unknown: str = ""
    """A word we could not read; the worker gets help that names it."""


def parse(text: str, *, set_ids: Collection[str], texts: Texts) -> Command:
    """Read `/heard …` arguments. Anything unclear becomes help, never an error."""
    words = text.split()
    if not words:
        return Command(Action.HELP)
    head = words[0].lower()
    if head in ("help", "?"):
        return Command(Action.HELP)
    if head in ("report", "reports"):
        return Command(Action.REPORT)
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


@dataclass(frozen=True, slots=True)
class Made:
    card: Card
    set_id: str
    locale: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Refused:
    """The Slack user is not a registered, active worker."""


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    """Meant for the worker, e.g. a language the set does not offer."""


Outcome = Made | Refused | Problem


class WorkerDesk:
    """Invite cards for workers, by their Slack user id. Thread-safe: every
    call opens its own transaction."""

    def __init__(self, config: Config, service: Service) -> None:
        self.config = config
        self.service = service

    @property
    def texts(self) -> Texts:
        return self.service.texts

    @property
    def set_ids(self) -> tuple[str, ...]:
        return tuple(questions.shipped())

    def make_invite(self, slack_user: str, command: Command) -> Outcome:
        """Create one invite for the worker registered as `slack_user`.
        Raises StorageError when the database cannot be used."""
        set_id = command.set_id or self.config.default_set
        locale = command.locale or self.config.default_locale
        try:
            with self.service.sessions.begin() as session:
                worker = repo.worker_by_slack_user(session, slack_user)
                if worker is None:
                    return Refused()
                card, invite = admin.create_invite(
                    session,
                    worker,
                    set_id=set_id,
                    locale=locale,
                    now=self.service.clock(),
                    valid_for=self.config.invite_valid_for,
                    bot_username=self.config.telegram.bot_username,
                    texts=self.texts,
                    actor=f"worker {worker.id} (Slack)",
                )
                return Made(card, set_id, locale, invite.expires_at)
        except StorageError:
            raise
        except HeardError as exc:
            return Problem(str(exc))
        except SQLAlchemyError as exc:
            raise StorageError("the database is not available") from exc

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
        body = say.HELP.format(
            command=command_name,
            default_set=f"“{default_title}”",
            default_language=self.texts.names.get(
                self.config.default_locale, self.config.default_locale
            ),
            example_language=example,
            languages=languages,
        )
        if unknown:
            return say.UNKNOWN_WORD.format(word=escape(unknown)) + "\n" + body
        return body

    def card_message(self, made: Made, bot_user_id: str) -> dict[str, Any]:
        """The private answer to a worker with their new invite card."""
        questionnaire = questions.shipped().get(made.set_id)
        titles = questionnaire.title if questionnaire else {}
        set_title = titles.get(self.config.default_locale) or titles.get(made.locale) or ""
        bot = f"<@{bot_user_id}>" if bot_user_id else "Heard"
        details = say.CARD_DETAILS.format(
            set_title=escape(set_title or made.set_id),
            language=escape(self.texts.names.get(made.locale, made.locale)),
            expires=f"{made.expires_at.day} {made.expires_at:%B %Y}",
        )
        code = say.CARD_CODE.format(code=made.card.code, link=made.card.link)
        how = say.CARD_HOW.format(bot=bot) + " " + say.CARD_QR_SENT.format(bot=bot)
        return {
            "text": say.CARD_FALLBACK.format(code=made.card.code, link=made.card.link),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": say.CARD_TITLE}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": details}]},
                {"type": "section", "text": {"type": "mrkdwn", "text": code}},
                {"type": "section", "text": {"type": "mrkdwn", "text": how}},
            ],
        }
