"""Load: 1,000 concurrent families on loopback for 60 s against `heard run`
(polling, SQLite WAL synchronous=FULL, no pacing) and the Telegram fake.

    python bench/load_families.py [--families 1000] [--seconds 60]

Each family sends /start TOKEN, consents and answers the adult survey, each
move waiting for the reply (a closed loop). Prints errors (moves without a
reply in 60 s, ERROR lines in Heard's log), reply latency p50/p99, inputs per
second, and Heard's memory (peak and last resident set, sampled every 0.5 s).
Moves still waiting for their reply when the time is up are not in the
latencies; they are counted, with the longest wait so far, on their own line.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _telegram_common import BenchTelegram, median, percentile
from telegram_throughput import (
    SECRET,
    drive_bot,
    heard_config,
    heard_plan,
    kill,
    prepare_heard,
    start_process,
    stored_answers,
)


class InFlight(dict[int | str, Any]):
    """The fake's table of families waiting for a reply, remembering when each
    began to wait, so the moves still waiting at the end can be counted."""

    def __init__(self) -> None:
        super().__init__()
        self.since: dict[int | str, float] = {}
        self.left: list[float] = []

    def __setitem__(self, chat: int | str, waiter: Any) -> None:
        self.since[chat] = time.monotonic()
        super().__setitem__(chat, waiter)

    def clear(self) -> None:
        now = time.monotonic()
        self.left = [now - self.since[chat] for chat in self if chat in self.since]
        super().clear()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heard-load-") as tmp, BenchTelegram() as tg:
        folder = Path(tmp)
        db_path, config, log = folder / "heard.db", folder / "heard.toml", folder / "heard.log"
        tokens = prepare_heard(db_path, args.families, tg.bot_username)
        heard_config(config, db_path, tg, paced=False)
        in_flight = InFlight()
        tg.waiters = in_flight
        env = {"HEARD_TELEGRAM_TOKEN": tg.token, "HEARD_PSEUDONYM_SECRET": SECRET}
        proc = start_process(
            ["python", "-m", "bot.cli", "--config", str(config), "run"], env, log, tg
        )
        samples: list[float] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                try:
                    samples.append(rss_mib(proc.pid))
                except OSError:
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start_rss = rss_mib(proc.pid)
        try:
            result, cpu = drive_bot(tg, proc, tokens, heard_plan(), args.seconds)
        finally:
            done.set()
            # Killing Heard cuts its open requests; the fake need not report them.
            logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
            kill(proc, log)
        stored, journal, sync = stored_answers(db_path)
        errors = [
            line for line in log.read_text(errors="replace").splitlines() if " ERROR " in line
        ]
    lat = result.latencies
    print(f"families:        {args.families} concurrent, {args.seconds:.0f} s on loopback")
    print(f"storage:         SQLite journal_mode={journal}, synchronous={sync}")
    print(
        f"moves replied:   {result.moves} ({result.moves / result.wall:.1f}/s), "
        f"answers stored {stored}"
    )
    print(
        f"errors:          {result.timeouts} moves without a reply, {len(errors)} ERROR log lines"
    )
    print(
        f"reply latency:   p50 {1000 * median(lat):.0f} ms   "
        f"p99 {1000 * percentile(lat, 99):.0f} ms"
    )
    left = in_flight.left
    print(
        f"still waiting:   {len(left)} moves when time was up"
        + (f", the longest for {max(left):.1f} s" if left else "")
    )
    print(f"CPU per input:   {1000 * cpu / max(1, result.moves):.2f} ms")
    print(
        f"memory (RSS):    {start_rss:.0f} MiB at start, peak {max(samples, default=0):.0f} MiB, "
        f"last {samples[-1] if samples else 0:.0f} MiB"
    )
    print("verdict:         " + ("PASS" if not result.timeouts and not errors else "FAIL"))


if __name__ == "__main__":
    main()
