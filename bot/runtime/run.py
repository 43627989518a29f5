"""`heard run`: the long-running process.

Starts every channel enabled in the config, hands their inbound messages to
the service on worker threads (the service is synchronous SQLAlchemy; the
channels are asyncio), and stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from bot.config import Config, check_run_secret
from bot.core.errors import ConfigError, HeardError
from bot.runtime import alerts, digests, erasure, followups, retention
from bot.runtime.app import App
from bot.runtime.health import HealthServer
from bot.runtime.log_format import redact_logs, use_format
from bot.runtime.metrics import ErrorCounter
from bot.runtime.process import Extra, Runtime
from bot.runtime.registry import enabled_platforms, load_channel
from bot.service.ports import Channel, CheckableChannel

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


DUTY_CHECK_TIMEOUT = 15.0


async def check_duty_channels(app: App, channels: list[Channel]) -> int:
    """At start, ask each platform whether Heard can post to the duty
    channels; one ERROR line for each it cannot (Heard keeps running: an
    alert that cannot go there goes to the other one). How many failed."""
    alerts = app.alert_desk.alerts
    by_platform = {c.platform: c for c in channels}
    failed = 0
    for key, target in (
        ("alert_channel", alerts.primary),
        ("fallback_channel", alerts.fallback),
    ):
        if target is None or (key == "fallback_channel" and target == alerts.primary):
            continue
        channel = by_platform.get(target.platform)
        if not isinstance(channel, CheckableChannel):
            continue
        try:
            async with asyncio.timeout(DUTY_CHECK_TIMEOUT):
                reason = await channel.can_post(target.address)
        except TimeoutError:
            reason = "no answer in time"
        if reason:
            failed += 1
            log.error(
                "[safeguarding] %s: Heard cannot post to that %s channel (%s); "
                "add the app to it or fix the setting, or alerts may not reach the duty team",
                key,
                target.platform,
                reason,
            )
    return failed


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
    await check_duty_channels(app, channels)
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


def configured_secrets(config: Config) -> tuple[str, ...]:
    """The values of every secret the config points at, for the log filter
    to mask (the ones not set are skipped: starting the channel says so)."""
    names = (
        config.telegram.token_env,
        config.telegram.secret_token_env,
        config.slack.bot_token_env,
        config.slack.signing_secret_env,
        config.slack.app_token_env,
    )
    values = [os.environ.get(name, "") for name in names]
    values.append(config.pseudonym_secret.hex())
    values.append(config.pseudonym_secret.decode("utf-8", "ignore"))
    return tuple(v for v in values if v)


def run(app: App) -> int:
    """`heard run`: the channels, plus follow-ups and the outbox sender."""
    check_run_secret(app.config)
    root = logging.getLogger()
    root.setLevel(app.config.log_level)
    use_format(app.config.log_format)
    redact_logs(configured_secrets(app.config))
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
