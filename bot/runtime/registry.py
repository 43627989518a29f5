"""Which adapter serves which platform: the only place Heard names them.

Adapters are imported by module name when `heard run` starts one, so the
domain and the service never depend on a platform library, and a setup that
only uses Telegram never loads Slack's.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TextIO

from bot.config import Config
from bot.core.errors import ConfigError
from bot.core.messages import Inbound, Outbound
from bot.service.ports import Channel, DigestMessage, StaffDesk

CONSOLE = "adapters.console"

ADAPTERS = {
    "telegram": "adapters.telegram",
    "slack": "adapters.slack",
}
"""Platform name → the module whose `channel_from_config` builds its channel."""


def load_channel(platform: str, config: Config, staff: StaffDesk) -> Channel:
    try:
        module: Any = importlib.import_module(ADAPTERS[platform])
    except KeyError:
        raise ConfigError(f"no adapter for the platform {platform!r}") from None
    channel: Channel = module.channel_from_config(config, staff)
    return channel


class StandaloneSender(Protocol):
    """A channel that can send digests without listening (`heard digest send`)."""

    platform: str

    async def open_for_sending(self) -> None: ...

    async def close_for_sending(self) -> None: ...

    async def send_digest(self, target: str, message: DigestMessage) -> str: ...


def digest_senders(config: Config, staff: StaffDesk) -> dict[str, StandaloneSender]:
    """The enabled platforms' channels, for sending digests from the CLI."""
    out: dict[str, StandaloneSender] = {}
    for platform in enabled_platforms(config):
        channel: Any = load_channel(platform, config, staff)
        out[platform] = channel
    return out


def enabled_platforms(config: Config) -> list[str]:
    return [
        name
        for name, enabled in (
            ("telegram", config.telegram.enabled),
            ("slack", config.slack.enabled),
        )
        if enabled
    ]


class Console(Protocol):
    """The terminal conversation of `heard chat` (`adapters.console.ConsoleChat`)."""

    platform: str

    def start(self, token: str = "") -> None: ...

    def run(self, lines: Iterable[str]) -> None: ...


def console_chat(
    handle: Callable[[Inbound], list[Outbound]], chat_id: str, output: TextIO
) -> Console:
    module: Any = importlib.import_module(CONSOLE)
    chat: Console = module.ConsoleChat(handle, chat_id, output)
    return chat
