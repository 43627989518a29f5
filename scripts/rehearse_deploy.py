"""Rehearse docs/DEPLOY.md step by step on this machine, with the fake
Telegram and Slack servers (tests/fakes) where the real platforms would be.

Run by scripts/rehearse-deploy, which starts a throwaway PostgreSQL server
and sets HEARD_TEST_POSTGRES_URL (the administrator's connection). Each step
prints one line; the first failure stops the rehearsal with exit status 1.
Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

DEPLOY = ROOT / "docs" / "deploy"
HEARD = [sys.executable, "-m", "bot.cli"]
STEP = 0


def step(title: str) -> None:
    global STEP
    STEP += 1
    print(f"[{STEP:2}] {title}", flush=True)


def fail(what: str) -> None:
    print(f"REHEARSAL FAILED: {what}", file=sys.stderr)
    raise SystemExit(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(cmd: list[str], env: dict[str, str], **kw: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, **kw)
    if result.returncode != 0:
        fail(f"{' '.join(cmd[2:] if cmd[:2] == HEARD[:2] else cmd)}: {result.stderr.strip()}")
    return result


def wait(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    fail(f"timed out waiting for {what}")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def main() -> int:
    admin_url = os.environ.get("HEARD_TEST_POSTGRES_URL", "")
    if not admin_url:
        fail("HEARD_TEST_POSTGRES_URL is not set; run scripts/rehearse-deploy")
    work = Path(tempfile.mkdtemp(prefix="heard-rehearsal-"))
    cert, key = work / "tls.crt", work / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    # The fake Telegram must trust this certificate as Telegram trusts a real
    # one; aiohttp reads the trust store when it is first imported.
    os.environ["SSL_CERT_FILE"] = str(cert)
    procs: list[subprocess.Popen[str]] = []
    passed = False
    try:
        rehearse(make_url(admin_url), work, procs)
        passed = True
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        if passed:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs and files kept in {work}", file=sys.stderr)
    print("rehearsal passed: every step of docs/DEPLOY.md that has a fake ran")
    return 0


def psql(admin: Any, sql: str, db: str = "postgres") -> str:
    url = admin.set(drivername="postgresql", database=db).render_as_string(False)
    out = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True
    )
    if out.returncode != 0:
        fail(f"psql: {out.stderr.strip()}")
    return out.stdout.strip()


def rehearse(admin: Any, work: Path, procs: list[subprocess.Popen[str]]) -> None:
    # -- 1. PostgreSQL ---------------------------------------------------------------------
    step("PostgreSQL: a role and a database for Heard")
    password = secrets.token_urlsafe(16)
    psql(admin, f"CREATE ROLE heard_app LOGIN PASSWORD '{password}'")
    psql(admin, "CREATE DATABASE heard_prod OWNER heard_app")
    app_url = admin.set(username="heard_app", password=password, database="heard_prod")
    db_url = app_url.render_as_string(False)

    # -- 2. config and secrets -----------------------------------------------------------------
    step("config from docs/deploy/heard.toml; secrets only in the environment")
    from tests.fakes.slack_api import FakeSlack, SlackClientForTests, dm_message_event, event_body
    from tests.fakes.telegram_api import FakeTelegram

    tg = FakeTelegram().start()
    slack = FakeSlack().start()
    tls_port, hook_port, health_port, slack_port = (free_port() for _ in range(4))
    cert, key = work / "tls.crt", work / "tls.key"
    config = (DEPLOY / "heard.toml").read_text()
    config = config.replace(
        'bot_username = "NorthFamilyFeedbackBot"',
        f'bot_username = "{tg.bot_username}"\nbase_url = "{tg.base_url}"',
    )
    config = config.replace(
        "https://feedback.example.org/telegram/hook", f"https://127.0.0.1:{tls_port}/telegram/hook"
    )
    config = config.replace("port = 8443", f"port = {hook_port}")
    config = config.replace("health_port = 9464", f"health_port = {health_port}")
    config = re.sub(
        r"\[slack\]\nenabled = false[^\n]*",
        (
            f'[slack]\nenabled = true\nmode = "http"\nbase_url = "{slack.base_url}"\n'
            f"port = {slack_port}"
        ),
        config,
    )
    config = config.replace("telegram:-1001234567890", "C0DUTY")
    cfg = work / "heard.toml"
    cfg.write_text(config)
    if re.search(r"(token|secret|password)\s*=", config):
        fail("a secret is written in the config file")
    env = {
        **os.environ,
        "HEARD_CONFIG": str(cfg),
        "HEARD_DATABASE_URL": db_url,
        "HEARD_PSEUDONYM_SECRET": secrets.token_hex(32),
        "HEARD_TELEGRAM_TOKEN": tg.token,
        "HEARD_TELEGRAM_SECRET": secrets.token_urlsafe(32),
        "HEARD_SLACK_BOT_TOKEN": slack.bot_token,
        "HEARD_SLACK_SIGNING_SECRET": "rehearsal-signing-secret",
        "PYTHONPATH": str(ROOT),
    }

    step("heard db upgrade (twice: the second is a no-op)")
    run([*HEARD, "db", "upgrade"], env)
    run([*HEARD, "db", "upgrade"], env)

    step("a team, a worker and a family's card")
    run([*HEARD, "team", "add", "North"], env)
    run([*HEARD, "worker", "add", "--team", "North", "--name", "Sam Jones"], env)
    card = json.loads(run([*HEARD, "invite", "--worker", "Sam Jones", "--json"], env).stdout)
    slack_card = json.loads(run([*HEARD, "invite", "--worker", "Sam Jones", "--json"], env).stdout)

    # -- 3. TLS reverse proxy ------------------------------------------------------------------
    step("nginx from docs/deploy/nginx-heard.conf terminates TLS in front of the webhook")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        fail("nginx is not installed (scripts/rehearse-deploy installs it when run as root)")
    site = (DEPLOY / "nginx-heard.conf").read_text()
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;")
    site = site.replace("127.0.0.1:8443", f"127.0.0.1:{hook_port}")
    site = site.replace("127.0.0.1:3000", f"127.0.0.1:{slack_port}")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    (work / "nginx").mkdir()
    nginx_conf = work / "nginx" / "nginx.conf"
    nginx_conf.write_text(
        f"pid {work}/nginx/nginx.pid;\nerror_log {work}/nginx/error.log;\n"
        "daemon off;\nevents {}\n"
        f"http {{\n  client_body_temp_path {work}/nginx/body;\n"
        f"  proxy_temp_path {work}/nginx/proxy;\n  fastcgi_temp_path {work}/nginx/fcgi;\n"
        f"  uwsgi_temp_path {work}/nginx/uwsgi;\n  scgi_temp_path {work}/nginx/scgi;\n"
        f"  access_log off;\n{site}\n}}\n"
    )
    run([nginx, "-t", "-c", str(nginx_conf), "-p", str(work / "nginx")], env)
    procs.append(
        subprocess.Popen(
            [nginx, "-c", str(nginx_conf), "-p", str(work / "nginx")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    )

    # -- 4. heard run ----------------------------------------------------------------------
    step("heard run: Telegram webhook through nginx, Slack HTTP mode, health on 127.0.0.1")
    log = open(work / "heard.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([*HEARD, "run"], env=env, stdout=log, stderr=log, text=True)
    procs.append(proc)
    wait(lambda: bool(tg.webhook), "Heard to set its webhook")
    if tg.webhook["url"] != f"https://127.0.0.1:{tls_port}/telegram/hook":
        fail(f"webhook set to {tg.webhook['url']}")
    tg.user_sends_start(5550001, card["token"])
    wait(
        lambda: any("2 minutes" in (m["text"] or "") for m in tg.sent(5550001)),
        "the consent message over the TLS webhook",
    )
    before = len(tg.sent(5550001))
    tg.user_taps(5550001, "Yes, let's start")
    wait(lambda: len(tg.sent(5550001)) > before, "the first question")

    client = SlackClientForTests("rehearsal-signing-secret")
    body = event_body(dm_message_event("U0REHEARSE", "D0REHEARSE", slack_card["code"]))
    wait(
        lambda: client.post(f"http://127.0.0.1:{slack_port}/slack/events", body)[0] == 200,
        "Slack's event to be acknowledged",
    )
    slack.wait_for_message("D0REHEARSE", contains="2 minutes", timeout=10)

    step("monitoring: GET /healthz and GET /metrics")
    status, health = get(f"http://127.0.0.1:{health_port}/healthz")
    if status != 200 or json.loads(health)["database"] != "ok":
        fail(f"/healthz answered {status} {health}")
    _, metrics = get(f"http://127.0.0.1:{health_port}/metrics")
    for name in ("heard_inbound_messages_total", "heard_outbox_depth", "heard_alerts"):
        if name not in metrics:
            fail(f"/metrics lacks {name}")
    status, _ = get_tls(f"https://127.0.0.1:{tls_port}/healthz", cert)
    if status != 404:
        fail("nginx publishes /healthz; it must stay on 127.0.0.1")

    # -- 5. a second instance ---------------------------------------------------------------
    step("a second heard run on the same PostgreSQL (rolling restart: stop the first)")
    env2 = dict(env)
    cfg2 = work / "heard-2.toml"
    second_hook, second_health = free_port(), free_port()
    # Both instances sit behind the same proxy in production; here the second
    # serves on its own ports, runs no nightly job, and leaves Slack to the first.
    cfg2.write_text(
        config.replace(f"port = {hook_port}", f"port = {second_hook}")
        .replace(f"health_port = {health_port}", f"health_port = {second_health}")
        .replace("[slack]\nenabled = true", "[slack]\nenabled = false")
        .replace('audit = "6y"', 'audit = "6y"\nnightly = false')
    )
    env2["HEARD_CONFIG"] = str(cfg2)
    log2 = open(work / "heard-2.log", "w")  # noqa: SIM115
    proc2 = subprocess.Popen([*HEARD, "run"], env=env2, stdout=log2, stderr=log2, text=True)
    procs.append(proc2)
    wait(lambda: get(f"http://127.0.0.1:{second_health}/healthz")[0] == 200, "the second")
    proc.send_signal(signal.SIGTERM)
    if proc.wait(timeout=30) != 0:
        fail("the first instance did not stop cleanly")
    run([*HEARD, "db", "upgrade"], env)  # the upgrade step of a rolling restart
    proc = subprocess.Popen([*HEARD, "run"], env=env, stdout=log, stderr=log, text=True)
    procs.append(proc)
    wait(lambda: get(f"http://127.0.0.1:{health_port}/healthz")[0] == 200, "the restart")
    before = len(tg.sent(5550001))
    tg.user_sends_text(5550001, "4")  # answers the first question
    wait(lambda: len(tg.sent(5550001)) > before, "the second question after the restart")

    # -- 6. backups ----------------------------------------------------------------------
    step("backup with pg_dump, restore into a new database, and read the family back")
    dump = work / "heard.dump"
    pg_url = app_url.set(drivername="postgresql").render_as_string(False)
    run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", pg_url], env)
    psql(admin, "CREATE DATABASE heard_restored OWNER heard_app")
    restored = app_url.set(database="heard_restored")
    run(
        [
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            f"--dbname={restored.set(drivername='postgresql').render_as_string(False)}",
            str(dump),
        ],
        env,
    )
    env_r = {**env, "HEARD_DATABASE_URL": restored.render_as_string(False)}
    exported = json.loads(run([*HEARD, "export", "--code", card["code"]], env_r).stdout)
    if len(exported["people"]) != 1 or len(exported["people"][0]["answers"]) != 1:
        fail(f"the restored database does not hold the family: {exported['rows_held']}")

    step("SQLite: an online backup (sqlite3 .backup), restore it, read the family back")
    sqlite_db = work / "single" / "heard.db"
    sqlite_cfg = work / "single.toml"
    sqlite_cfg.write_text(
        f'[database]\nurl = "sqlite:///{sqlite_db}"\n'
        '[privacy]\npseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"\n'
    )
    env_s = {**env, "HEARD_CONFIG": str(sqlite_cfg)}
    run([*HEARD, "db", "upgrade"], env_s)
    run([*HEARD, "team", "add", "South"], env_s)
    run([*HEARD, "worker", "add", "--team", "South", "--name", "Ali"], env_s)
    s_card = json.loads(run([*HEARD, "invite", "--worker", "Ali", "--json"], env_s).stdout)
    run([*HEARD, "chat", "--code", s_card["code"]], env_s, input="1\n4\n3\n")
    backup = work / "heard-backup.db"
    run(["sqlite3", str(sqlite_db), f".backup '{backup}'"], env_s)
    with sqlite3.connect(backup) as conn:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            fail("the SQLite backup is damaged")
    sqlite_db.unlink()
    shutil.copy(backup, sqlite_db)
    s_exported = json.loads(run([*HEARD, "export", "--code", s_card["code"]], env_s).stdout)
    if len(s_exported["people"][0]["answers"]) != 2:
        fail("the restored SQLite database does not hold the family's two answers")

    # -- 7. data requests, retention, keys ------------------------------------------------------
    step("a family's requests: heard export, then heard forget --yes")
    run([*HEARD, "export", "--code", card["code"], "--out", str(work / "family.json")], env)
    forgot = run([*HEARD, "forget", "--code", card["code"], "--yes"], env).stdout
    if "answers" not in forgot:
        fail(f"heard forget printed no table counts: {forgot}")
    step("heard retention --dry-run, and heard keys rotate --dry-run")
    run([*HEARD, "retention", "--dry-run"], env)
    run(
        [*HEARD, "keys", "rotate", "--dry-run"],
        {**env, "HEARD_PSEUDONYM_SECRET_NEW": secrets.token_hex(32)},
    )

    # -- 8. systemd ------------------------------------------------------------------------
    step("systemd unit: systemd-analyze verify docs/deploy/heard.service")
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("     (systemd-analyze not installed: skipped)")
    else:
        unit = work / "heard.service"
        unit.write_text(
            (DEPLOY / "heard.service").read_text().replace("/opt/heard/.venv", sys.prefix)
        )
        out = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
        problems = [
            line
            for line in out.stderr.splitlines()
            if "heard.service" in line and "User" not in line and "EnvironmentFile" not in line
        ]
        if problems:
            fail("systemd-analyze: " + "; ".join(problems))

    proc.send_signal(signal.SIGTERM)
    proc2.send_signal(signal.SIGTERM)
    if proc.wait(timeout=30) != 0 or proc2.wait(timeout=30) != 0:
        fail("heard run did not stop cleanly on SIGTERM")
    for name in ("heard.log", "heard-2.log"):
        text = (work / name).read_text()
        for line in text.splitlines():
            json.loads(line)  # one JSON object per line
        for secret in ("5550001", card["token"], tg.token, slack.bot_token, "U0REHEARSE"):
            if secret in text:
                fail(f"{name} holds personal data or a secret")
    tg.stop()
    slack.stop()


def get_tls(url: str, cert: Path) -> tuple[int, str]:
    import ssl

    context = ssl.create_default_context(cafile=str(cert))
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""


if __name__ == "__main__":
    sys.exit(main())
