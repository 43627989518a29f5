"""One chat's replies in order, while different chats go at once.

A platform may hand Heard a family's messages faster than the replies can be
sent (a paced send waits its turn). Each piece of work for a chat takes its
place in that chat's queue when the message arrives (`ChatOrder.join`, which
does not wait) and runs when everything before it has finished
(`async with turn:`), so a family never sees the answer to their second
message before the answer to their first.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Turn:
    """A place in one chat's queue. Enter it to wait for the work before it;
    leaving it (even by an exception or a cancellation) lets the next one go."""

    def __init__(
        self, order: ChatOrder, chat_id: str, previous: asyncio.Future[None] | None
    ) -> None:
        self._order = order
        self._chat_id = chat_id
        self._previous = previous
        self._mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def __aenter__(self) -> None:
        if self._previous is None:
            return
        try:
            await asyncio.shield(self._previous)
        except BaseException:
            self.release()
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        """Let the next turn of this chat go (once; later calls do nothing)."""
        if not self._mine.done():
            self._mine.set_result(None)
        self._order._done(self._chat_id, self._mine)


class ChatOrder:
    """Per-chat queues of `Turn`s. Only chats with work in flight are kept."""

    def __init__(self) -> None:
        self._tail: dict[str, asyncio.Future[None]] = {}

    def join(self, chat_id: str) -> Turn:
        """Take the next place in `chat_id`'s queue, now."""
        turn = Turn(self, chat_id, self._tail.get(chat_id))
        self._tail[chat_id] = turn._mine
        return turn

    def __len__(self) -> int:
        """How many chats have work queued or running."""
        return len(self._tail)

    def _done(self, chat_id: str, mine: asyncio.Future[None]) -> None:
        if self._tail.get(chat_id) is mine:
            del self._tail[chat_id]
