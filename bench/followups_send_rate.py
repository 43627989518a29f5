"""Follow-ups out at Telegram's limits: 10,000 due check-ins through a real
`heard run` process to the fake Bot API, which enforces an overall rate and
1 message/s per chat (burst 3) and answers 429 to anything faster.

    python bench/followups_send_rate.py [--followups 10000] [--rate 150] [--db URL]

Telegram allows about 30 messages/s overall. To keep the run short (about
2.5 minutes) the same higher rate is configured on both sides, the fake's
limit and `[telegram] max_per_second`; `--rate 30` is the real figure. Each
due check-in is two messages (a greeting, then the consent question), so
10,000 follow-ups are 20,000 messages. Much above 150/s one process runs out
of CPU on a small machine: a message costs Heard about 2 ms of CPU (3-4 ms
before the Telegram channel's HTTP moved from httpx to aiohttp).

Prints, for the drain (first to last message at the fake):
- the achieved rate as a fraction of the allowed rate (target >= 0.95),
- the number of 429 answers Heard received (target 0),
- the peak memory of the `heard run` process over its idle memory
  (VmHWM minus VmRSS before the follow-ups were due; target <= 50 MB).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage import db  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.followups_seed import MESSAGES_PER_CHECKIN, seed_due_checkins  # noqa: E402

SECRET = "bench-secret-0123456789abcdef-0123"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _config(folder: Path, db_url: str, tg: FakeTelegram, rate: float) -> Path:
    port = _free_port()
    path = folder / "heard.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[privacy]
pseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"

[logging]
level = "WARNING"

[telegram]
enabled = true
token_env = "HEARD_TELEGRAM_TOKEN"
mode = "webhook"
base_url = "{tg.base_url}"
bot_username = "{tg.bot_username}"
webhook_url = "http://127.0.0.1:{port}/telegram/hook"
listen = "127.0.0.1"
port = {port}
secret_token_env = "HEARD_TELEGRAM_SECRET"
max_per_second = {rate}
max_per_chat_per_second = 1
chat_burst = 3

[schedule]
quiet_hours = "off"
sweep_every = "1s"
lease = "2m"

[safeguarding]
alert_channel = "telegram:-100999"
"""
    )
    return path


def run(followups: int, rate: float, db_url: str | None, folder: Path) -> dict[str, float]:
    url = db_url or f"sqlite:///{folder / 'heard.db'}"
    eng = db.make_engine(url)
    db.upgrade(eng)
    sessions = db.session_factory(eng)
    expected = followups * MESSAGES_PER_CHECKIN
    with FakeTelegram(rate_limit_overall=rate, rate_limit_per_chat=1.0, burst_per_chat=3) as tg:
        config = _config(folder, url, tg, rate)
        env = {
            **os.environ,
            "HEARD_TELEGRAM_TOKEN": tg.token,
            "HEARD_TELEGRAM_SECRET": "bench-webhook-secret",
            "HEARD_PSEUDONYM_SECRET": SECRET,
            "PYTHONPATH": str(ROOT),
        }
        log = (folder / "heard.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "--config", str(config), "run"],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while not tg.calls("setWebhook"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((folder / "heard.log").read_text()[-3000:])
                time.sleep(0.1)
            time.sleep(3)  # a few idle sweeps
            idle = _kib(proc.pid, "VmRSS")
            cpu_before = _cpu_seconds(proc.pid)

            # The fake records every call; a full garbage collection of those
            # records in this process stalls it and makes it count a burst of
            # queued requests at once, which is the fake's artefact, not Heard's.
            gc.disable()
            print(f"seeding {followups:,} due check-ins ...", flush=True)
            seed_due_checkins(
                sessions, count=followups, now=datetime.now(UTC), secret=SECRET.encode()
            )
            seeded = time.monotonic()
            print(f"sending {expected:,} messages at up to {rate:g}/s ...", flush=True)
            deadline = seeded + expected / rate * 3 + 60
            while tg.sent_count() < expected:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"stopped at {tg.sent_count()} of {expected}:\n"
                        + (folder / "heard.log").read_text()[-3000:]
                    )
                time.sleep(0.5)
            time.sleep(2)  # anything sent twice would show up now
            peak = _kib(proc.pid, "VmHWM")
            cpu = _cpu_seconds(proc.pid) - cpu_before
            times = sorted(m["t"] for m in tg.sent())
            sent = len(times)
            too_many = tg.too_many_requests_count
        finally:
            gc.enable()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
    eng.dispose()
    achieved = (sent - 1) / (times[-1] - times[0])
    return {
        "followups": followups,
        "messages_sent": sent,
        "allowed_rate": rate,
        "achieved_rate": achieved,
        "rate_fraction": achieved / rate,
        "responses_429": too_many,
        "idle_rss_mb": idle / 1024,
        "peak_rss_mb": peak / 1024,
        "peak_over_idle_mb": (peak - idle) / 1024,
        "heard_cpu_ms_per_message": cpu / sent * 1000,
        "due_to_first_send_s": times[0] - seeded,
        "due_to_last_send_s": times[-1] - seeded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followups", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=150.0, help="overall messages/s allowed")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heard-bench-") as tmp:
        r = run(args.followups, args.rate, args.db, Path(tmp))
    print()
    print(f"follow-ups due             {r['followups']:>10,}")
    print(f"messages sent              {r['messages_sent']:>10,}")
    print(f"allowed rate               {r['allowed_rate']:>10.1f} /s")
    print(f"achieved rate              {r['achieved_rate']:>10.1f} /s")
    print(f"fraction of allowed        {r['rate_fraction']:>10.3f}   (target >= 0.95)")
    print(f"429 answers                {r['responses_429']:>10}   (target 0)")
    print(f"peak memory over idle      {r['peak_over_idle_mb']:>10.1f} MB (target <= 50)")
    print(f"  idle / peak RSS          {r['idle_rss_mb']:>6.1f} / {r['peak_rss_mb']:.1f} MB")
    print(f"heard CPU per message      {r['heard_cpu_ms_per_message']:>10.2f} ms")
    print(
        f"due -> first / last send   {r['due_to_first_send_s']:>6.1f} / "
        f"{r['due_to_last_send_s']:.1f} s"
    )
    print(json.dumps(r))


if __name__ == "__main__":
    main()
