"""The conversation engine: pure, deterministic, and the only place that knows
how a family's conversation goes.

`step(state, event, questionnaire, now, texts=..., policy=...)` returns the next
state, the replies to send and the effects for the service to apply. It does no
I/O, reads no clock and draws no random numbers, so every path through a
conversation can be tested as plain data, and a restart resumes exactly where
the stored state says.

Button data is `"<scope>:<code>"`. The scope names the prompt the button belongs
to (`q<round>.<index>` for a question, `c<round>` for consent, `forget`, `lang`,
`cmd` for commands that are valid everywhere). A press is accepted only when its
scope is the current one, so a stale or forged button can never store an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.core import effects as fx
from bot.core.messages import Choice, Reply
from bot.core.questions import Kind, Question, Questionnaire
from bot.core.safeguarding.decision import Level, Screening
from bot.core.texts import COMMANDS, Texts, normalise


class Phase(StrEnum):
    NEW = "new"
    CONSENT = "consent"
    ASKING = "asking"
    DONE = "done"
    DECLINED = "declined"
    STOPPED = "stopped"
    CONFIRM_FORGET = "confirm_forget"
    LANGUAGE = "language"
    FORGOTTEN = "forgotten"


@dataclass(frozen=True, slots=True)
class State:
    """A conversation as plain data; it fits in one row."""

    phase: Phase = Phase.NEW
    set_id: str = ""
    set_version: int = 0
    locale: str = "en"
    round: int = 0
    index: int = 0
    back_to: Phase | None = None
    """Where stop, forget and language return to."""
    danger_check: bool = False
    """The family was asked "Is anyone in danger right now?" and has not answered."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "danger_check": self.danger_check,
            "phase": self.phase.value,
            "set_id": self.set_id,
            "set_version": self.set_version,
            "locale": self.locale,
            "round": self.round,
            "index": self.index,
            "back_to": self.back_to.value if self.back_to else None,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> State:
        back = raw.get("back_to")
        return cls(
            phase=Phase(raw.get("phase", Phase.NEW.value)),
            set_id=str(raw.get("set_id", "")),
            set_version=int(raw.get("set_version", 0)),
            locale=str(raw.get("locale", "en")),
            round=int(raw.get("round", 0)),
            index=int(raw.get("index", 0)),
            back_to=Phase(back) if back else None,
            danger_check=bool(raw.get("danger_check", False)),
        )


# Events: what happened, already resolved by the service where storage was needed.


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Press:
    data: str


@dataclass(frozen=True, slots=True)
class Begin:
    """A valid invite was redeemed: start a survey with the given questionnaire."""

    locale: str


@dataclass(frozen=True, slots=True)
class InviteRejected:
    reason: str
    """"unknown", "used" or "expired"."""


@dataclass(frozen=True, slots=True)
class StartPlain:
    """A start with no invite token (Telegram `/start`)."""


@dataclass(frozen=True, slots=True)
class Unsupported:
    what: str
    text: str = ""
    """A caption or an edited message's text: still checked for danger."""


@dataclass(frozen=True, slots=True)
class FollowUpDue:
    kind: str
    """"checkin" or "reminder"."""


Event = Text | Press | Begin | InviteRejected | StartPlain | Unsupported | FollowUpDue


def _no_screen(_: str) -> Screening | None:
    return None


DANGER_SCOPE = "danger"
"""Button scope of "Is anyone in danger right now?": `danger:yes|no|unsure`."""
DANGER_CHECK = "danger_check"
"""The follow-up kind that upgrades an unanswered danger question."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The organisation's choices that shape a conversation."""

    checkin_every: timedelta = timedelta(weeks=6)
    reminder_after: timedelta = timedelta(hours=48)
    max_text_chars: int = 2000
    screen: Callable[[str], Screening | None] = _no_screen
    """Safeguarding check on free text (`bot.core.safeguarding.decision.screen`)."""
    danger_check_after: timedelta = timedelta(minutes=5)
    """An unanswered danger question becomes an urgent alert after this long."""
    help_now: Mapping[str, str] = field(default_factory=dict)
    """Per locale: where to get help now, shown when the screen finds danger."""


@dataclass(frozen=True, slots=True)
class Step:
    state: State
    replies: tuple[Reply, ...] = ()
    effects: tuple[fx.Effect, ...] = ()


