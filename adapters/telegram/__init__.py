"""Telegram: python-telegram-bot 22, polling or webhook."""

from adapters.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel"]
