"""The contract between Heard and a platform channel (Telegram, Slack).

A channel receives inbound messages and hands them to an `InboundHandler`;
it sends `Outbound` messages and reports failures with the exceptions below,
so the outbox sender and the reply path treat every platform alike:

DeliveryError          base of every send failure
├── Unreachable        the person blocked the bot or the chat is gone: stop sending
├── RetryAfter         the platform asked us to wait `seconds` (429)
└── TransientError     network error or 5xx: retry with backoff
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.errors import HeardError
from bot.messages import Inbound, Outbound


class DeliveryError(HeardError):
    pass


class Unreachable(DeliveryError):
    pass


class RetryAfter(DeliveryError):
    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"platform asked to wait {seconds} s")
        self.seconds = seconds


class TransientError(DeliveryError):
    pass


InboundHandler = Callable[[Inbound], Awaitable[list[Outbound]]]
"""Process one inbound message; returns the replies, already stored durably."""

UnreachableHandler = Callable[[str, str], Awaitable[None]]
"""Called with (platform, chat id) when a person can no longer be reached."""


class Channel(Protocol):
    """What `heard run` needs from each platform adapter."""

    platform: str

    async def start(self, on_inbound: InboundHandler, on_unreachable: UnreachableHandler) -> None:
        """Connect, check credentials, and begin receiving. Raises ConfigError
        with the key to fix if the platform rejects the credentials."""

    async def send(self, out: Outbound) -> str:
        """Send one message at the platform's pace; return its message id.
        Raises a DeliveryError subclass when it cannot."""

    async def stop(self) -> None:
        """Stop receiving and finish what is in flight."""
