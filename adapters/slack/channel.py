"""`SlackChannel`: Heard on Slack, a thin class around a slack-bolt `AsyncApp`.

Families talk to the app in a direct message: `message.im` events and Block
Kit button presses become `Inbound`s for the service, and the replies go back
with `chat.postMessage`. Workers use the `/heard` slash command to make
invite cards. The rest of Heard sends to people and channels with `deliver`.

How requests are handled, and why:

- Every HTTP request's signature and timestamp are checked on the raw body
  before anything parses it (401 on a bad one); a signed body that is not a
  Slack request gets 400. Bolt then checks them again.
- An answer button counts only when pressed by the person whose DM it is
  (`conversations.open` for the presser must name the same DM).
- Every request is acknowledged at once; the work (database, Web API calls)
  runs afterwards in a task this class tracks, so Slack always gets its
  answer within 3 seconds and `stop()` can wait for work in flight.
- Bolt authorises each request with the `auth.test` result fetched once in
  `start()`, so acknowledging never waits on the Web API.
- Slack retries an event it thinks was lost (`X-Slack-Retry-Num`); the
  service stores each `event_id` with the effects in one transaction and
  ignores a repeat. One family's messages are handled one at a time, in order.
- If anything fails while handling a family's message they get a kind
  "please try again" (in every language: Slack does not tell us theirs) and
  nothing is recorded, so the next try is processed.
  In HTTP mode a family's message is acknowledged only once it is stored
  (Bolt's `process_before_response`; the replies still go out in a task): if
  the database could not store it the endpoint answers 500 and Slack sends
  it again. A message that spoke of danger gets the help message at once
  even then, and its alert waits in the spool (`bot.service.spool`).
- "Hide this chat" deletes the app's own messages in the DM that it
  remembers (`chat.delete`); Slack lets no app delete a person's messages or
  the DM itself, so the family is told how to do the rest (docs/slack.md).
- Logs never carry message text or raw Slack ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import traceback
from collections import defaultdict, deque
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.ordering import ChatOrder
from adapters.slack.commands import (
    YOU_SAID_CANCEL,
    YOU_SAID_SEND,
    Action,
    Command,
    Made,
    WorkerDesk,
    parse,
    report_message,
)
from adapters.slack.convert import (
    CHOICE_ACTION,
    PLATFORM,
    answered,
    escape,
    fallback,
    parse_body,
    pressed_label,
    render,
    render_text,
    slack_wording,
    to_inbound,
    well_formed,
)
from adapters.slack.digests import (
    EDIT_CALLBACK,
    REVIEW_PREFIX,
    decided_message,
    digest_message,
    edit_modal,
    parse_value,
    review_message,
    submitted,
)
from adapters.slack.web import SlackRefused, SlackWeb
from bot.config import Config, SlackConfig, env_secret
from bot.core.errors import ConfigError, HeardError, HeldForSafety, StorageError
from bot.core.invites import qr_png
from bot.core.messages import Inbound, Outbound
from bot.core.texts import STAFF_LOCALE
from bot.service.ports import (
    ActionHandler,
    DeliveryError,
    DeskProblem,
    DigestMessage,
    InboundHandler,
    InviteProblem,
    NotAWorker,
    ReportRefused,
    ReviewRequest,
    StaffDesk,
    Unreachable,
    UnreachableHandler,
)

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler


log = logging.getLogger("heard.slack")

STORE_WAIT = 2.5
_REMEMBER_DMS = 10_000
"""Seconds an HTTP event waits to be stored before answering 500 (Slack
counts a request unanswered after 3 s and retries it)."""


def _settle(future: asyncio.Future[bool] | None, value: bool) -> None:
    if future is not None and not future.done():
        future.set_result(value)


STOP_GRACE_SECONDS = 10.0
RECENT_PER_CHAT = 300
"""Message ts remembered per DM for "hide this chat"."""


def _library_logger(name: str) -> logging.Logger:
    """A logger for bolt and slack_sdk that never goes below INFO: at DEBUG
    both print request and response bodies, which carry what families wrote."""
    logger = logging.getLogger(name)
    logger.setLevel(max(logging.INFO, logging.getLogger().getEffectiveLevel()))
    return logger


def _log_failure(what: str, exc: BaseException) -> None:
    """Log an unexpected exception by type and stack only: its message may
    quote a payload."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s failed with %s\n%s", what, exc.__class__.__name__, stack.rstrip())


