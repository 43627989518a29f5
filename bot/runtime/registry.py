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
from bot.service.ports import Channel, StaffDesk

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
