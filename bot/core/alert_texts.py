"""What a safeguarding alert says to the duty team, and where it may go.

Pure: the service gathers the facts (the alert, its case) and these functions
turn them into words. The wording is in `bot/locales/*.toml` (keys `alert_…`);
alerts are written in the staff language, `bot.core.texts.STAFF_LOCALE`.
A target is a Slack channel id ("C…", "G…", optionally "slack:C…") or a
Telegram chat ("telegram:-100…"), never a person's DM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.errors import ConfigError
from bot.core.texts import STAFF_LOCALE, Texts, load

ACK_PREFIX = "alert:ack:"
"""Button data of the duty team's Acknowledge button: `alert:ack:<id>`."""
KIND = "alert"
"""The outbox kind of an alert message (never held by quiet hours)."""
CATEGORIES = ("self_harm", "harm_from_others", "child_at_risk", "immediate_danger", "concern")
"""Safeguarding categories with their own words (`alert_category_<name>`);
"concern" is a detection of the learned model that no rule explains."""
UPGRADES = ("yes", "unsure", "no_answer", "again", "stopped", "forgotten")
"""Why a "for review" alert became urgent (`alert_upgrade_<reason>`)."""


@dataclass(frozen=True, slots=True)
class Target:
    platform: str
    address: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.address}"


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What the duty team is told about one alert."""

    id: int
    categories: tuple[str, ...]
    at: datetime
    text: str
    case: str
    review: bool = False
    upgraded: str | None = None
    """Why a "for review" alert became urgent (one of UPGRADES)."""
    ask_within: timedelta = timedelta(minutes=5)


def parse_target(text: str, key: str) -> Target | None:
    """`"C0123"`, `"slack:C0123"` or `"telegram:-100123"`; None when empty."""
    value = text.strip()
    if not value:
        return None
    platform, sep, address = value.partition(":")
    if not sep:
        platform, address = "slack", value
    platform = platform.lower()
    if platform == "slack" and address[:1] in ("C", "G"):
        return Target("slack", address)
    if platform == "telegram" and address.lstrip("-").isdigit():
        return Target("telegram", address)
    raise ConfigError(
        f'{key}: {text!r} is not a duty channel; use a Slack channel id like "C0123ABCD" '
        'or a Telegram chat like "telegram:-1001234567890" (never a person\'s DM)'
    )


def _staff(texts: Texts | None) -> tuple[Texts, str]:
    return texts or load(), STAFF_LOCALE


def describe(categories: tuple[str, ...], *, texts: Texts | None = None) -> str:
    t, loc = _staff(texts)
    return ", ".join(
        t.get(loc, f"alert_category_{c}") if c in CATEGORIES else c.replace("_", " ")
        for c in categories
    )


def describe_case(
    team: str | None, worker: str | None, code: str | None, *, texts: Texts | None = None
) -> str:
    """The case line of an alert; the parts that are known."""
    t, loc = _staff(texts)
    parts = []
    if team is not None:
        parts.append(t.get(loc, "alert_case_team", team=team))
    if worker is not None:
        parts.append(t.get(loc, "alert_case_worker", worker=worker))
    if code is not None:
        parts.append(t.get(loc, "alert_case_code", code=code))
    return ", ".join(parts) or t.get(loc, "alert_case_unlinked")


def alert_text(alert: AlertFacts, *, chase: int = 0, texts: Texts | None = None) -> str:
    t, loc = _staff(texts)
    head = t.get(loc, "alert_head", id=alert.id)
    ending = t.get(loc, "alert_ending")
    if alert.review:
        minutes = max(1, round(alert.ask_within.total_seconds() / 60))
        head = t.get(loc, "alert_head_review", id=alert.id)
        ending = t.get(loc, "alert_ending_review", minutes=minutes)
    if alert.upgraded:
        reason = (
            t.get(loc, f"alert_upgrade_{alert.upgraded}")
            if alert.upgraded in UPGRADES
            else alert.upgraded
        )
        head = t.get(loc, "alert_head_upgraded", id=alert.id, reason=reason)
    if chase:
        head = t.get(loc, "alert_head_chase", chase=chase, id=alert.id)
    quoted = "\n".join(f"> {line}" for line in (alert.text or "").splitlines() or [""])
    return t.get(
        loc,
        "alert_body",
        head=head,
        what=describe(alert.categories, texts=t),
        when=f"{alert.at:%Y-%m-%d %H:%M}",
        case=alert.case,
        quoted=quoted,
        ending=ending,
    )


def acknowledged_text(alert_id: int, who: str, at: datetime, *, texts: Texts | None = None) -> str:
    t, loc = _staff(texts)
    return t.get(loc, "alert_acknowledged", id=alert_id, who=who, at=f"{at:%H:%M}")
