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
from bot.runtime import alerts, digests, erasure, followups, retention
from bot.runtime.app import App
from bot.runtime.health import HealthServer
from bot.runtime.log_format import use_format
from bot.runtime.metrics import ErrorCounter
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
    health: bool | None = None,
) -> None:
    """Run until `stop` is set (or a signal arrives when `stop` is None).

    The health server (`[server] health_port`, unless `health` is False)
    binds its port first, so a port already in use stops start-up before any
    channel has started."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    server: HealthServer | None = None
    if health is not False and app.config.server.health_port:
        server = HealthServer(
            app.config.server,
            app.monitoring,
            app.metrics,
            tuple(c.platform for c in channels),
        )
        await server.start()
    try:
        runtime = Runtime(app, channels)
        await runtime.start()
    except BaseException:
        if server is not None:
            await server.stop()
        raise
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
        if server is not None:
            await server.stop()


def run(app: App) -> int:
    """`heard run`: the channels, plus follow-ups and the outbox sender."""
    root = logging.getLogger()
    root.setLevel(app.config.log_level)
    use_format(app.config.log_format)
    counter = ErrorCounter(app.metrics)
    root.addHandler(counter)
    try:
        channels = channels_for(app)
        desk = app.alert_desk
        extras: tuple[Extra, ...] = (
            followups.extra(),
            alerts.extra(desk),
            erasure.extra(),
            digests.extra(),
        )
        if app.config.retention.nightly:
            extras += (retention.extra(),)
        asyncio.run(serve(app, channels, extras=extras))
    except HeardError:
        raise
    finally:
        root.removeHandler(counter)
        app.close()
    return 0
