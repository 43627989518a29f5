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


AlertSink = Callable[[Tx, AlertContext], None]
"""Called inside the transaction of the step that raised the alert."""


def log_alert(_: Tx, alert: AlertContext) -> None:
    """The sink when no duty channel is wired (tests, `heard chat`)."""
    log.warning("safeguarding alert raised categories=%s", ",".join(alert.categories))


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
        """The conversation's alert sink: runs in the transaction of the step."""
        alert = repo.add_alert(
            tx,
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

    def _send(self, tx: Tx, alert: Any, target: Target, now: datetime, *, chase: int) -> None:
        if self._is_the_worker(tx, alert, target):
            log.error("alert #%d: the duty channel is the worker's own; not sent there", alert.id)
            return
        facts = AlertFacts(
            id=alert.id,
            categories=tuple(alert.categories.split(",")),
            at=alert.at,
            text=alert.text or "",
            case=describe_case(*repo.alert_case(tx, alert)),
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
