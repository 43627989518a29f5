"""`heard run` at DEBUG writes nothing personal: a family answers over
Telegram and another over Slack, one of them discloses danger, and the whole
log holds none of their chat or user ids, their words, their names, the
tokens or the signing secret."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.telegram_harness import free_port
from tests.fakes.slack_api import (
    BOT_ID,
    BOT_USER_ID,
    FakeSlack,
    SlackClientForTests,
    block_actions_body,
    dm_channel_id,
    dm_message_event,
    event_body,
)
from tests.fakes.telegram_api import FakeTelegram

SIGNING_SECRET = "log-privacy-signing-secret-4f1c9a"
PSEUDONYM_SECRET = "log-privacy-pseudonym-secret-0123456789abcdef"
TG_CHAT = 5550123456
TG_NAME = "Philippa"
SLACK_USER = "U0FAMLY7Q2"
SLACK_DM = dm_channel_id(SLACK_USER)
SLACK_NAME = "Quenby Marchbanks"
COMMENT = "Ottoline was patient with the twins every visit"
DISCLOSURE = "my step dad hits me and im scared to go home"


@pytest.fixture
def fakes() -> Iterator[tuple[FakeTelegram, FakeSlack]]:
    with FakeTelegram() as tg, FakeSlack() as slack:
        slack.add_user(SLACK_USER, real_name=SLACK_NAME, name="quenby")
        yield tg, slack


def _cli(*args: str, cfg: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def _telegram_family(tg: FakeTelegram, token: str) -> None:
    """Start from the invite, consent, tap through, write a comment, disclose."""

    def count() -> int:
        return tg.sent_count(TG_CHAT)

    def after(action: Any) -> None:
        before = count()
        action()
        tg.wait_for(lambda: count() > before, timeout=15)

    after(lambda: tg.user_sends_start(TG_CHAT, token, first_name=TG_NAME))
    after(lambda: tg.user_taps(TG_CHAT, "Yes, let's start", first_name=TG_NAME))
    for _ in range(3):
        keyboard = tg.last_keyboard(TG_CHAT)
        if not keyboard:
            break
        label = keyboard[1][0] if len(keyboard) > 1 else keyboard[0][0]
        after(lambda label=label: tg.user_taps(TG_CHAT, label, first_name=TG_NAME))
    after(lambda: tg.user_sends_text(TG_CHAT, COMMENT, first_name=TG_NAME))
    after(lambda: tg.user_sends_text(TG_CHAT, DISCLOSURE, first_name=TG_NAME))


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def _slack_family(slack: FakeSlack, url: str, code: str) -> None:
    client = SlackClientForTests(SIGNING_SECRET)

    def messages() -> list[dict[str, Any]]:
        return slack.messages(SLACK_DM, kind="message")

    def after(body: str) -> dict[str, Any]:
        before = len(messages())
        status, _, _ = client.post(url, body)
        assert status == 200
        slack.wait_for(lambda: len(messages()) > before, timeout=15)
        return messages()[-1]

    deadline = time.monotonic() + 15
    while True:
        try:
            latest = after(event_body(dm_message_event(SLACK_USER, SLACK_DM, code)))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    for _ in range(3):
        buttons = _buttons(latest)
        if not buttons:
            break
        button = buttons[0]
        body = block_actions_body(
            user_id=SLACK_USER,
            channel_id=SLACK_DM,
            action_id=button["action_id"],
            value=button["value"],
            message_ts=latest["ts"],
            message={
                "type": "message",
                "ts": latest["ts"],
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": latest["text"],
                "blocks": latest["blocks"],
            },
        )
        latest = after(body)
    after(event_body(dm_message_event(SLACK_USER, SLACK_DM, COMMENT)))
    after(event_body(dm_message_event(SLACK_USER, SLACK_DM, DISCLOSURE)))


def test_debug_logs_of_whole_flows_hold_no_personal_data_or_secrets(
    tmp_path: Path, db_url: str, fakes: tuple[FakeTelegram, FakeSlack]
) -> None:
    tg, slack = fakes
    port = free_port()
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f"""
[database]
url = "{db_url}"
[privacy]
pseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"
[telegram]
enabled = true
base_url = "{tg.base_url}"
bot_username = "{tg.bot_username}"
[slack]
enabled = true
base_url = "{slack.base_url}"
port = {port}
[safeguarding]
alert_channel = "C0DUTY7XK2"
[logging]
level = "DEBUG"
"""
    )
    env = {
        **os.environ,
        "HEARD_PSEUDONYM_SECRET": PSEUDONYM_SECRET,
        "HEARD_TELEGRAM_TOKEN": tg.token,
        "HEARD_SLACK_BOT_TOKEN": slack.bot_token,
        "HEARD_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "HEARD_LOG_LEVEL": "DEBUG",
    }
    assert _cli("db", "upgrade", cfg=cfg, env=env).returncode == 0
    assert _cli("team", "add", "North", cfg=cfg, env=env).returncode == 0
    assert (
        _cli("worker", "add", "--team", "North", "--name", "Sam", cfg=cfg, env=env).returncode == 0
    )
    tg_card = json.loads(_cli("invite", "--worker", "Sam", "--json", cfg=cfg, env=env).stdout)
    slack_card = json.loads(_cli("invite", "--worker", "Sam", "--json", cfg=cfg, env=env).stdout)

    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        tg.wait_for(lambda: tg.commands, timeout=20)
        _telegram_family(tg, tg_card["token"])
        _slack_family(slack, f"http://127.0.0.1:{port}/slack/events", slack_card["code"])
        slack.wait_for_message("C0DUTY7XK2", contains="alert", timeout=15)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    log = out + err
    assert proc.returncode == 0, err[-3000:]
    assert "DEBUG" in log, "the run did not log at DEBUG"
    assert log.count("\n") > 20
    forbidden = {
        "telegram chat id": str(TG_CHAT),
        "slack user id": SLACK_USER,
        "slack dm id": SLACK_DM,
        "telegram first name": TG_NAME,
        "slack name": "Quenby",
        "the comment": "Ottoline",
        "the disclosure": "step dad",
        "telegram token": tg.token,
        "telegram token's secret half": tg.token.split(":", 1)[1],
        "slack bot token": slack.bot_token,
        "signing secret": SIGNING_SECRET,
        "pseudonym secret": PSEUDONYM_SECRET,
        "invite token": tg_card["token"],
    }
    leaks = {what: value for what, value in forbidden.items() if value in log}
    lines = [line for line in log.splitlines() if any(v in line for v in leaks.values())]
    assert not leaks, "\n".join(lines[:20])