class SlackChannel:
    """Heard's Slack adapter; implements `bot.service.ports.Channel`."""

    platform = PLATFORM

    def __init__(
        self,
        config: Config,
        staff: StaffDesk,
        *,
        bot_token: str,
        signing_secret: str = "",
        app_token: str = "",
        backoff: tuple[float, ...] = (0.5, 1.0, 2.0),
    ) -> None:
        """`backoff`: seconds between retries of a Web API call that failed with
        a 5xx answer or a network error."""
        self.settings: SlackConfig = config.slack
        self.desk = WorkerDesk(config, staff)
        self._bot_token = bot_token
        self._signing_secret = signing_secret
        self._app_token = app_token
        self._backoff = backoff
        self._base_url = self.settings.base_url or AsyncWebClient.BASE_URL
        if not self._base_url.endswith("/"):
            self._base_url += "/"
        self._action_handlers: dict[str, ActionHandler] = {}
        self.add_action_handler(YOU_SAID_SEND, self._you_said_pressed)
        self.add_action_handler(YOU_SAID_CANCEL, self._you_said_cancelled)
        self._tasks: set[asyncio.Task[None]] = set()
        self._chat_order = ChatOrder()
        self._recent: dict[str, deque[str]] = defaultdict(lambda: deque(maxlen=RECENT_PER_CHAT))
        self._on_inbound: InboundHandler | None = None
        self._on_unreachable: UnreachableHandler | None = None
        self._session: aiohttp.ClientSession | None = None
        self._web: SlackWeb | None = None
        self._dm_of: dict[str, str] = {}
        """Slack user id -> the id of their DM with the app, as Slack said."""
        self._bolt: AsyncApp | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.bot_user_id = ""
        self.address: tuple[str, int] | None = None
        """Where the HTTP endpoint listens, once started in HTTP mode."""

    @classmethod
    def from_config(cls, config: Config, staff: StaffDesk) -> SlackChannel:
        """Build from `[slack]`; secrets come from the environment variables
        the config names. A missing one is a ConfigError naming its key."""
        sl = config.slack
        if not sl.path.startswith("/"):
            raise ConfigError(
                f'[slack] path: {sl.path!r} must start with "/", e.g. "/slack/events"'
            )
        bot_token = env_secret(sl.bot_token_env, "[slack] bot_token_env")
        signing_secret = app_token = ""
        if sl.mode == "http":
            signing_secret = env_secret(sl.signing_secret_env, "[slack] signing_secret_env")
        else:
            app_token = env_secret(sl.app_token_env, "[slack] app_token_env")
        return cls(
            config,
            staff,
            bot_token=bot_token,
            signing_secret=signing_secret,
            app_token=app_token,
        )

    # -- Channel protocol ------------------------------------------------------

    async def start(self, on_inbound: InboundHandler, on_unreachable: UnreachableHandler) -> None:
        """Check the token with auth.test, then listen (HTTP or Socket Mode).
        A token Slack rejects is a ConfigError naming `[slack] bot_token_env`."""
        if self.settings.mode == "http" and not self._signing_secret:
            raise ConfigError(
                "[slack] signing_secret_env: HTTP mode needs the app's signing secret "
                "to verify that requests come from Slack"
            )
        self._on_inbound = on_inbound
        self._on_unreachable = on_unreachable
        client = await self.open_for_sending()
        try:
            auth = await self._check_token()
            self.bot_user_id = str(auth.get("user_id") or "")
            self._bolt = self._build_bolt(client, auth)
            if self.settings.mode == "socket":
                await self._start_socket_mode(client)
            else:
                await self._start_http()
        except BaseException:
            await self._close()
            raise
        log.info("Slack is listening (%s mode)", self.settings.mode)

    async def send(self, out: Outbound) -> str:
        """Post one message to the family's DM (`out.chat_id`, D…); its ts.
        A `hide_chat` Outbound deletes the app's messages there instead and
        posts nothing (its ts is ""). A family who can no longer be reached is
        marked so before Unreachable is raised, whoever sends (a reply or the
        outbox)."""
        if out.hide_chat:
            await self.hide_chat(out.chat_id)
            return ""
        out = slack_wording(out, self.desk.texts)
        try:
            ts = await self._api().post_message(out.chat_id, render(out))
        except Unreachable as exc:
            log.info("a Slack family cannot be reached any more: %s", exc)
            if self._on_unreachable is not None:
                with contextlib.suppress(StorageError):
                    await self._on_unreachable(PLATFORM, out.chat_id)
            raise
        if ts:
            self._recent[out.chat_id].append(ts)
        return ts

    async def hide_chat(self, chat_id: str) -> int:
        """Delete the app's messages in this DM that it remembers, newest
        first; returns how many went. One that is already gone, or that Slack
        will not delete, is skipped: the family still gets their reply."""
        deleted = 0
        for ts in reversed(self._recent.pop(chat_id, deque())):
            try:
                await self._api().delete(chat_id, ts)
                deleted += 1
            except Unreachable:
                break
            except DeliveryError as exc:
                log.info("could not delete a message in a Slack DM: %s", exc)
        return deleted

    async def stop(self) -> None:
        """Stop taking requests, let work in flight finish, then disconnect."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close_async()
            self._socket = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
        await self._close()

    # -- for the rest of Heard -------------------------------------------------

    async def deliver(self, target: str, text: str, blocks: list[Any] | None = None) -> str:
        """Send `text` to a person (user id U…/W…, into their DM with the app)
        or a channel (id C…/G…/D…, or a name the bot is a member of); returns
        the message ts. For digests and safeguarding alerts. Raises
        `Unreachable` if the person or channel cannot be reached, other
        DeliveryErrors as `send` does."""
        web_api = self._api()
        channel = await web_api.open_dm(target) if _is_user(target) else target
        payload = (
            render_text(text) if blocks is None else {"text": fallback(text), "blocks": blocks}
        )
        return await web_api.post_message(channel, payload)

    async def can_post(self, address: str) -> str:
        """Why Heard could not post to the channel `address` (empty if it
        can): checked at start for the duty channels."""
        try:
            info = await self._api().channel_info(address)
        except SlackRefused as exc:
            return exc.error
        except Unreachable as exc:
            return str(exc).rpartition(": ")[2]
        except HeardError as exc:
            return type(exc).__name__
        if info.get("is_member") is False:
            return "not_in_channel"
        return ""

    async def send_digest(self, target: str, message: DigestMessage) -> str:
        """A digest in the worker's (or manager's) DM, then its charts
        uploaded privately there; a chart that will not upload leaves the
        digest as text with a line saying so."""
        web_api = self._api()
        channel = await web_api.open_dm(target) if _is_user(target) else target
        ts = await web_api.post_message(channel, digest_message(message))
        for filename, png in message.charts:
            try:
                await web_api.upload(
                    channel, png, filename=filename, title=message.title, alt_text=message.title
                )
            except DeliveryError as exc:
                log.warning("could not upload a digest chart: %s", exc)
                with contextlib.suppress(DeliveryError):
                    await web_api.post_message(channel, {"text": message.chart_failed})
        return ts

    async def send_review(self, manager: str, request: ReviewRequest) -> str:
        """Show a scrubbed comment to one manager with Release, Withhold, Edit."""
        web_api = self._api()
        labels = {a: self._staff_text(f"review_{a}") for a in ("release", "withhold", "edit")}
        return await web_api.post_message(
            await web_api.open_dm(manager), review_message(request, labels)
        )

    async def open_for_sending(self) -> AsyncWebClient:
        """Only the Web API, for sending from the command line (no listener);
        `start` opens it the same way before it starts listening."""
        self._session = aiohttp.ClientSession()
        client = AsyncWebClient(
            token=self._bot_token,
            base_url=self._base_url,
            session=self._session,
            timeout=15,
            logger=_library_logger("heard.slack.sdk"),
        )
        self._web = SlackWeb(
            client,
            per_channel_per_second=self.settings.max_per_channel_per_second,
            backoff=self._backoff,
        )
        return client

    async def close_for_sending(self) -> None:
        await self._close()

    def _staff_text(self, key: str, **values: object) -> str:
        return self.desk.texts.get(STAFF_LOCALE, key, **values)

    def add_action_handler(self, prefix: str, handler: ActionHandler) -> None:
        """Call `handler(user_id, value, channel_id, message_ts)` for a press on
        any button whose `action_id` or value starts with `prefix` (a value is
        how a button sent through the outbox is told apart from an answer). It
        runs after Slack has been acknowledged; its exceptions are logged."""
        if prefix.startswith(CHOICE_ACTION) or CHOICE_ACTION.startswith(prefix):
            raise ValueError(f"action prefix {prefix!r} would clash with Heard's answer buttons")
        self._action_handlers[prefix] = handler

    # -- set-up ------------------------------------------------------------------

    def _api(self) -> SlackWeb:
        if self._web is None:
            raise DeliveryError("the Slack channel is not started")
        return self._web

    async def _check_token(self) -> Mapping[str, Any]:
        try:
            response = await self._api().auth_test()
        except SlackRefused as exc:
            if exc.bad_credentials:
                raise ConfigError(
                    f"[slack] bot_token_env: Slack rejected the token in "
                    f"{self.settings.bot_token_env} ({exc.error}); set it to the app's Bot User "
                    "OAuth Token (xoxb-…) from the Slack app settings, OAuth & Permissions"
                ) from None
            raise HeardError(f"Slack refused auth.test ({exc.error})") from None
        except DeliveryError as exc:
            raise HeardError(
                f"cannot reach the Slack Web API at {self._base_url} ({exc}); "
                "check the network, or [slack] base_url"
            ) from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _build_bolt(self, client: AsyncWebClient, auth: Mapping[str, Any]) -> AsyncApp:
        # Bolt makes a client per request from this one, with the token that
        # `authorize` returns; a token here as well would only earn a warning.
        template = AsyncWebClient(
            base_url=client.base_url,
            session=client.session,
            timeout=client.timeout,
            logger=client.logger,
        )
        authorized = AuthorizeResult(
            enterprise_id=auth.get("enterprise_id"),
            team_id=auth.get("team_id"),
            team=auth.get("team"),
            url=auth.get("url"),
            bot_user_id=auth.get("user_id"),
            bot_id=auth.get("bot_id"),
            bot_token=self._bot_token,
        )

        async def authorize() -> AuthorizeResult:
            return authorized

        bolt = AsyncApp(
            name="heard.slack.app",
            client=template,
            signing_secret=self._signing_secret,
            authorize=authorize,
            logger=_library_logger("heard.slack.bolt"),
            request_verification_enabled=True,
            process_before_response=self.settings.mode == "http",
        )
        bolt.event("message")(self._on_message_event)
        bolt.command(re.compile(r".*"))(self._on_command)
        bolt.action(re.compile(r".*"))(self._on_action)
        bolt.view(EDIT_CALLBACK)(self._on_edit_submitted)
        return bolt

    async def _start_http(self) -> None:
        assert self._bolt is not None
        bolt = self._bolt

        verifier = SignatureVerifier(self._signing_secret)

        async def endpoint(request: web.Request) -> web.StreamResponse:
            # The signature is checked on the raw bytes before anything parses
            # them: an unsigned body, however malformed, costs one HMAC.
            raw = await request.read()
            if not _signed(verifier, raw, request.headers):
                return web.Response(status=401, text="invalid request signature")
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                body = ""
            parsed = parse_body(body, request.content_type) if body else None
            if parsed is None or not well_formed(parsed):
                return web.Response(status=400, text="the body is not a Slack request")
            try:
                incoming = AsyncBoltRequest(
                    body=body,
                    query=request.query_string,
                    headers=request.headers,  # type: ignore[arg-type]
                )
                answer = await bolt.async_dispatch(incoming)
            except Exception as exc:
                # Bolt reads ids out of the payload before any listener runs
                # and raises on a field of the wrong type: not a Slack request.
                log.warning("a signed Slack request Bolt could not read: %s", type(exc).__name__)
                return web.Response(status=400, text="the body is not a Slack request")
            return await to_aiohttp_response(answer)

        app = web.Application()
        app.router.add_post(self.settings.path, endpoint)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.settings.listen, self.settings.port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(
                f"[slack] port: cannot listen on {self.settings.listen}:{self.settings.port} "
                f"({exc.strerror or exc}); choose a free port or check [slack] listen"
            ) from None
        host, port = runner.addresses[0][:2]
        self.address = (str(host), int(port))

    async def _start_socket_mode(self, client: AsyncWebClient) -> None:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        assert self._bolt is not None
        # The socket client retries a refused connection for ever; check the
        # app-level token once here so a wrong one stops start-up instead.
        try:
            await self._api().call(
                "apps.connections.open",
                lambda: client.apps_connections_open(app_token=self._app_token),
            )
        except SlackRefused as exc:
            raise ConfigError(
                f"[slack] app_token_env: Slack rejected the app-level token in "
                f"{self.settings.app_token_env} ({exc.error}); set it to a token (xapp-…) with "
                "the connections:write scope, from the Slack app settings, Basic Information"
            ) from None
        self._socket = AsyncSocketModeHandler(
            self._bolt,
            self._app_token,
            logger=_library_logger("heard.slack.socket"),
            web_client=client,
        )
        await self._socket.connect_async()

    async def _close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._web = None

    # -- listeners (each returns at once; the work runs in a tracked task) -------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_message_event(self, body: dict[str, Any]) -> None:
        inbound = to_inbound(body, self_user_id=self.bot_user_id)
        if inbound is None:
            return
        if self.settings.mode != "http":
            self._spawn(self._converse(inbound))
            return
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._spawn(self._converse(inbound, stored=stored))
        try:
            async with asyncio.timeout(STORE_WAIT):
                ok = await asyncio.shield(stored)
        except TimeoutError:
            ok = False  # Slack retries; a retry of a message stored meanwhile is ignored
        if not ok:
            raise StorageError("a Slack message could not be stored; Slack will send it again")

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        action = actions[0] if isinstance(actions[0], dict) else {}
        action_id = str(action.get("action_id") or "")
        value = str(action.get("value") or "")
        if value.startswith(REVIEW_PREFIX):
            self._spawn(self._review(body, value))
            return
        for prefix, handler in self._action_handlers.items():
            if value.startswith(prefix):
                self._spawn(self._run_action_handler(handler, body, action))
                return
        if action_id.startswith(CHOICE_ACTION):
            inbound = to_inbound(body)
            if inbound is not None:
                self._spawn(self._press(inbound, body))
            return
        for prefix, handler in self._action_handlers.items():
            if action_id.startswith(prefix):
                self._spawn(self._run_action_handler(handler, body, action))
                return

    async def _press(self, inbound: Inbound, body: dict[str, Any]) -> None:
        """An answer button pressed: the family's answer only if the person
        who pressed it is the one whose DM with the app it is."""
        user = body.get("user")
        presser = user.get("id") if isinstance(user, Mapping) else None
        if not isinstance(presser, str) or not presser:
            return
        owner_dm = self._dm_of.get(presser)
        if owner_dm is None:
            try:
                owner_dm = await self._api().open_dm(presser)
            except (HeardError, aiohttp.ClientError) as exc:
                log.warning("could not check who pressed a Slack button: %s", type(exc).__name__)
                return
            if len(self._dm_of) >= _REMEMBER_DMS:
                self._dm_of.clear()
            self._dm_of[presser] = owner_dm
        if owner_dm != inbound.chat_id:
            log.warning("a button press in a family's Slack DM by someone else was ignored")
            return
        await self._converse(inbound, pressed=body)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        acked = False
        try:
            name = str(command.get("command") or "/heard")
            parsed = parse(
                str(command.get("text") or ""), set_ids=self.desk.set_ids, texts=self.desk.texts
            )
            if parsed.action is Action.INVITE:
                await ack()
                acked = True
                self._spawn(self._invite(command, parsed))
            elif parsed.action is Action.PROMISE:
                await ack()
                acked = True
                self._spawn(self._promise(command, parsed, name))
            elif parsed.action is Action.PROMISE_USAGE:
                await ack(
                    text=self.desk.say("promise_usage", command=name), response_type="ephemeral"
                )
            elif parsed.action is Action.DIGEST:
                await ack()
                acked = True
                self._spawn(self._digest(command, parsed, name))
            elif parsed.action is Action.REPORT:
                await ack()
                acked = True
                self._spawn(self._report(command, parsed, name))
            elif parsed.action is Action.REASSIGN:
                await ack()
                acked = True
                self._spawn(self._reassign(command, parsed, name))
            elif parsed.action is Action.YOU_SAID:
                await ack()
                acked = True
                self._spawn(self._you_said(command, parsed, name))
            elif parsed.action in (Action.REASSIGN_USAGE, Action.YOU_SAID_USAGE):
                await ack(
                    text=self.desk.say(parsed.action.value, command=name),
                    response_type="ephemeral",
                )
            else:
                await ack(text=self.desk.help_text(name, parsed.unknown), response_type="ephemeral")
        except Exception as exc:
            _log_failure("a slash command", exc)
            if not acked:
                await ack(text=self._worker_sorry(), response_type="ephemeral")

    # -- the family conversation -------------------------------------------------

    async def _converse(
        self,
        inbound: Inbound,
        pressed: dict[str, Any] | None = None,
        stored: asyncio.Future[bool] | None = None,
    ) -> None:
        """`stored` (HTTP mode) learns whether the message was stored."""
        assert self._on_inbound is not None
        async with self._chat_order.join(inbound.chat_id):
            try:
                replies = await self._on_inbound(inbound)
            except HeldForSafety as held:
                _settle(stored, False)
                log.warning("database unavailable; a Slack family was shown help, alert spooled")
                await self._send_replies(held.replies)
                return
            except StorageError:
                _settle(stored, False)
                log.warning("database unavailable; asked a Slack family to try again later")
                await self._say_sorry(inbound.chat_id)
                return
            except Exception as exc:
                _settle(stored, True)  # a bug, not an outage: a retry would fail the same way
                _log_failure("handling a Slack message", exc)
                await self._say_sorry(inbound.chat_id)
                return
            _settle(stored, True)
            try:
                if pressed is not None:
                    await self._show_choice(pressed)
                await self._send_replies(replies)
            except Exception as exc:
                _log_failure("replying on Slack", exc)

    async def _show_choice(self, body: Mapping[str, Any]) -> None:
        message = body.get("message")
        container = body.get("container") or {}
        channel, ts = container.get("channel_id"), container.get("message_ts")
        if not isinstance(message, Mapping) or not channel or not ts:
            return
        action = (body.get("actions") or [{}])[0]
        try:
            await self._api().update(
                str(channel), str(ts), answered(message, pressed_label(message, action))
            )
        except DeliveryError as exc:
            log.info("could not mark a pressed button as answered: %s", exc)

    async def _send_replies(self, replies: list[Outbound]) -> None:
        for out in replies:
            try:
                await self.send(out)
            except Unreachable:
                return
            except DeliveryError as exc:
                log.warning("a reply could not be sent on Slack: %s", exc)
                return

    def _family_sorry(self) -> str:
        """The apology to a family whose language Slack does not tell us: in
        every language, the default language first."""
        return self.desk.texts.for_anyone("try_later", first=self.desk.config.default_locale)

    def _worker_sorry(self) -> str:
        return self.desk.texts.get(STAFF_LOCALE, "try_later")

    async def _say_sorry(self, chat_id: str) -> None:
        try:
            ts = await self._api().post_message(chat_id, render_text(self._family_sorry()))
            if ts:
                self._recent[chat_id].append(ts)
        except DeliveryError as exc:
            log.warning("could not tell a Slack family to try again: %s", exc)

    async def _run_action_handler(
        self, handler: ActionHandler, body: Mapping[str, Any], action: Mapping[str, Any]
    ) -> None:
        container = body.get("container") or {}
        try:
            await handler(
                str((body.get("user") or {}).get("id") or ""),
                str(action.get("value") or ""),
                str(container.get("channel_id") or (body.get("channel") or {}).get("id") or ""),
                str(container.get("message_ts") or ""),
            )
        except Exception as exc:
            _log_failure("a Slack button handler", exc)

    # -- workers -------------------------------------------------------------------

    async def _invite(self, command: Mapping[str, Any], parsed: Command) -> None:
        user = str(command.get("user_id") or "")
        channel = str(command.get("channel_id") or "")
        try:
            outcome = await asyncio.to_thread(self.desk.make_invite, user, parsed)
        except StorageError:
            log.warning("database unavailable; could not make an invite from Slack")
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        except Exception as exc:
            _log_failure("making an invite from Slack", exc)
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        if isinstance(outcome, NotAWorker):
            log.info("an unregistered Slack user asked for an invite")
            refusal = self.desk.say("not_a_worker", user_id=user)
            await self._tell_worker(channel, user, {"text": refusal})
        elif isinstance(outcome, InviteProblem):
            await self._tell_worker(channel, user, {"text": escape(outcome.message)})
        elif isinstance(outcome, Made):
            log.info("invite made from Slack")
            await self._tell_worker(
                channel, user, self.desk.card_message(outcome, self.bot_user_id)
            )
            await self._send_qr(user, outcome)

    async def _promise(self, command: Mapping[str, Any], parsed: Command, name: str) -> None:
        user = str(command.get("user_id") or "")
        channel = str(command.get("channel_id") or "")
        try:
            outcome = await asyncio.to_thread(self.desk.record_promise, user, parsed)
        except StorageError:
            log.warning("database unavailable; could not record a promise from Slack")
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        except Exception as exc:
            _log_failure("recording a promise from Slack", exc)
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        log.info("promise command from Slack: %s", type(outcome).__name__)
        text = self.desk.promise_reply(outcome, user, name)
        await self._tell_worker(channel, user, {"text": text})

    async def _reassign(self, command: Mapping[str, Any], parsed: Command, name: str) -> None:
        user = str(command.get("user_id") or "")
        channel = str(command.get("channel_id") or "")
        try:
            outcome = await asyncio.to_thread(self.desk.reassign, user, parsed)
        except StorageError:
            log.warning("database unavailable; could not move a case from Slack")
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        except Exception as exc:
            _log_failure("moving a case from Slack", exc)
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        log.info("reassign command from Slack: %s", type(outcome).__name__)
        await self._tell_worker(channel, user, {"text": self.desk.reassign_reply(outcome, name)})

    async def _you_said(self, command: Mapping[str, Any], parsed: Command, name: str) -> None:
        """A "you said" preview, privately, with Send and Cancel buttons."""
        user = str(command.get("user_id") or "")
        channel = str(command.get("channel_id") or "")
        try:
            outcome = await asyncio.to_thread(self.desk.you_said, user, parsed)
        except StorageError:
            log.warning("database unavailable; could not preview a message from Slack")
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        except Exception as exc:
            _log_failure("previewing a message from Slack", exc)
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        log.info("yousaid command from Slack: %s", type(outcome).__name__)
        await self._tell_worker(channel, user, self.desk.you_said_message(outcome, name))

    async def _you_said_pressed(self, user: str, value: str, channel: str, _ts: str) -> None:
        """Send was pressed under a preview: the service sends it once, to
        the families it reaches now, whoever presses and however often."""
        try:
            outcome = await asyncio.to_thread(self.desk.you_said_confirmed, user, value)
        except StorageError:
            log.warning("database unavailable; could not send a message confirmed in Slack")
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        log.info("yousaid confirmed in Slack: %s", type(outcome).__name__)
        await self._tell_worker(channel, user, self.desk.you_said_message(outcome, "/heard"))

    async def _you_said_cancelled(self, user: str, _value: str, channel: str, _ts: str) -> None:
        await self._tell_worker(channel, user, {"text": self.desk.say("you_said_cancelled")})

    async def _report(self, command: Mapping[str, Any], parsed: Command, name: str) -> None:
        """A manager's report: the figures privately where they asked, then
        the chart (and the CSV) in their DM with the files upload v2 flow."""
        user = str(command.get("user_id") or "")
        channel = str(command.get("channel_id") or "")
        try:
            outcome = await asyncio.to_thread(self.desk.report, user, parsed, name)
        except StorageError:
            log.warning("database unavailable; could not make a report from Slack")
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        except Exception as exc:
            _log_failure("making a report from Slack", exc)
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        if isinstance(outcome, ReportRefused):
            log.info("a report asked for in Slack was refused")
            await self._tell_worker(channel, user, {"text": escape(outcome.message)})
            return
        await self._tell_worker(channel, user, report_message(outcome))
        files = [(outcome.chart_png, outcome.chart_name, outcome.title)]
        if outcome.csv is not None:
            files.append((outcome.csv, outcome.csv_name, outcome.title))
        try:
            web_api = self._api()
            dm = await web_api.open_dm(user)
            for content, filename, title in files:
                await web_api.upload(dm, content, filename=filename, title=title, alt_text=title)
        except DeliveryError as exc:
            log.warning("could not upload a report file: %s", exc)
        except Exception as exc:
            _log_failure("uploading a report file", exc)

    async def _digest(self, command: Mapping[str, Any], parsed: Command, name: str) -> None:
        """`/heard digest`: the latest digest, in the worker's DM with its
        chart; `/heard digest off|on`: stop or restart the scheduled ones."""
        user = str(command.get("user_id") or "")
        channel = str(command.get("channel_id") or "")
        staff = self.desk.staff
        try:
            if parsed.switch:
                said = await asyncio.to_thread(
                    staff.digests_switch, user, parsed.switch == "on", name
                )
                await self._tell_worker(channel, user, {"text": said})
                return
            outcome = await asyncio.to_thread(staff.digest_for_slack_user, user, name)
        except StorageError:
            log.warning("database unavailable; could not show a digest in Slack")
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        except Exception as exc:
            _log_failure("showing a digest in Slack", exc)
            await self._tell_worker(channel, user, {"text": self._worker_sorry()})
            return
        if isinstance(outcome, DeskProblem):
            await self._tell_worker(channel, user, {"text": escape(outcome.message)})
            return
        try:
            await self.send_digest(user, outcome)
        except DeliveryError as exc:
            log.warning("could not send a digest asked for in Slack: %s", exc)

    async def _review(self, body: Mapping[str, Any], value: str) -> None:
        """A manager pressed Release, Withhold or Edit under a comment."""
        parsed = parse_value(value)
        user = str((body.get("user") or {}).get("id") or "")
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or "")
        ts = str(container.get("message_ts") or "")
        if parsed is None:
            return
        action, comment_id = parsed
        if action == "edit":
            text = _quoted(body.get("message"))
            words = {
                "title": self._staff_text("review_modal_title"),
                "label": self._staff_text("review_modal_label"),
                "submit": self._staff_text("review_modal_submit"),
            }
            trigger = str(body.get("trigger_id") or "")
            try:
                client = self._api().client
                await self._api().call(
                    "views.open",
                    lambda: client.views_open(
                        trigger_id=trigger, view=edit_modal(comment_id, text, channel, ts, words)
                    ),
                )
            except DeliveryError as exc:
                log.warning("could not open the comment edit modal: %s", exc)
            return
        await self._decide(user, comment_id, action, None, channel, ts)

    async def _on_edit_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        found = submitted(body.get("view") or {})
        if found is None:
            return
        comment_id, text, channel, ts = found
        user = str((body.get("user") or {}).get("id") or "")
        self._spawn(self._decide(user, comment_id, "edit", text, channel, ts))

    async def _decide(
        self, user: str, comment_id: int, action: str, text: str | None, channel: str, ts: str
    ) -> None:
        try:
            outcome = await asyncio.to_thread(
                self.desk.staff.review_comment, user, comment_id, action, text
            )
        except Exception as exc:
            _log_failure("deciding on a comment", exc)
            return
        log.info("a comment review: %s", type(outcome).__name__)
        try:
            if isinstance(outcome, DeskProblem):
                await self._api().post_ephemeral(channel, user, {"text": escape(outcome.message)})
                return
            title = self._staff_text("review_decided_title")
            await self._api().update(
                channel, ts, decided_message(title, outcome.text, outcome.note)
            )
        except DeliveryError as exc:
            log.warning("could not show a comment decision: %s", exc)

    async def _tell_worker(self, channel: str, user: str, payload: Mapping[str, Any]) -> None:
        """Answer a worker privately where they typed the command; if the app
        cannot post there (a channel it is not in), in their DM instead."""
        try:
            await self._api().post_ephemeral(channel, user, payload)
            return
        except (Unreachable, SlackRefused) as exc:
            log.info("could not answer a slash command in its channel (%s); using the DM", exc)
        except DeliveryError as exc:
            log.warning("could not answer a slash command: %s", exc)
            return
        try:
            web_api = self._api()
            await web_api.post_message(await web_api.open_dm(user), payload)
        except DeliveryError as exc:
            log.warning("could not answer a slash command in the DM either: %s", exc)

    async def _send_qr(self, user: str, made: Made) -> None:
        try:
            png = await asyncio.to_thread(qr_png, made.card.link)
            web_api = self._api()
            await web_api.upload(
                await web_api.open_dm(user),
                png,
                filename=f"heard-invite-{made.card.code}.png",
                title=self.desk.say("qr_title"),
                alt_text=self.desk.say("qr_alt"),
                comment=self.desk.say("qr_comment", code=made.card.code),
            )
        except Exception as exc:
            if isinstance(exc, DeliveryError):
                log.warning("could not upload an invite QR code: %s", exc)
            else:
                _log_failure("uploading an invite QR code", exc)
            with contextlib.suppress(DeliveryError):
                await self._api().post_message(
                    await self._api().open_dm(user), {"text": self.desk.say("qr_failed")}
                )


def _signed(verifier: SignatureVerifier, raw: bytes, headers: Mapping[str, str]) -> bool:
    """Whether `raw` carries Slack's signature, made within the last 5 minutes."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    return verifier.is_valid(raw, timestamp, signature)


def _quoted(message: Any) -> str:
    """The comment text of a review message (its quoted section)."""
    if not isinstance(message, Mapping):
        return ""
    for block in message.get("blocks") or []:
        text = ((block or {}).get("text") or {}).get("text") or ""
        if block.get("type") == "section" and text.startswith("> "):
            return str(text[2:]).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return ""


def _is_user(target: str) -> bool:
    return len(target) > 1 and target[0] in "UW" and target[1:].isalnum() and target.isupper()
