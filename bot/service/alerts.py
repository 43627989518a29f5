"""Safeguarding alerts: recorded, sent to the duty team, acknowledged, chased.

When the engine finds danger in what a family wrote, the conversation calls
the `AlertSink` inside the same transaction as the step. The sink records the
alert and queues a message to `[safeguarding] alert_channel` in the outbox
(kind "alert", urgent, never held by quiet hours), so an outage delays it and
never loses it. The message carries an "Acknowledge" button; the duty person's
press records who and when. An alert nobody acknowledged within `ack_within`
is sent again to `fallback_channel` (or the alert channel when there is none),
and again every `ack_within` until someone does.

Alerts never go to the worker the feedback is about, and are never held back
by the small-number rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import SafeguardingConfig
from bot.core.alert_texts import (
    ACK_PREFIX,
    KIND,
    AlertFacts,
    Target,
    alert_text,
    describe_case,
    parse_target,
)
from bot.core.messages import Choice
from storage import repo
from storage.unit import Store, Tx

log = logging.getLogger("heard.alerts")


@dataclass(frozen=True, slots=True)
class AlertContext:
    """What a safeguarding alert needs to reach the duty team."""

    respondent_id: int | None
    team_id: int | None
    worker_id: int | None
    invite_id: int | None
    platform: str
    locale: str
    categories: tuple[str, ...]
    text: str
    at: datetime
    review: bool = False
    """The uncertain band: "for review", not chased until upgraded."""
    pseudonym: str | None = None
    """The family's pseudonym, so "forget" finds it even before an invite."""
    delivery_key: str | None = None
    """`<platform>:<delivery id>`: one alert per delivery, however it arrives."""


@dataclass(frozen=True, slots=True)
class UpgradeContext:
    """The family's answer (or silence) made their "for review" alert urgent."""

    pseudonym: str
    reason: str
    at: datetime


AlertSink = Callable[[Tx, AlertContext], None]
"""Called inside the transaction of the step that raised the alert."""
AlertUpgrade = Callable[[Tx, UpgradeContext], None]
"""Called inside the transaction of the step that upgraded it."""


def log_alert(_: Tx, alert: AlertContext) -> None:
    """The sink when no duty channel is wired (tests, `heard chat`)."""
    level = "review" if alert.review else "alert"
    log.warning("safeguarding %s raised categories=%s", level, ",".join(alert.categories))


