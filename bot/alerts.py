"""Safeguarding alerts: recorded, sent to the duty team, acknowledged, chased.

When the engine finds danger in what a family wrote, the service calls the
`AlertSink` inside the same transaction as the step. The sink records the
alert and queues a message to `[safeguarding] alert_channel` in the outbox
(kind "alert", urgent, never held by quiet hours), so an outage delays it and
never loses it. The message carries an "Acknowledge" button; the duty person's
press records who and when. An alert nobody acknowledged within `ack_within`
is sent again to `fallback_channel` (or the alert channel when there is none),
and again every `ack_within` until someone does.

Alerts never go to the worker the feedback is about, and are never held back
by the small-number rule. A target may be a Slack channel id ("C…", "G…",
optionally "slack:C…") or a Telegram chat ("telegram:-100…").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.config import SafeguardingConfig
from bot.errors import ConfigError
from bot.messages import Choice, Outbound
from bot.service import AlertContext
from storage import repo
from storage.models import Invite, SafeguardingAlert, Team, Worker

if TYPE_CHECKING:
    from bot.runner import Runtime

log = logging.getLogger("heard.alerts")

ActionHandler = Callable[[str, str, str, str], Awaitable[None]]


ACK_PREFIX = "alert:ack:"
KIND = "alert"
CATEGORY_WORDS = {
    "self_harm": "harm to self",
    "harm_from_others": "harm from others",
    "child_at_risk": "a child at risk",
    "immediate_danger": "immediate danger",
}


@dataclass(frozen=True, slots=True)
class Target:
    platform: str
    address: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.address}"


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


def alert_text(alert: SafeguardingAlert, case: str, *, chase: int = 0) -> str:
    head = f"⚠️ Safeguarding alert #{alert.id}"
    if chase:
        head = f"⏰ NOT YET ACKNOWLEDGED (reminder {chase}) — safeguarding alert #{alert.id}"
    quoted = "\n".join(f"> {line}" for line in (alert.text or "").splitlines() or [""])
    return (
        f"{head}\n"
        f"What: {describe(tuple(alert.categories.split(',')))}\n"
        f"When: {alert.at:%Y-%m-%d %H:%M} UTC\n"
        f"Case: {case}\n"
        f"They wrote:\n{quoted}\n"
        "The family was shown where to get help now. "
        "Press Acknowledge when someone is dealing with it."
    )


def _case(session: Session, alert: SafeguardingAlert) -> str:
    parts: list[str] = []
    if alert.team_id is not None:
        team = session.get(Team, alert.team_id)
        parts.append(f"team {team.name}" if team else "team ?")
    if alert.worker_id is not None:
        worker = session.get(Worker, alert.worker_id)
        parts.append(f"worker {worker.name}" if worker else "worker ?")
    if alert.invite_id is not None:
        invite = session.get(Invite, alert.invite_id)
        parts.append(f"invite code {invite.code}" if invite else "invite ?")
    return ", ".join(parts) or "not yet linked to a case (written before an invite was used)"


class Alerts:
    """Everything about alerts that touches storage; one per process."""

    def __init__(self, config: SafeguardingConfig) -> None:
        self.config = config
        self.primary = parse_target(config.alert_channel, "[safeguarding] alert_channel")
        self.fallback = (
            parse_target(config.fallback_channel, "[safeguarding] fallback_channel") or self.primary
        )

    def duty_targets(self) -> set[str]:
        return {str(t) for t in (self.primary, self.fallback) if t is not None}

    # -- raising ---------------------------------------------------------------------

    def __call__(self, session: Session, ctx: AlertContext) -> None:
        """The service's alert sink: runs in the transaction of the step."""
        alert = SafeguardingAlert(
            at=ctx.at,
            categories=",".join(ctx.categories),
            text=ctx.text,
            platform=ctx.platform,
            locale=ctx.locale,
            respondent_id=ctx.respondent_id,
            team_id=ctx.team_id,
            worker_id=ctx.worker_id,
            invite_id=ctx.invite_id,
            status="open",
            sends=0,
        )
        session.add(alert)
        session.flush()
        repo.audit(session, "heard", "safeguarding alert raised", {"alert_id": alert.id}, ctx.at)
        if self.primary is None:
            log.error(
                "safeguarding alert #%d recorded but NOT SENT: set [safeguarding] alert_channel",
                alert.id,
            )
            return
        self._send(session, alert, self.primary, ctx.at, chase=0)

    def _send(
        self,
        session: Session,
        alert: SafeguardingAlert,
        target: Target,
        now: datetime,
        *,
        chase: int,
    ) -> None:
        if self._is_the_worker(session, alert, target):
            log.error("alert #%d: the duty channel is the worker's own; not sent there", alert.id)
            return
        repo.enqueue_outbound(
            session,
            platform=target.platform,
            address=target.address,
            text=alert_text(alert, _case(session, alert), chase=chase),
            choices=[Choice(f"{ACK_PREFIX}{alert.id}", "Acknowledge")],
            kind=KIND,
            ref=alert.id,
            now=now,
        )
        alert.sends += 1
        alert.last_sent_at = now

    @staticmethod
    def _is_the_worker(session: Session, alert: SafeguardingAlert, target: Target) -> bool:
        if alert.worker_id is None or target.platform != "slack":
            return False
        worker = session.get(Worker, alert.worker_id)
        return worker is not None and worker.slack_user_id == target.address

    # -- acknowledging -------------------------------------------------------------------

    def acknowledge(
        self, session: Session, value: str, who: str, where: str, now: datetime
    ) -> SafeguardingAlert | None:
        """Record an acknowledgement pressed in a duty channel. Presses from
        anywhere else (a family forging button data) are ignored."""
        if not value.startswith(ACK_PREFIX) or where not in self.duty_targets():
            return None
        raw_id = value.removeprefix(ACK_PREFIX)
        if not raw_id.isdigit():
            return None
        alert = session.get(SafeguardingAlert, int(raw_id))
        if alert is None:
            return None
        if alert.status != "acknowledged":
            alert.status = "acknowledged"
            alert.acknowledged_by = who
            alert.acknowledged_at = now
            repo.audit(session, who, "safeguarding alert acknowledged", {"alert_id": alert.id}, now)
        return alert

    # -- chasing -----------------------------------------------------------------------

    def chase(self, session: Session, now: datetime) -> int:
        """Send again every open alert whose last send is `ack_within` old."""
        if self.fallback is None:
            return 0
        due = session.scalars(
            select(SafeguardingAlert)
            .where(
                SafeguardingAlert.status == "open",
                SafeguardingAlert.last_sent_at <= now - self.config.ack_within,
            )
            .order_by(SafeguardingAlert.id)
            .with_for_update(skip_locked=True)
            .limit(100)
        ).all()
        for alert in due:
            self._send(session, alert, self.fallback, now, chase=alert.sends)
        return len(due)

    @staticmethod
    def delivered(session: Session, ref: str | None, message_id: str, now: datetime) -> None:
        if ref is None or not ref.isdigit():
            return
        session.execute(
            update(SafeguardingAlert)
            .where(SafeguardingAlert.id == int(ref), SafeguardingAlert.delivered_at.is_(None))
            .values(delivered_at=now, message_ref=message_id)
        )


