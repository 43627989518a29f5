"""Tests for the fake Slack Web API and signing helpers, using the real slack_sdk and slack_bolt."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    FakeSlack,
    SlackClientForTests,
    block_actions_body,
    bot_message_event,
    command_body,
    dm_channel_id,
    dm_message_event,
    event_body,
    sign,
    url_verification_body,
)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def tiny_png() -> bytes:
    """A valid 1x1 PNG built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


@pytest.fixture
def aclient(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.base_url)


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.bot_token, base_url=fake.base_url)


# --------------------------------------------------------------------------- basics


def test_base_url_shape(fake: FakeSlack) -> None:
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert fake.base_url.endswith("/api/")
    assert fake.bot_token.startswith("xoxb-test-")
    assert fake.bot_user_id == "U0BOT"
    assert fake.app_token.startswith("xapp-")


async def test_auth_test_async(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    resp = await aclient.auth_test()
    assert resp["ok"] is True
    assert resp["user_id"] == BOT_USER_ID
    assert resp["bot_id"] == BOT_ID
    assert resp["team_id"] == fake.team_id == TEAM_ID
    (call,) = fake.calls("auth.test")
    assert call["headers"]["authorization"] == f"Bearer {fake.bot_token}"
    assert call["status"] == 200


def test_auth_test_sync(fake: FakeSlack, client: WebClient) -> None:
    assert client.auth_test()["user_id"] == BOT_USER_ID


async def test_bad_token_is_invalid_auth(fake: FakeSlack) -> None:
    bad = AsyncWebClient(token="xoxb-wrong", base_url=fake.base_url)
    with pytest.raises(SlackApiError) as info:
        await bad.auth_test()
    assert info.value.response["error"] == "invalid_auth"

    no_token = WebClient(base_url=fake.base_url)
    with pytest.raises(SlackApiError) as info2:
        no_token.chat_postMessage(channel="D1", text="x")
    assert info2.value.response["error"] == "invalid_auth"
    assert fake.messages() == []


def test_token_as_form_field_is_accepted(fake: FakeSlack) -> None:
    anonymous = WebClient(base_url=fake.base_url)
    resp = anonymous.api_call("auth.test", params={"token": fake.bot_token})
    assert resp["ok"] is True


async def test_unknown_method(aclient: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        await aclient.api_call("no.such_method")
    assert info.value.response["error"] == "unknown_method"


# --------------------------------------------------------------------------- messages


async def test_post_message_with_blocks(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*How was it?*"}}]
    resp = await aclient.chat_postMessage(channel="D123", text="How was it?", blocks=blocks)
    assert resp["ok"] is True
    assert resp["channel"] == "D123"
    (msg,) = fake.messages("D123")
    assert msg["kind"] == "message"
    assert msg["text"] == "How was it?"
    assert msg["blocks"] == blocks
    assert msg["ts"] == resp["ts"]
    assert fake.calls("chat.postMessage")[0]["headers"]["content-type"].startswith(
        "application/json"
    )


def test_post_message_form_encoded_blocks_are_decoded(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "divider"}]
    client.api_call(
        "chat.postMessage",
        params={"channel": "D9", "text": "hi", "blocks": json.dumps(blocks)},
    )
    (msg,) = fake.messages("D9")
    assert msg["blocks"] == blocks
    assert fake.calls("chat.postMessage")[0]["headers"]["content-type"].startswith(
        "application/x-www-form-urlencoded"
    )


async def test_ts_unique_and_increasing(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    results = await asyncio.gather(
        *(aclient.chat_postMessage(channel="D1", text=str(i)) for i in range(20))
    )
    tss = [r["ts"] for r in results]
    assert len(set(tss)) == 20
    recorded = [m["ts"] for m in fake.messages("D1")]
    assert recorded == sorted(recorded, key=float)
    assert len(set(recorded)) == 20


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_post_message_validation(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        await aclient.chat_postMessage(channel="D1", text="")
    assert info.value.response["error"] == "no_text"


async def test_post_to_user_id_goes_to_dm(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    resp = await aclient.chat_postMessage(channel="U42", text="hello")
    assert resp["channel"] == dm_channel_id("U42")
    assert fake.messages(dm_channel_id("U42"))


async def test_ephemeral_update_delete(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    await aclient.chat_postEphemeral(channel="C1", user="U1", text="only you")
    posted = await aclient.chat_postMessage(channel="C1", text="v1")
    await aclient.chat_update(channel="C1", ts=posted["ts"], text="v2")
    kinds = [(m["kind"], m["text"]) for m in fake.messages("C1")]
    assert kinds == [("ephemeral", "only you"), ("message", "v1"), ("update", "v2")]
    assert fake.messages("C1", kind="ephemeral")[0]["user"] == "U1"

    await aclient.chat_delete(channel="C1", ts=posted["ts"])
    assert fake.messages("C1", kind="message")[0]["deleted"] is True

    with pytest.raises(SlackApiError) as info:
        await aclient.chat_update(channel="C1", ts="1.000000", text="nope")
    assert info.value.response["error"] == "message_not_found"


async def test_conversations_open_stable(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    a1 = (await aclient.conversations_open(users="U123"))["channel"]["id"]
    a2 = (await aclient.conversations_open(users=["U123"]))["channel"]["id"]
    b = (await aclient.conversations_open(users="U456"))["channel"]["id"]
    assert a1 == a2 == dm_channel_id("U123")
    assert a1.startswith("D")
    assert b != a1
    # the sync client sends form-encoded params
    sync = WebClient(token=fake.bot_token, base_url=fake.base_url)
    assert sync.conversations_open(users="U123")["channel"]["id"] == a1


async def test_users_info_and_views_open(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    fake.add_user("U7", real_name="Sam Worker", tz="Europe/Paris")
    user = (await aclient.users_info(user="U7"))["user"]
    assert user["id"] == "U7"
    assert user["tz"] == "Europe/Paris"
    assert fake.calls("users.info")[0]["params"]["user"] == "U7"

    view = {"type": "modal", "title": {"type": "plain_text", "text": "Invite"}, "blocks": []}
    resp = await aclient.views_open(trigger_id="123.abc", view=view)
    assert resp["view"]["id"].startswith("V")
    assert fake.views[0]["view"]["title"]["text"] == "Invite"


# --------------------------------------------------------------------------- file uploads


async def test_files_upload_v2_async(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    png = tiny_png()
    resp = await aclient.files_upload_v2(
        channel="D777",
        file=png,
        filename="qr.png",
        title="Your QR code",
        initial_comment="Scan me",
    )
    assert resp["ok"] is True
    (upload,) = fake.uploads
    assert resp["file"]["id"] == upload["file_id"]
    assert upload["filename"] == "qr.png"
    assert upload["title"] == "Your QR code"
    assert upload["size"] == len(png) == upload["declared_length"]
    assert upload["is_png"] is True
    assert upload["first_bytes"].startswith(b"\x89PNG\r\n\x1a\n")
    assert upload["content"] == png
    assert upload["channel"] == "D777"
    assert upload["initial_comment"] == "Scan me"
    assert upload["completed"] is True
    methods = [c["method"] for c in fake.calls()]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    # the upload URL itself is not authenticated, like files.slack.com
    assert "authorization" not in fake.calls("upload")[0]["headers"]


def test_files_upload_v2_sync(fake: FakeSlack, client: WebClient) -> None:
    png = tiny_png()
    resp = client.files_upload_v2(channel="C1", content=png, filename="a.png", thread_ts="1.2")
    assert resp["file"]["name"] == "a.png"
    (upload,) = fake.uploads
    assert upload["is_png"] and upload["size"] == len(png)
    assert upload["channel"] == "C1"
    assert upload["thread_ts"] == "1.2"


async def test_complete_without_upload_fails(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    url = await aclient.files_getUploadURLExternal(filename="x.png", length=3)
    assert url["upload_url"].startswith(fake.url + "/upload/")
    with pytest.raises(SlackApiError) as info:
        await aclient.files_completeUploadExternal(
            files=[{"id": url["file_id"], "title": "x"}], channel_id="C1"
        )
    assert info.value.response["error"] == "file_not_found"


# --------------------------------------------------------------------------- faults


async def test_429_surfaces_with_retry_after_async(
    fake: FakeSlack, aclient: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as info:
        await aclient.chat_postMessage(channel="D1", text="x")
    response = info.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response["error"] == "ratelimited"
    assert fake.too_many_requests_count == 1
    # only the next call failed
    await aclient.chat_postMessage(channel="D1", text="y")
    assert [m["text"] for m in fake.messages("D1")] == ["y"]


def test_429_surfaces_with_retry_after_sync(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=3)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="D1", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "3"


async def test_rate_limit_retry_handler_retries(fake: FakeSlack) -> None:
    retrying = AsyncWebClient(
        token=fake.bot_token,
        base_url=fake.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    resp = await retrying.chat_postMessage(channel="D1", text="eventually")
    assert resp["ok"] is True
    assert [c["status"] for c in fake.calls("chat.postMessage")] == [429, 200]
    assert [m["text"] for m in fake.messages("D1")] == ["eventually"]


async def test_500_count(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=500, count=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            await aclient.chat_postMessage(channel="D1", text="x")
        assert info.value.response.status_code == 500
    await aclient.chat_postMessage(channel="D1", text="ok")
    assert [c["status"] for c in fake.calls("chat.postMessage")] == [500, 500, 200]


async def test_fail_for_outage_window(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    fake.fail_for("*", 0.4, status=503)
    with pytest.raises(SlackApiError) as info:
        await aclient.chat_postMessage(channel="D1", text="during")
    assert info.value.response.status_code == 503
    with pytest.raises(SlackApiError):
        await aclient.auth_test()
    await asyncio.sleep(0.45)
    await aclient.chat_postMessage(channel="D1", text="after")
    assert [m["text"] for m in fake.messages("D1")] == ["after"]


async def test_respond_error(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    fake.respond_error("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as info:
        await aclient.chat_postMessage(channel="D1", text="x")
    assert info.value.response.status_code == 200
    assert info.value.response["error"] == "channel_not_found"


async def test_upload_url_fault(fake: FakeSlack, aclient: AsyncWebClient) -> None:
    fake.fail_next("upload", status=500)
    with pytest.raises(Exception, match="Failed to upload"):
        await aclient.files_upload_v2(channel="C1", content=b"abc", filename="a.txt")


def test_rate_limit_per_channel() -> None:
    with FakeSlack(rate_limit_per_channel=1.0, rate_limit_burst=2) as f:
        c = WebClient(token=f.bot_token, base_url=f.base_url)
        c.chat_postMessage(channel="C1", text="1")
        c.chat_postMessage(channel="C1", text="2")
        with pytest.raises(SlackApiError) as info:
            c.chat_postMessage(channel="C1", text="3")
        assert info.value.response.status_code == 429
        assert int(info.value.response.headers["Retry-After"]) >= 1
        c.chat_postMessage(channel="C2", text="other channel is fine")
        assert f.too_many_requests_count == 1
        assert len(f.messages("C1")) == 2


def test_wait_for_timeout_message(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="D1", text="something else")
    with pytest.raises(AssertionError) as info:
        fake.wait_for_message("D1", contains="never", timeout=0.1)
    text = str(info.value)
    assert "timed out" in text
    assert "chat.postMessage" in text
    assert "something else" in text


def test_wait_for_returns_value(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="D1", text="hello there")
    assert fake.wait_for(lambda: fake.messages("D1"))[0]["text"] == "hello there"
    assert fake.wait_for_message(contains="hello")["channel"] == "D1"


def test_reset(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="D1", text="x")
    fake.fail_next("auth.test", status=500)
    fake.reset()
    assert fake.calls() == [] and fake.messages() == []
    client.auth_test()


# --------------------------------------------------------------------------- signing


def test_sign_matches_slack_sdk_verifier() -> None:
    verifier = SignatureVerifier(SIGNING_SECRET)
    body = event_body(dm_message_event("U1", "D1", "héllo ✓"))
    assert verifier.is_valid_request(body, sign(body, SIGNING_SECRET))
    assert verifier.is_valid_request(body.encode(), sign(body.encode(), SIGNING_SECRET))
    # bad secret
    assert not verifier.is_valid_request(body, sign(body, "another-secret"))
    # tampered body
    assert not verifier.is_valid_request(body + " ", sign(body, SIGNING_SECRET))
    # stale timestamp (more than 5 minutes old)
    stale = sign(body, SIGNING_SECRET, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)
    # explicit timestamp is honoured and reproducible
    h1 = sign("abc", SIGNING_SECRET, timestamp=1531420618)
    assert h1 == sign(b"abc", SIGNING_SECRET, timestamp=1531420618)
    assert h1["X-Slack-Request-Timestamp"] == "1531420618"
    assert h1["X-Slack-Signature"] == verifier.generate_signature(
        timestamp="1531420618", body="abc"
    )


def test_client_headers_variants() -> None:
    verifier = SignatureVerifier(SIGNING_SECRET)
    sender = SlackClientForTests(SIGNING_SECRET)
    body = command_body(user_id="U1", channel_id="D1")
    good = sender.headers_for(body)
    assert good["Content-Type"] == "application/x-www-form-urlencoded"
    assert verifier.is_valid_request(body, good)
    assert not verifier.is_valid_request(body, sender.headers_for(body, bad_signature=True))
    assert not verifier.is_valid_request(body, sender.headers_for(body, timestamp_offset=-600))
    retried = sender.headers_for(
        event_body({"type": "x"}), retry_num=1, retry_reason="http_timeout"
    )
    assert retried["Content-Type"] == "application/json"
    assert retried["X-Slack-Retry-Num"] == "1"
    assert retried["X-Slack-Retry-Reason"] == "http_timeout"


def test_body_builders() -> None:
    env = json.loads(event_body(dm_message_event("U1", "D1", "hi"), event_id="Ev1"))
    assert env["type"] == "event_callback"
    assert env["event_id"] == "Ev1"
    assert isinstance(env["event_time"], int)
    assert env["team_id"] == TEAM_ID
    assert env["event"]["channel_type"] == "im"

    bot_event = bot_message_event("D1", "x")
    assert bot_event["bot_id"] == BOT_ID and bot_event["user"] == BOT_USER_ID

    assert json.loads(url_verification_body("chal"))["challenge"] == "chal"

    cmd = parse_qs(command_body(text="invite 3", user_id="U1", channel_id="D1"))
    assert cmd["command"] == ["/heard"]
    assert cmd["text"] == ["invite 3"]
    assert cmd["user_id"] == ["U1"]
    assert cmd["trigger_id"][0] and cmd["response_url"][0].startswith("https://")

    payload = json.loads(
        parse_qs(
            block_actions_body(
                user_id="U1", channel_id="D1", action_id="answer", value="yes", message_ts="1.2"
            )
        )["payload"][0]
    )
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1.2",
        "channel_id": "D1",
        "is_ephemeral": False,
    }
    assert payload["actions"][0]["action_id"] == "answer"
    assert payload["actions"][0]["value"] == "yes"
    assert payload["actions"][0]["block_id"] == "b"


# --------------------------------------------------------------------------- real slack-bolt


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_bolt_async_app_replies_via_say(fake: FakeSlack) -> None:
    bolt = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.base_url),
    )
    seen: list[str] = []

    @bolt.event("message")
    async def on_message(event: dict, say) -> None:  # type: ignore[no-untyped-def]
        seen.append(event["text"])
        await say(f"echo: {event['text']}")

    # AsyncApp does not call auth.test at construction (only App does, unless
    # token_verification_enabled=False); it calls it lazily on the first request.
    assert fake.calls() == []

    sender = SlackClientForTests(SIGNING_SECRET)
    channel = dm_channel_id("U123")
    async with serve(bolt.web_app(path="/slack/events")) as base:
        url = f"{base}/slack/events"

        status, _, text = await sender.apost(url, url_verification_body("c-123"))
        assert (status, json.loads(text)) == (200, {"challenge": "c-123"})

        status, _, _ = await sender.apost(url, event_body(dm_message_event("U123", channel, "hi")))
        assert status == 200
        msg = await fake.async_wait_for_message(channel, contains="echo: hi")
        assert msg["kind"] == "message"
        assert [c["method"] for c in fake.calls()] == ["auth.test", "chat.postMessage"]

        # the bot's own message is dropped by bolt's IgnoringSelfEvents middleware
        status, _, _ = await sender.apost(url, event_body(bot_message_event(channel, "echo: hi")))
        assert status == 200

        # a bad signature and a stale timestamp are both rejected with 401
        body = event_body(dm_message_event("U123", channel, "forged"))
        status, _, _ = await sender.apost(url, body, bad_signature=True)
        assert status == 401
        status, _, _ = await sender.apost(url, body, timestamp_offset=-600)
        assert status == 401

        await asyncio.sleep(0.2)
        assert seen == ["hi"]
        assert len(fake.messages(channel)) == 1
        assert len(fake.calls("auth.test")) == 1  # cached by the authorization middleware


async def test_bolt_command_and_block_action(fake: FakeSlack) -> None:
    bolt = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.base_url),
    )

    @bolt.command("/heard")
    async def on_command(ack, command, client) -> None:  # type: ignore[no-untyped-def]
        await ack(f"ok {command['text']}")
        await client.chat_postMessage(
            channel=command["channel_id"],
            text="Pick one",
            blocks=[
                {
                    "type": "actions",
                    "block_id": "b",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "answer",
                            "text": {"type": "plain_text", "text": "Yes"},
                            "value": "yes",
                        }
                    ],
                }
            ],
        )

    @bolt.action("answer")
    async def on_answer(ack, body, action, client) -> None:  # type: ignore[no-untyped-def]
        await ack()
        await client.chat_update(
            channel=body["container"]["channel_id"],
            ts=body["container"]["message_ts"],
            text=f"You said {action['value']}",
        )

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    sender = SlackClientForTests(SIGNING_SECRET)
    async with serve(app) as base:
        url = f"{base}/slack/events"
        status, _, text = await sender.apost(
            url, command_body(text="invite", user_id="U9", channel_id="D9")
        )
        assert (status, text) == (200, "ok invite")
        posted = await fake.async_wait_for_message("D9", contains="Pick one")

        body = block_actions_body(
            user_id="U9", channel_id="D9", action_id="answer", value="yes", message_ts=posted["ts"]
        )
        status, _, _ = await sender.apost(url, body)
        assert status == 200
        update = await fake.async_wait_for_message("D9", kind="update")
        assert update["text"] == "You said yes"
        assert update["ts"] == posted["ts"]
