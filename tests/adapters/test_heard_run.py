"""`heard run` as an operator starts it: one process, Telegram and Slack
together, against the fake platforms, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.telegram_harness import free_port
from tests.fakes.slack_api import FakeSlack, SlackClientForTests, dm_message_event, event_body
from tests.fakes.telegram_api import FakeTelegram

SIGNING_SECRET = "slack-signing-secret-for-tests"


@pytest.fixture
def fakes() -> Iterator[tuple[FakeTelegram, FakeSlack]]:
    with FakeTelegram() as tg, FakeSlack() as slack:
        yield tg, slack


def _cli(*args: str, cfg: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_one_process_serves_telegram_and_slack(
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
alert_channel = "C0DUTY"
"""
    )
    env = {
        **os.environ,
        "HEARD_PSEUDONYM_SECRET": "run-test-secret-0123456789abcdefghijkl",
        "HEARD_TELEGRAM_TOKEN": tg.token,
        "HEARD_SLACK_BOT_TOKEN": slack.bot_token,
        "HEARD_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "HEARD_LOG_LEVEL": "INFO",
    }
    assert _cli("db", "upgrade", cfg=cfg, env=env).returncode == 0
    assert _cli("team", "add", "North", cfg=cfg, env=env).returncode == 0
    assert (
        _cli("worker", "add", "--team", "North", "--name", "Sam", cfg=cfg, env=env).returncode == 0
    )
    card = json.loads(_cli("invite", "--worker", "Sam", "--json", cfg=cfg, env=env).stdout)
    second = json.loads(_cli("invite", "--worker", "Sam", "--json", cfg=cfg, env=env).stdout)

    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        tg.wait_for(lambda: tg.commands, timeout=20)
        tg.user_sends_start(987650123, card["token"])
        tg.wait_for(
            lambda: any("2 minutes" in (m["text"] or "") for m in tg.sent(987650123)), timeout=10
        )

        client = SlackClientForTests(SIGNING_SECRET)
        url = f"http://127.0.0.1:{port}/slack/events"
        deadline = time.monotonic() + 10
        status = 0
        while time.monotonic() < deadline:
            try:
                status, _, _ = client.post(
                    url, event_body(dm_message_event("U0FAM7QX", "D0FAM7QX", second["code"]))
                )
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200
        slack.wait_for_message("D0FAM7QX", contains="2 minutes", timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert card["token"] not in err and "987650123" not in err and "U0FAM7QX" not in err
    assert tg.token not in err and slack.bot_token not in err


def test_heard_run_refuses_to_start_without_a_duty_channel(tmp_path: Path) -> None:
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "h.db"}"\n'
        '[privacy]\npseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"\n'
        '[telegram]\nenabled = true\ntoken_env = "NO_SUCH_TOKEN"\n'
    )
    env = {**os.environ, "HEARD_PSEUDONYM_SECRET": "x" * 32, "NO_SUCH_TOKEN": "1:abc"}
    assert _cli("db", "upgrade", cfg=cfg, env=env).returncode == 0
    result = _cli("run", cfg=cfg, env=env)
    assert result.returncode == 2
    assert "[safeguarding] alert_channel" in result.stderr and "Traceback" not in result.stderr
