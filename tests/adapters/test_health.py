"""`/healthz` and `/metrics` over HTTP while `heard run` serves a survey on
the fake Telegram; 503 while the database is gone, 200 once it is back."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.adapters.telegram_harness import free_port
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram_api import FakeTelegram

CHAT = 987650777


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def _env(tg: FakeTelegram) -> dict[str, str]:
    return {
        **os.environ,
        "HEARD_PSEUDONYM_SECRET": "health-test-secret-0123456789abcdef",
        "HEARD_TELEGRAM_TOKEN": tg.token,
        "HEARD_LOG_LEVEL": "INFO",
    }


def _config(tmp_path: Path, db_url: str, tg: FakeTelegram, health_port: int) -> Path:
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f"""
[database]
url = "{db_url}"
[privacy]
pseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"
[logging]
format = "json"
[telegram]
enabled = true
base_url = "{tg.base_url}"
bot_username = "{tg.bot_username}"
[server]
health_port = {health_port}
[safeguarding]
alert_channel = "C0DUTY"
"""
    )
    return cfg


def _cli(*args: str, cfg: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def _wait_get(url: str, timeout: float = 20.0) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _get(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _sample(metrics: str, name: str, **labels: str) -> float | None:
    for line in metrics.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


def test_healthz_and_metrics_while_heard_runs(
    tmp_path: Path, db_url: str, tg: FakeTelegram
) -> None:
    proxy: TcpProxy | None = None
    url = db_url
    if db_url.startswith("postgresql"):
        real = make_url(db_url)
        proxy = TcpProxy(real.host or "127.0.0.1", int(real.port or 5432)).start()
        url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    port = free_port()
    cfg = _config(tmp_path, url, tg, port)
    env = _env(tg)
    assert _cli("db", "upgrade", cfg=cfg, env=env).returncode == 0
    _cli("team", "add", "North", cfg=cfg, env=env)
    _cli("worker", "add", "--team", "North", "--name", "Sam", cfg=cfg, env=env)
    card = json.loads(_cli("invite", "--worker", "Sam", "--json", cfg=cfg, env=env).stdout)

    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        tg.wait_for(lambda: tg.commands, timeout=20)
        tg.user_sends_start(CHAT, card["token"])
        tg.wait_for(lambda: any("2 minutes" in (m["text"] or "") for m in tg.sent(CHAT)), 10)

        status, body = _wait_get(f"{base}/healthz")
        assert status == 200, body
        health: dict[str, Any] = json.loads(body)
        assert health["database"] == "ok" and health["telegram"] == "ok"
        assert health["slack"] == "disabled"
        assert isinstance(health["outbox_oldest_pending_s"], int | float)

        status, metrics = _get(f"{base}/metrics")
        assert status == 200
        handled = _sample(
            metrics, "heard_inbound_messages_total", platform="telegram", outcome="handled"
        )
        assert handled == 1.0
        assert (_sample(metrics, "heard_replies_sent_total", platform="telegram") or 0) >= 1
        assert _sample(metrics, "heard_database_up") == 1.0
        assert _sample(metrics, "heard_alerts", state="unacknowledged") == 0.0
        for name in ("heard_outbox_oldest_pending_seconds", "heard_followups_due"):
            assert _sample(metrics, name) is not None, name
        for secret in (str(CHAT), card["token"], card["code"], tg.token):
            assert secret not in metrics

        if proxy is not None:
            proxy.stop()
            status, body = _get(f"{base}/healthz")
            assert status == 503, body
            assert json.loads(body)["database"] == "unavailable"
            assert _sample(_get(f"{base}/metrics")[1], "heard_database_up") == 0.0
            proxy.start()
            deadline = time.monotonic() + 15
            while _get(f"{base}/healthz")[0] != 200:
                assert time.monotonic() < deadline, "health did not recover"
                time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        if proxy is not None:
            proxy.stop()
    assert proc.returncode == 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines)
    assert str(CHAT) not in err and card["token"] not in err and tg.token not in err


def test_a_health_port_in_use_is_one_line(tmp_path: Path, tg: FakeTelegram) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        cfg = _config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", tg, port)
        env = _env(tg)
        assert _cli("db", "upgrade", cfg=cfg, env=env).returncode == 0
        result = _cli("run", cfg=cfg, env=env)
    assert result.returncode == 2
    said = [line for line in result.stderr.splitlines() if line.startswith("heard: ")]
    assert len(said) == 1 and "[server] health_port" in said[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not tg.commands  # nothing started
