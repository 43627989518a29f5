"""Telegram: python-telegram-bot 22, polling or webhook."""

import os

# Opt in to python-telegram-bot's coming behaviour: time periods such as
# RetryAfter.retry_after are timedeltas (our code accepts both forms).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from adapters.telegram.channel import TelegramChannel
from bot.config import Config
from bot.service.ports import StaffDesk


def channel_from_config(config: Config, staff: StaffDesk) -> TelegramChannel:
    """The runtime registry's entry point (Telegram needs no staff desk yet)."""
    return TelegramChannel.from_config(config.telegram)


__all__ = ["TelegramChannel", "channel_from_config"]