def log_upgrade(_: Tx, upgrade: UpgradeContext) -> None:
    log.warning("safeguarding review upgraded to an urgent alert (%s)", upgrade.reason)


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

    def __call__(self, tx: Tx, ctx: AlertContext) -> None:
        """The conversation's alert sink: runs in the transaction of the step.
        A delivery that already raised its alert (kept in the spool while the
        database was down, then redelivered by the platform) raises nothing."""
        if ctx.delivery_key is not None and repo.alert_by_delivery(tx, ctx.delivery_key):
            log.info("alert for this delivery already raised; not raised again")
            return
        alert = repo.add_alert(
            tx,
            level="review" if ctx.review else "alert",
            pseudonym=ctx.pseudonym,
            delivery_key=ctx.delivery_key,
            at=ctx.at,
            categories=",".join(ctx.categories),
            text=ctx.text,
            platform=ctx.platform,
            locale=ctx.locale,
            respondent_id=ctx.respondent_id,
            team_id=ctx.team_id,
            worker_id=ctx.worker_id,
            invite_id=ctx.invite_id,
        )
        repo.audit(tx, "heard", "safeguarding alert raised", {"alert_id": alert.id}, ctx.at)
        if self.primary is None:
            log.error(
                "safeguarding alert #%d recorded but NOT SENT: set [safeguarding] alert_channel",
                alert.id,
            )
            return
        self._send(tx, alert, self.primary, ctx.at, chase=0)

    def upgrade(self, tx: Tx, ctx: UpgradeContext) -> None:
        """Make the family's newest open "for review" alert urgent: sent again
        at once, marked urgent, and chased like any alert from now on."""
        alert = repo.open_review_alert(tx, ctx.pseudonym)
        if alert is None:
            return
        repo.upgrade_alert(tx, alert)
        repo.audit(
            tx,
            "heard",
            "safeguarding review upgraded",
            {"alert_id": alert.id, "reason": ctx.reason},
            ctx.at,
        )
        if self.primary is None:
            log.error("alert #%d upgraded but NOT SENT: set [safeguarding] alert_channel", alert.id)
            return
        self._send(tx, alert, self.primary, ctx.at, chase=0, upgraded=ctx.reason)

    def _send(
        self,
        tx: Tx,
        alert: Any,
        target: Target,
        now: datetime,
        *,
        chase: int,
        upgraded: str | None = None,
    ) -> None:
        if self._is_the_worker(tx, alert, target):
            other = self.fallback if self.fallback not in (None, target) else None
            if other is None or self._is_the_worker(tx, alert, other):
                log.error(
                    "alert #%d: the duty channel is the worker's own; not sent there", alert.id
                )
                return
            log.error(
                "alert #%d: the duty channel is the worker's own; sent to the fallback instead",
                alert.id,
            )
            target = other
        facts = AlertFacts(
            id=alert.id,
            categories=tuple(alert.categories.split(",")),
            at=alert.at,
            text=alert.text or "",
            case=describe_case(*repo.alert_case(tx, alert)),
            review=alert.level == "review",
            upgraded=upgraded,
            ask_within=self.config.danger_check_after,
        )
        repo.enqueue_outbound(
            tx,
            platform=target.platform,
            address=target.address,
            text=alert_text(facts, chase=chase),
            choices=[Choice(f"{ACK_PREFIX}{alert.id}", "Acknowledge")],
            kind=KIND,
            ref=alert.id,
            now=now,
        )
        repo.alert_sent(tx, alert, now)

    @staticmethod
    def _is_the_worker(tx: Tx, alert: Any, target: Target) -> bool:
        if alert.worker_id is None or target.platform != "slack":
            return False
        return repo.worker_slack_user(tx, alert.worker_id) == target.address

    # -- acknowledging -------------------------------------------------------------------

    def acknowledge(self, tx: Tx, value: str, who: str, where: str, now: datetime) -> int | None:
        """Record an acknowledgement pressed in a duty channel; the alert's id.
        Presses from anywhere else (a family forging button data) are ignored."""
        if not value.startswith(ACK_PREFIX) or where not in self.duty_targets():
            return None
        raw_id = value.removeprefix(ACK_PREFIX)
        if not raw_id.isdigit():
            return None
        alert = repo.alert_by_id(tx, int(raw_id))
        if alert is None:
            return None
        if repo.acknowledge_alert(tx, alert, who, now):
            repo.audit(tx, who, "safeguarding alert acknowledged", {"alert_id": alert.id}, now)
        return int(alert.id)

    # -- chasing -----------------------------------------------------------------------

    def chase(self, tx: Tx, now: datetime) -> int:
        """Send again every open alert whose last send is `ack_within` old."""
        if self.fallback is None:
            return 0
        due = repo.alerts_to_chase(tx, now - self.config.ack_within)
        for alert in due:
            self._send(tx, alert, self.fallback, now, chase=alert.sends)
        return len(due)

    def undeliverable(self, tx: Tx, row: repo.OutboundRow, error: str, now: datetime) -> None:
        """An alert the duty channel's platform refused for good (the app is
        not in the channel, the channel or chat is gone) or that ran out of
        attempts: say so at ERROR and send it to the fallback channel now,
        rather than after `ack_within`."""
        if row.kind != KIND or row.ref is None or not row.ref.isdigit():
            return
        alert = repo.alert_by_id(tx, int(row.ref))
        if alert is None:
            return
        failed = Target(row.platform, row.address)
        other = next(
            (t for t in (self.fallback, self.primary) if t is not None and t != failed), None
        )
        if other is None:
            log.error(
                "alert #%d could NOT be delivered (%s) and there is no other channel to try; "
                "set [safeguarding] fallback_channel to a channel Heard can post to",
                alert.id,
                error,
            )
            return
        log.error(
            "alert #%d could not be delivered to a duty channel (%s); sent to the %s now",
            alert.id,
            error,
            "fallback channel" if other == self.fallback else "alert channel",
        )
        self._send(tx, alert, other, now, chase=alert.sends)

    @staticmethod
    def delivered(tx: Tx, ref: str | None, message_id: str, now: datetime) -> None:
        if ref is None or not ref.isdigit():
            return
        repo.alert_delivered(tx, int(ref), message_id, now)


class AlertDesk:
    """The alert use cases for the runtime, each its own transaction."""

    def __init__(self, store: Store, alerts: Alerts, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.alerts = alerts
        self.clock = clock

    def acknowledge(self, value: str, who: str, where: str) -> int | None:
        with self.store.begin() as tx:
            return self.alerts.acknowledge(tx, value, who, where, self.clock())

    def chase(self) -> int:
        with self.store.begin() as tx:
            return self.alerts.chase(tx, self.clock())

    def on_sent(self, kind: str, ref: str | None, message_id: str) -> None:
        """For the outbox sender: record when an alert reached the duty channel."""
        if kind != KIND:
            return
        with self.store.begin() as tx:
            Alerts.delivered(tx, ref, message_id, self.clock())
