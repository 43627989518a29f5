"""What a safeguarding alert says to the duty team, and where it may go.

Pure: the service gathers the facts (the alert, its case) and these functions
turn them into words. A target is a Slack channel id ("C…", "G…", optionally
"slack:C…") or a Telegram chat ("telegram:-100…"), never a person's DM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.errors import ConfigError

ACK_PREFIX = "alert:ack:"
"""Button data of the duty team's Acknowledge button: `alert:ack:<id>`."""
KIND = "alert"
"""The outbox kind of an alert message (never held by quiet hours)."""
CATEGORY_WORDS = {
    "self_harm": "harm to self",
    "harm_from_others": "harm from others",
    "child_at_risk": "a child at risk",
    "immediate_danger": "immediate danger",
    "concern": "a concern the learned detector found (no rule matched)",
}
UPGRADE_WORDS = {
    "yes": 'the family answered YES to "Is anyone in danger right now?"',
    "unsure": 'the family answered NOT SURE to "Is anyone in danger right now?"',
    "no_answer": 'the family did not answer "Is anyone in danger right now?"',
    "again": "the family wrote something worrying again",
    "stopped": "the family stopped the chat without answering",
    "forgotten": "the family deleted their data without answering",
}


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
    """Why a "for review" alert became urgent (a key of UPGRADE_WORDS)."""
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


def describe(categories: tuple[str, ...]) -> str:
    return ", ".join(CATEGORY_WORDS.get(c, c.replace("_", " ")) for c in categories)


def describe_case(team: str | None, worker: str | None, code: str | None) -> str:
    """The case line of an alert; the parts that are known."""
    parts = []
    if team is not None:
        parts.append(f"team {team}")
    if worker is not None:
        parts.append(f"worker {worker}")
    if code is not None:
        parts.append(f"invite code {code}")
    return ", ".join(parts) or "not yet linked to a case (written before an invite was used)"


def alert_text(alert: AlertFacts, *, chase: int = 0) -> str:
    head = f"⚠️ Safeguarding alert #{alert.id}"
    ending = (
        "The family was shown where to get help now. "
        "Press Acknowledge when someone is dealing with it."
    )
    if alert.review:
        minutes = max(1, round(alert.ask_within.total_seconds() / 60))
        head = f"🔎 FOR REVIEW (not urgent yet) — safeguarding alert #{alert.id}"
        ending = (
            "Heard was unsure, so the family was shown where to get help now and asked "
            '"Is anyone in danger right now?". This becomes urgent if they answer yes or '
            f"not sure, or do not answer within {minutes} minutes. "
            "Press Acknowledge when someone has looked at it."
        )
    if alert.upgraded:
        reason = UPGRADE_WORDS.get(alert.upgraded, alert.upgraded)
        head = f"🚨 NOW URGENT — safeguarding alert #{alert.id} (was for review): {reason}"
    if chase:
        head = f"⏰ NOT YET ACKNOWLEDGED (reminder {chase}) — safeguarding alert #{alert.id}"
    quoted = "\n".join(f"> {line}" for line in (alert.text or "").splitlines() or [""])
    return (
        f"{head}\n"
        f"What: {describe(alert.categories)}\n"
        f"When: {alert.at:%Y-%m-%d %H:%M} UTC\n"
        f"Case: {alert.case}\n"
        f"They wrote:\n{quoted}\n"
        f"{ending}"
    )


def acknowledged_text(alert_id: int, who: str, at: datetime) -> str:
    return f"✓ Alert #{alert_id} acknowledged by {who} at {at:%H:%M} UTC"
