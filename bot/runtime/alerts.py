"""`heard run`'s alert duties: take acknowledgements from the duty channels'
buttons, and chase alerts nobody acknowledged (`bot.service.alerts`)."""

from __future__ import annotations

import asyncio
import logging

from bot.core.alert_texts import ACK_PREFIX, acknowledged_text
from bot.core.messages import Outbound
from bot.runtime.process import Extra, Runtime
from bot.service.alerts import AlertDesk

log = logging.getLogger("heard.alerts")

CHASE_CHECK_SECONDS = 30.0


def extra(desk: AlertDesk) -> Extra:
    async def run(runtime: Runtime) -> None:
        loop = asyncio.get_running_loop()
        time = runtime.app.time

        for channel in runtime.action_channels():
            platform = channel.platform

            async def on_press(
                user: str, value: str, chat: str, _ref: str, platform: str = platform
            ) -> None:
                alert_id = await loop.run_in_executor(
                    runtime.executor,
                    desk.acknowledge,
                    value,
                    f"{platform}:{user}",
                    f"{platform}:{chat}",
                )
                if alert_id is None:
                    log.warning("an acknowledge press from outside the duty channels was ignored")
                    return
                note = acknowledged_text(alert_id, user, time.now())
                try:
                    await runtime.channels[platform].send(Outbound(platform, chat, note))
                except Exception as exc:
                    log.info("could not confirm an acknowledgement: %s", type(exc).__name__)

            channel.add_action_handler(ACK_PREFIX, on_press)

        ack_within = desk.alerts.config.ack_within.total_seconds()
        every = max(1.0, min(CHASE_CHECK_SECONDS, ack_within / 4))
        while True:
            try:
                chased = await loop.run_in_executor(runtime.executor, desk.chase)
                if chased:
                    log.warning("%d unacknowledged safeguarding alert(s) sent again", chased)
            except Exception as exc:
                log.warning("alert chase failed (%s); will try again", type(exc).__name__)
            await time.sleep(every)

    return run