CMD_SCOPE = "cmd"
_EMOJI = re.compile(r"[^\w\s'+-]", re.UNICODE)


def _label_key(label: str) -> str:
    return normalise(_EMOJI.sub(" ", label))


class _Conversation:
    """One step's working context, so helpers need not pass six arguments."""

    def __init__(
        self,
        state: State,
        questionnaire: Questionnaire | None,
        now: datetime,
        texts: Texts,
        policy: Policy,
    ) -> None:
        self.state = state
        self.q = questionnaire
        self.now = now
        self.texts = texts
        self.policy = policy
        self.replies: list[Reply] = []
        self.effects: list[fx.Effect] = []
        self.alerted = False
        self.asked_danger = False

    # -- helpers -----------------------------------------------------------

    def t(self, key: str, **values: object) -> str:
        return self.texts.get(self.state.locale, key, **values)

    def say(self, key: str, choices: tuple[Choice, ...] = (), **values: object) -> None:
        self.replies.append(Reply(self.t(key, **values), choices))

    def result(self) -> Step:
        return Step(self.state, tuple(self.replies), tuple(self.effects))

    @property
    def questionnaire(self) -> Questionnaire:
        if self.q is None:
            raise ValueError(f"phase {self.state.phase} needs a questionnaire")
        return self.q

    def scope(self) -> str:
        s = self.state
        if s.phase is Phase.ASKING:
            return f"q{s.round}.{s.index}"
        if s.phase is Phase.CONSENT:
            return f"c{s.round}"
        if s.phase is Phase.CONFIRM_FORGET:
            return "forget"
        if s.phase is Phase.LANGUAGE:
            return "lang"
        return "none"

    def question(self) -> Question:
        return self.questionnaire.question(self.state.index)

    def locales(self) -> tuple[str, ...]:
        offered = self.q.locales if self.q else self.texts.locales
        return tuple(loc for loc in offered if loc in self.texts.locales)

    # -- prompts -----------------------------------------------------------

    def prompt(self) -> None:
        """Say again whatever the family is being asked right now."""
        s, scope = self.state, self.scope()
        if s.phase is Phase.NEW:
            self.say("need_code")
        elif s.phase is Phase.CONSENT:
            self.replies.append(
                Reply(
                    self.questionnaire.consent[self._set_locale()],
                    (
                        Choice(f"{scope}:yes", self.t("consent_yes")),
                        Choice(f"{scope}:no", self.t("consent_no")),
                    ),
                    columns=2,
                )
            )
        elif s.phase is Phase.ASKING:
            self.replies.append(self._question_reply())
        elif s.phase is Phase.CONFIRM_FORGET:
            self.say(
                "forget_confirm",
                (
                    Choice(f"{scope}:yes", self.t("forget_yes")),
                    Choice(f"{scope}:no", self.t("forget_no")),
                ),
            )
        elif s.phase is Phase.LANGUAGE:
            choices = tuple(
                Choice(f"{scope}:{loc}", self.texts.names[loc]) for loc in self.locales()
            )
            self.replies.append(Reply(self.t("language_prompt"), choices, columns=len(choices)))
        elif s.phase is Phase.DONE:
            self.say("done_already")
        elif s.phase is Phase.DECLINED:
            self.say("declined")
        elif s.phase is Phase.STOPPED:
            self.say("still_stopped")

    def _set_locale(self) -> str:
        return self.questionnaire.locale_or_default(self.state.locale)

    def _question_reply(self) -> Reply:
        q, loc, scope = self.question(), self._set_locale(), self.scope()
        total = len(self.questionnaire.questions)
        text = f"{self.t('progress', n=self.state.index + 1, total=total)} {q.text[loc]}"
        labels = q.labels.get(loc, ())
        choices = [
            Choice(f"{scope}:{code}", label) for code, label in zip(q.codes, labels, strict=True)
        ]
        short = bool(labels) and all(len(label) <= 3 for label in labels)
        choices.append(Choice(f"{scope}:skip", self.t("skip")))
        return Reply(text, tuple(choices), columns=len(labels) if short else 1)

    # -- transitions -------------------------------------------------------

    def go(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def begin_survey(self) -> None:
        self.go(phase=Phase.ASKING, index=0)
        self.effects.append(
            fx.ScheduleFollowUp(
                "reminder", self.now + self.policy.reminder_after, f"reminder:{self.state.round}"
            )
        )
        self.prompt()

    def schedule_checkin(self) -> None:
        nxt = self.state.round + 1
        self.effects.append(
            fx.ScheduleFollowUp("checkin", self.now + self.policy.checkin_every, f"checkin:{nxt}")
        )

    def record(self, code: str, text: str | None = None) -> None:
        q = self.question()
        value = None if q.kind is Kind.TEXT else q.value_of(code)
        self.effects.append(fx.RecordAnswer(self.state.round, q.id, q.dimension, code, value, text))
        self.advance()

    def advance(self) -> None:
        nxt = self.state.index + 1
        if nxt < len(self.questionnaire.questions):
            self.go(index=nxt)
            self.prompt()
            return
        self.go(phase=Phase.DONE, index=nxt)
        self.effects.append(fx.CancelFollowUps(("reminder",)))
        self.schedule_checkin()
        weeks = max(1, round(self.policy.checkin_every / timedelta(weeks=1)))
        thanks = self.questionnaire.thanks[self._set_locale()]
        self.replies.append(Reply(f"{thanks} {self.t('next_time', weeks=weeks)}"))

    # -- commands (valid in every phase) -----------------------------------

    def command(self, name: str) -> None:
        s = self.state
        if name == "help":
            self.say("help", (Choice(f"{CMD_SCOPE}:hide", self.t("hide_button")),))
            self.prompt()
        elif name == "hide":
            self.effects.append(fx.HideChat())
            self.say("hidden")
        elif name == "start":
            self.start()
        elif s.phase is Phase.NEW:
            if name == "language":
                for loc in self.texts.locales:
                    self.replies.append(Reply(self.texts.get(loc, "need_code")))
            elif name == "forget":
                # A disclosure written before an invite was used carries the
                # family's pseudonym: forget erases its words too.
                self.effects.append(fx.EraseRespondent())
                self.say("nothing_held")
            elif name == "stop":
                self.say("nothing_held")
            else:
                self.prompt()
        elif name == "stop":
            self.settle_danger("stopped")
            if s.phase is not Phase.STOPPED:
                self.go(phase=Phase.STOPPED, back_to=self._resumable())
                self.effects += [fx.SetStatus("stopped"), fx.CancelFollowUps()]
            self.say("stopped")
        elif name == "forget":
            if s.phase is not Phase.CONFIRM_FORGET:
                self.go(phase=Phase.CONFIRM_FORGET, back_to=self._resumable())
            self.prompt()
        elif name == "language":
            if s.phase is not Phase.LANGUAGE:
                self.go(phase=Phase.LANGUAGE, back_to=self._resumable())
            self.prompt()
        elif name == "skip":
            if s.phase is Phase.ASKING:
                self.advance()
            else:
                self.say("nothing_to_skip")
                self.prompt()

    def _resumable(self) -> Phase:
        s = self.state
        if s.phase in (Phase.STOPPED, Phase.CONFIRM_FORGET, Phase.LANGUAGE):
            return s.back_to or Phase.DONE
        return s.phase

    def start(self) -> None:
        s = self.state
        if s.phase is Phase.STOPPED:
            back = s.back_to or Phase.DONE
            self.go(phase=back, back_to=None)
            self.effects.append(fx.SetStatus("active"))
            if back is Phase.DONE:
                self.schedule_checkin()
            self.say("welcome_back")
            self.prompt()
        elif s.phase is Phase.DECLINED:
            self.go(phase=Phase.CONSENT)
            self.effects.append(fx.SetStatus("active"))
            self.prompt()
        else:
            self.prompt()

    # -- phase handlers ----------------------------------------------------

    def on_answer(self, code: str | None, text: str | None) -> None:
        s = self.state
        if s.phase is Phase.CONSENT:
            if code == "yes":
                self.begin_survey()
            elif code == "no":
                self.go(phase=Phase.DECLINED)
                self.effects += [fx.SetStatus("declined"), fx.CancelFollowUps()]
                self.say("declined")
            else:
                self.say("consent_again")
                self.prompt()
        elif s.phase is Phase.ASKING:
            self.on_question_answer(code, text)
        elif s.phase is Phase.CONFIRM_FORGET:
            if code == "yes":
                self.settle_danger("forgotten")
                self.go(phase=Phase.FORGOTTEN, back_to=None)
                self.effects += [fx.CancelFollowUps(), fx.EraseRespondent()]
                self.say("forgotten")
            elif code == "no":
                self.go(phase=s.back_to or Phase.DONE, back_to=None)
                self.say("forget_kept")
                self.prompt()
            else:
                self.prompt()
        elif s.phase is Phase.LANGUAGE:
            loc = code if code in self.locales() else None
            if loc is None and text is not None:
                loc = self.texts.locale_named(text)
            if loc is None or loc not in self.locales():
                self.prompt()
                return
            self.go(locale=loc, phase=s.back_to or Phase.DONE, back_to=None)
            self.say("language_set")
            self.prompt()
        else:
            self.prompt()

    def on_question_answer(self, code: str | None, text: str | None) -> None:
        q = self.question()
        if code is not None and code in q.codes:
            self.record(code)
            return
        if code is None and text is not None:
            if q.kind is Kind.TEXT:
                self.record("text", text.strip())
                return
            typed = self.typed_code(q, text)
            if typed is not None:
                self.record(typed)
                return
        if not self.alerted:
            self.say("not_understood_scale" if q.kind is Kind.SCALE5 else "not_understood_choice")
        self.prompt()

    def typed_code(self, q: Question, text: str) -> str | None:
        t = normalise(text)
        word = self.texts.word_for(t)
        if word in ("yes", "no", "unsure") and word in q.codes:
            return word
        if q.kind is Kind.COUNT:
            digits = t.rstrip("+")
            if digits.isdigit() and int(digits) >= 1:
                return str(min(int(digits), 4))
        if t in q.codes:
            return t
        typed = _label_key(text)
        for labels in q.labels.values():
            for code, label in zip(q.codes, labels, strict=True):
                if _label_key(label) == typed:
                    return code
        return None

    def screen(self, text: str) -> None:
        """Check free text for danger before anything else happens to it.

        An alert: help now, an urgent alert. The uncertain band: help now, a
        "for review" alert at once, and the danger question (asked at the end
        of this step's replies), with a follow-up that upgrades the alert if
        nobody answers. Where the family cannot be asked later (no invite used
        yet, so nothing about them is kept), or a question is already waiting,
        the uncertain band is urgent straight away."""
        found = self.policy.screen(text)
        if found is None:
            return
        self.alerted = True
        pending = self.state.danger_check
        can_ask = self.state.phase not in (Phase.NEW, Phase.FORGOTTEN)
        review = found.level is Level.REVIEW and can_ask and not pending
        self.effects.append(fx.RaiseSafeguardingAlert(found.categories, text, review=review))
        if pending:
            self.settle_danger("again")
        help_now = self.policy.help_now.get(self.state.locale) or self.policy.help_now.get("en", "")
        if help_now:
            self.replies.append(Reply(help_now))
        if review:
            self.asked_danger = True
            self.go(danger_check=True)
            self.effects.append(
                fx.ScheduleFollowUp(
                    DANGER_CHECK,
                    self.now + self.policy.danger_check_after,
                    f"{DANGER_CHECK}:{self.now.isoformat()}",
                )
            )

    def danger_question(self) -> Reply:
        return Reply(
            self.t("danger_question"),
            (
                Choice(f"{DANGER_SCOPE}:yes", self.t("danger_yes")),
                Choice(f"{DANGER_SCOPE}:no", self.t("danger_no")),
                Choice(f"{DANGER_SCOPE}:unsure", self.t("danger_unsure")),
            ),
            columns=3,
        )

    def settle_danger(self, reason: str) -> None:
        """A waiting danger question is over: upgrade the alert unless the answer was no."""
        if not self.state.danger_check:
            return
        self.go(danger_check=False)
        self.effects.append(fx.CancelFollowUps((DANGER_CHECK,)))
        if reason != "no":
            self.effects.append(fx.UpgradeSafeguardingAlert(reason))

    def on_danger_answer(self, code: str) -> None:
        if not self.state.danger_check:
            self.say("danger_answered")
            self.prompt()
            return
        if code not in ("yes", "no", "unsure"):
            self.replies.append(self.danger_question())
            return
        self.settle_danger(code)
        self.say("danger_thanks_no" if code == "no" else "danger_thanks_yes")
        self.prompt()

    def on_text(self, text: str) -> None:
        before = len(self.replies)
        self.screen(text)
        if self.asked_danger:
            # One gentle question and nothing else: the survey waits. A typed
            # answer to the current question is still recorded.
            held = len(self.replies)
            self._on_text(text)
            del self.replies[held:]
            self.replies.append(self.danger_question())
            return
        if self.state.danger_check:
            word = self.texts.word_for(text)
            if word in ("yes", "no", "unsure") and len(self.replies) == before:
                self.on_danger_answer(str(word))
                return
        self._on_text(text)

    def _on_text(self, text: str) -> None:
        if len(text) > self.policy.max_text_chars:
            self.say("too_long", limit=f"{self.policy.max_text_chars:,}")
            self.prompt()
            return
        word = self.texts.word_for(text)
        if word in COMMANDS:
            self.command(word)
            return
        if self.state.phase in (Phase.CONSENT, Phase.CONFIRM_FORGET) and word in ("yes", "no"):
            self.on_answer(word, None)
            return
        if self.state.phase in (Phase.ASKING, Phase.LANGUAGE, Phase.CONSENT, Phase.CONFIRM_FORGET):
            self.on_answer(None, text)
            return
        self.prompt()

    def on_press(self, data: str) -> None:
        scope, sep, code = data.partition(":")
        # A skip button belongs to its question's scope, never to the command scope.
        if sep and scope == CMD_SCOPE and code in COMMANDS and code != "skip":
            self.command(code)
            return
        if sep and scope == DANGER_SCOPE:
            self.on_danger_answer(code)
            return
        if not sep or scope != self.scope():
            self.say("stale_button")
            self.prompt()
            return
        if code == "skip" and self.state.phase is Phase.ASKING:
            self.advance()
            return
        if self.state.phase is Phase.ASKING and code not in self.question().codes:
            self.say("stale_button")
            self.prompt()
            return
        self.on_answer(code, None)

    def on_follow_up(self, kind: str) -> None:
        s = self.state
        if kind == DANGER_CHECK:
            self.settle_danger("no_answer")
        elif kind == "checkin" and s.phase is Phase.DONE:
            self.go(phase=Phase.CONSENT, round=s.round + 1, index=0)
            self.say("checkin")
            self.prompt()
        elif kind == "reminder" and s.phase is Phase.ASKING:
            self.say("reminder")
            self.prompt()
        elif kind == "reminder" and s.phase is Phase.CONSENT:
            self.say("reminder_consent")
            self.prompt()

    def on_begin(self, locale: str) -> None:
        q = self.questionnaire
        self.go(
            phase=Phase.CONSENT,
            set_id=q.id,
            set_version=q.version,
            locale=q.locale_or_default(locale),
            round=self.state.round + 1,
            index=0,
            back_to=None,
        )
        self.effects.append(fx.SetStatus("active"))
        self.prompt()


def step(
    state: State,
    event: Event,
    questionnaire: Questionnaire | None,
    now: datetime,
    *,
    texts: Texts,
    policy: Policy | None = None,
) -> Step:
    """Advance one conversation by one event. Pure: same inputs, same outputs."""
    conv = _Conversation(state, questionnaire, now, texts, policy or Policy())
    if state.phase is Phase.FORGOTTEN:
        conv.go(phase=Phase.NEW)
    match event:
        case Text(text=text):
            conv.on_text(text)
        case Press(data=data):
            conv.on_press(data)
        case Begin(locale=locale):
            conv.on_begin(locale)
        case InviteRejected(reason=reason):
            conv.say(f"invite_{reason}" if reason in ("used", "expired") else "invite_unknown")
        case StartPlain():
            conv.start()
        case Unsupported(text=text):
            if text:
                conv.screen(text)
            conv.say("unsupported")
            if conv.asked_danger:
                conv.replies.append(conv.danger_question())
            else:
                conv.prompt()
        case FollowUpDue(kind=kind):
            conv.on_follow_up(kind)
    return conv.result()
