"""Calls to the Slack Web API at Slack's pace, with failures as DeliveryErrors.

Every call goes through `SlackWeb.call`, which

- waits for the channel's turn when the call posts a message (Slack allows
  about one message a second per channel, with short bursts), with the
  shared `adapters.pacing.Pacer`;
- honours HTTP 429 / `ratelimited` by waiting `Retry-After` and trying
  again, a bounded number of times; a wait longer than `max_retry_after`
  becomes `RetryAfter` for the caller to reschedule;
- retries 5xx answers and network errors with backoff, then raises
  `TransientError`;
- raises `Unreachable` when the person or channel cannot be reached any more,
  and `SlackRefused` for anything else Slack refuses (bad token, missing
  scope), which retrying would not fix.

Messages of these exceptions name the method and Slack's error code only,
never text or ids, so they are safe to log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.pacing import Pacer
from bot.service.ports import DeliveryError, RetryAfter, TransientError, Unreachable

log = logging.getLogger("heard.slack")

BURST = 3
"""Messages a channel may receive back to back before pacing starts."""

UNREACHABLE_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "user_not_found",
        "users_not_found",
        "user_not_visible",
        "user_disabled",
        "cannot_dm_bot",
        "messages_tab_disabled",
    }
)
"""The person left, was deactivated or closed their DM; the channel is gone."""

CREDENTIAL_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "team_disabled",
        "not_allowed_token_type",
    }
)
"""Slack rejects our token. `account_inactive` is here, not in
UNREACHABLE_ERRORS: Slack documents it as "token is for a deleted user or
workspace", so it says nothing about the family."""

TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackRefused(DeliveryError):
    """Slack answered with an error retrying will not fix and that is not about
    the recipient: a rejected token, a missing scope, a malformed call."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"Slack {method}: {error}")
        self.method = method
        self.error = error

    @property
    def bad_credentials(self) -> bool:
        return self.error in CREDENTIAL_ERRORS


Sleep = Callable[[float], Awaitable[None]]


def _retry_after(headers: Mapping[str, Any] | None) -> float:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                break
    return 1.0


class SlackWeb:
    """The Web API methods Heard uses, paced, retried and with typed failures."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        per_channel_per_second: float,
        burst: int = BURST,
        max_attempts: int = 4,
        backoff: tuple[float, ...] = (0.5, 1.0, 2.0),
        max_retry_after: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.pacer = Pacer(0, per_channel_per_second, burst, sleep=sleep)
        """Per channel only: Slack has no overall message limit for an app,
        about one message a second in each channel, with short bursts."""
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff or (0.0,)
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._dms: dict[str, str] = {}

    async def call(
        self,
        method: str,
        request: Callable[[], Awaitable[AsyncSlackResponse]],
        *,
        pace: str = "",
    ) -> AsyncSlackResponse:
        """Run `request` (one Web API call) until it succeeds or fails for good."""
        for attempt in range(1, self.max_attempts + 1):
            if pace:
                await self.pacer.wait(pace)
            try:
                return await request()
            except SlackApiError as exc:
                status = int(exc.response.status_code or 0)
                error = str(exc.response.get("error") or f"http_{status}")
                if status == 429 or error == "ratelimited":
                    wait = _retry_after(exc.response.headers)
                    if wait > self.max_retry_after or attempt == self.max_attempts:
                        raise RetryAfter(wait, f"Slack {method}: rate limited") from None
                    log.info("Slack %s rate limited; waiting %.1f s", method, wait)
                    await self._sleep(wait)
                    continue
                if error in UNREACHABLE_ERRORS:
                    raise Unreachable(f"Slack {method}: {error}") from None
                if status < 500 and error not in TRANSIENT_ERRORS:
                    raise SlackRefused(method, error) from None
                failure = TransientError(f"Slack {method}: {error}")
            except SlackRequestError:
                failure = TransientError(f"Slack {method}: the request failed")
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                failure = TransientError(f"Slack {method}: {exc.__class__.__name__}")
            if attempt == self.max_attempts:
                raise failure
            delay = self.backoff[min(attempt - 1, len(self.backoff) - 1)]
            log.info("Slack %s failed (%s); retrying in %.1f s", method, failure, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def auth_test(self) -> AsyncSlackResponse:
        return await self.call("auth.test", self.client.auth_test)

    async def post_message(self, channel: str, payload: Mapping[str, Any]) -> str:
        """Post to a channel or DM id; returns the message `ts`."""
        response = await self.call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(channel=channel, **payload),
            pace=channel,
        )
        return str(response.get("ts") or "")

    async def post_ephemeral(self, channel: str, user: str, payload: Mapping[str, Any]) -> None:
        await self.call(
            "chat.postEphemeral",
            lambda: self.client.chat_postEphemeral(channel=channel, user=user, **payload),
            pace=channel,
        )

    async def update(self, channel: str, ts: str, payload: Mapping[str, Any]) -> None:
        await self.call(
            "chat.update", lambda: self.client.chat_update(channel=channel, ts=ts, **payload)
        )

    async def delete(self, channel: str, ts: str) -> None:
        """Delete one of the app's own messages (Slack lets no app delete a
        person's messages, nor a DM conversation)."""
        await self.call("chat.delete", lambda: self.client.chat_delete(channel=channel, ts=ts))

    async def channel_info(self, channel: str) -> Mapping[str, Any]:
        """What `conversations.info` says of `channel` (raises as `call` does)."""
        response = await self.call(
            "conversations.info", lambda: self.client.conversations_info(channel=channel)
        )
        info = response.get("channel")
        return info if isinstance(info, Mapping) else {}

    async def open_dm(self, user: str) -> str:
        """The DM channel id between the app and `user` (remembered)."""
        if user in self._dms:
            return self._dms[user]
        response = await self.call(
            "conversations.open", lambda: self.client.conversations_open(users=user)
        )
        channel = str((response.get("channel") or {}).get("id") or "")
        if not channel:
            raise TransientError("Slack conversations.open: no channel in the answer")
        self._dms[user] = channel
        return channel

    async def upload(
        self,
        channel: str,
        content: bytes,
        *,
        filename: str,
        title: str,
        alt_text: str = "",
        comment: str = "",
    ) -> None:
        """Share a file in `channel` with the files upload v2 flow
        (files.getUploadURLExternal, upload, files.completeUploadExternal)."""
        await self.call(
            "files.uploadV2",
            lambda: self.client.files_upload_v2(
                channel=channel,
                content=content,
                filename=filename,
                title=title,
                alt_txt=alt_text or None,
                initial_comment=comment or None,
            ),
            pace=channel,
        )
