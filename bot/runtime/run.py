"""`heard run`: the long-running process.

Starts every channel enabled in the config, hands their inbound messages to
the service on worker threads (the service is synchronous SQLAlchemy; the
channels are asyncio), and stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.core.errors import ConfigError, HeardError
from bot.runtime import alerts, followups
from bot.runtime.app import App
from bot.runtime.process import Extra, Runtime
from bot.runtime.registry import enabled_platforms, load_channel
from bot.service.ports import Channel

log = logging.getLogger("heard.run")


def channels_for(app: App) -> list[Channel]:
    config = app.config
    channels = [load_channel(p, config, app.staff) for p in enabled_platforms(config)]
    if not channels:
        raise ConfigError(
            f"{config.source}: nothing to run; set enabled = true under [telegram] or [slack]"
        )
    if not config.safeguarding.alert_channel:
        raise ConfigError(
            f"{config.source}: [safeguarding] alert_channel: families will be able to write to "
            "Heard, so set the duty team's channel (a Slack channel id, or telegram:<group id>) "
            "that receives alerts when someone may be in danger"
        )
    return channels


async def serve(
    app: App,
    channels: list[Channel],
    *,
    stop: asyncio.Event | None = None,
    extras: tuple[Extra, ...] = (),
) -> None:
    """Run until `stop` is set (or a signal arrives when `stop` is None)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(app, channels)
    await runtime.start()
    tasks = [asyncio.create_task(extra(runtime)) for extra in extras]
    log.info("Heard is running: %s", ", ".join(runtime.channels))
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await runtime.stop()


def run(app: App) -> int:
    """`heard run`: the channels, plus follow-ups and the outbox sender."""
    logging.getLogger().setLevel(app.config.log_level)
    try:
        channels = channels_for(app)
        desk = app.alert_desk
        extras = (followups.extra(), alerts.extra(desk))
        asyncio.run(serve(app, channels, extras=extras))
    except HeardError:
        raise
    finally:
        app.close()
    return 0