def on_sent_hook(
    sessions: sessionmaker[Session], clock: Callable[[], datetime]
) -> Callable[[str, str | None, str], None]:
    """For the outbox sender: record when an alert reached the duty channel."""

    def on_sent(kind: str, ref: str | None, message_id: str) -> None:
        if kind != KIND:
            return
        with sessions.begin() as session:
            Alerts.delivered(session, ref, message_id, clock())

    return on_sent


CHASE_CHECK_SECONDS = 30.0


def extra(alerts: Alerts) -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    """`heard run`'s alert duties: take acknowledgements from the duty
    channels' buttons, and chase alerts nobody acknowledged."""

    async def run(runtime: Runtime) -> None:
        loop = asyncio.get_running_loop()
        sessions, clock = runtime.app.sessions, runtime.app.service.clock

        def record(value: str, who: str, where: str) -> int | None:
            with sessions.begin() as session:
                alert = alerts.acknowledge(session, value, who, where, clock())
                return alert.id if alert else None

        for channel in runtime.channels.values():
            if not hasattr(channel, "add_action_handler"):
                continue
            platform = channel.platform

            async def on_press(
                user: str, value: str, chat: str, _ref: str, platform: str = platform
            ) -> None:
                alert_id = await loop.run_in_executor(
                    runtime.executor, record, value, f"{platform}:{user}", f"{platform}:{chat}"
                )
                if alert_id is None:
                    log.warning("an acknowledge press from outside the duty channels was ignored")
                    return
                note = f"✓ Alert #{alert_id} acknowledged by {user} at {clock():%H:%M} UTC"
                try:
                    await runtime.channels[platform].send(Outbound(platform, chat, note))
                except Exception as exc:
                    log.info("could not confirm an acknowledgement: %s", type(exc).__name__)

            channel.add_action_handler(ACK_PREFIX, on_press)

        every = max(1.0, min(CHASE_CHECK_SECONDS, alerts.config.ack_within.total_seconds() / 4))

        def chase() -> int:
            with sessions.begin() as session:
                return alerts.chase(session, clock())

        while True:
            try:
                chased = await loop.run_in_executor(runtime.executor, chase)
                if chased:
                    log.warning("%d unacknowledged safeguarding alert(s) sent again", chased)
            except Exception as exc:
                log.warning("alert chase failed (%s); will try again", type(exc).__name__)
            await asyncio.sleep(every)

    return run
