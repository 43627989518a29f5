"""Telegram: python-telegram-bot 22, polling or webhook."""

import os

# Opt in to python-telegram-bot's coming behaviour: time periods such as
# RetryAfter.retry_after are timedeltas (our code accepts both forms).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from adapters.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel"]
