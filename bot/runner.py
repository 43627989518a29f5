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
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.app import App
from bot.delivery import Channel
from bot.errors import ConfigError, HeardError
from bot.messages import Inbound, Outbound
from bot.service import mark_unreachable

log = logging.getLogger("heard.run")

Extra = Callable[["Runtime"], Coroutine[Any, Any, None]]


class Runtime:
    """The running process: channels by platform, the service, the executor."""

    def __init__(self, app: App, channels: list[Channel]) -> None:
        self.app = app
        self.channels = {c.platform: c for c in channels}
        workers = 1 if app.engine.dialect.name == "sqlite" else 8
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="heard-db")

    async def on_inbound(self, inbound: Inbound) -> list[Outbound]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.app.service.handle, inbound)

    async def on_unreachable(self, platform: str, chat_id: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self.executor, mark_unreachable, self.app.service, platform, chat_id
        )

    async def start(self) -> None:
        started: list[Channel] = []
        try:
            for channel in self.channels.values():
                await channel.start(self.on_inbound, self.on_unreachable)
                started.append(channel)
        except BaseException:
            for channel in started:
                with contextlib.suppress(Exception):
                    await channel.stop()
            raise

    async def stop(self) -> None:
        for channel in self.channels.values():
            try:
                await channel.stop()
            except Exception:
                log.exception("error while stopping %s", channel.platform)
        self.executor.shutdown(wait=True)


def channels_for(app: App) -> list[Channel]:
    config = app.config
    channels: list[Channel] = []
    if config.telegram.enabled:
        from adapters.telegram import TelegramChannel

        channels.append(TelegramChannel.from_config(config.telegram))
    if config.slack.enabled:
        from adapters.slack import SlackChannel

        channels.append(SlackChannel.from_config(config, app))
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
    from bot import alerts, scheduler

    logging.getLogger().setLevel(app.config.log_level)
    try:
        channels = channels_for(app)
        on_sent = alerts.on_sent_hook(app.sessions, app.service.clock)
        assert app.alerts is not None
        extras = (scheduler.extra(on_sent=on_sent), alerts.extra(app.alerts))
        asyncio.run(serve(app, channels, extras=extras))
    except HeardError:
        raise
    finally:
        app.close()
    return 0
