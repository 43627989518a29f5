"""Telegram throughput: `heard run` (polling) side by side with two python-telegram-bot
bots, each against its own fake Bot API on loopback (issue 14).

    python bench/telegram_throughput.py [--families N] [--part a|b|both] [--rounds R]

N simulated families each send /start TOKEN, tap "Yes, let's start" and answer
every question of the adult set (buttons; the text question with a typed
comment), all at once, each waiting for the bot's reply before its next move
(a closed loop). Every bot runs in its own process: Heard as `python -m bot.cli
--config FILE run`, the other two as this script with `--echo-bot` or
`--conventional-bot`; the fakes and the families share this one. Timing starts
at the first family's first move, once the bot is up and polling, so start-up
is not counted. Latency of a move: from the user's update being queued at the
fake to the fake accepting the bot's reply message (sendMessage) to that chat.
CPU per answer: user + system time of the bot's process (from /proc) while the
families ran, over the answers.

(a) No pacing: Heard with `max_per_second = 0` and `max_per_chat_per_second = 0`
    (pacing off); the fakes enforce no limits. Each round runs the three bots
    one after another (Heard, conventional, echo; the next round in reverse
    order) so a drift in the machine's other load hits all alike, and prints
    each bot's answers/s, p50/p99 and CPU per answer and the round's ratios;
    then all rounds pooled (all answers / all wall time) side by side.
    Heard's answers are those durably stored (SQLite, WAL, synchronous=FULL, as
    Heard configures it; counted in the database after `heard run` was killed
    with SIGKILL). The bots compared with:
    - the echo bot (the limit): PTB 22 as it comes (`Application.builder()`,
      Updater long polling, updates one at a time, PTB's default and on this
      fake its fastest; `--echo-concurrency N` uses `concurrent_updates(N)`),
      making the same calls per update as Heard and storing nothing;
    - a conventional PTB survey bot: `ConversationHandler` + `PicklePersistence`,
      the same consent, questions, buttons and calls per step as Heard, answers
      kept in user_data and pickled on PTB's schedule (not durably per answer).
    Ratio (a) = Heard / echo, target >= 0.9; ratio (a') = Heard / conventional,
    target >= 1.5; both fail if an answer is missing from Heard's database.
(b) Heard's default limits (30/s overall, 1/s per chat, burst 3) against a fake
    that enforces 30/s overall and 1/s (burst 3) per chat: accepted sends
    (sendMessage + editMessageText) per second over a window in which every
    family is mid-survey, / 30. Target >= 0.95 with no 429.

Calls per step: for a button press every bot answers the callback query and
sends the next question (sendMessage) and edits the pressed question
(editMessageText, "✓ label", keyboard removed); for a message it sends once.
Heard sends the next question first and makes the edit only when the chat has
a send to spare (in (a) it always has; under the limits of (b) the edit is
dropped when the chat is behind), so a step costs one paced call on the
critical path.

Defaults: (a) 200 families, 2 rounds; (b) 150 families, 2 s warm-up, 20 s window.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _telegram_common import (
    ROOT,
    BenchTelegram,
    DriveResult,
    Move,
    drive,
    median,
    percentile,
    run_conventional_bot,
    run_echo_bot,
)

SECRET = "bench-pseudonym-secret-0123456789"
FIRST_CHAT = 5_000_001
OVERALL_LIMIT = 30
TARGET_A = 0.9
"""Heard / echo bot, issue 14."""
TARGET_CONVENTIONAL = 1.5
"""Heard / a conventional PTB survey bot (ConversationHandler + PicklePersistence)."""
TARGET_B = 0.95


@dataclass
class Outcome:
    name: str
    result: DriveResult
    sends: int  # sendMessage + editMessageText accepted while the families ran
    cpu: float  # CPU seconds the bot's process used while the families ran
    stored: int | None = None  # answers in the database (Heard only)

    @property
    def answers(self) -> int:
        return self.stored if self.stored is not None else self.result.answers

    @property
    def answers_per_s(self) -> float:
        return self.answers / self.result.wall

    @property
    def cpu_ms_per_answer(self) -> float:
        return self.cpu * 1000 / max(1, self.result.answers)

    def latency(self) -> str:
        lat = self.result.latencies
        return f"p50 {median(lat) * 1000:7.1f} ms   p99 {percentile(lat, 99) * 1000:7.1f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -- plans ----------------------------------------------------------------------------------


def heard_plan() -> list[Move]:
    from bot.core import questions

    moves = [Move("start"), Move("tap", label="Yes, let's start")]
    for q in questions.get("adult").questions:
        if q.kind.value == "text":
            moves.append(Move("type", text="Kind and clear, always rings back", answer=True))
        else:
            # The last label also opens the questions asked only after a good
            # answer, so every question of the set comes in turn.
            moves.append(Move("tap", label=q.labels["en"][-1], answer=True))
    return moves


def echo_plan() -> list[Move]:
    # The same moves; the echo bot's keyboards have no Heard labels, so tap the second button.
    return [Move(m.kind, None, m.text, m.answer) for m in heard_plan()]


# -- processes ------------------------------------------------------------------------------


def start_process(
    cmd: list[str], env: dict[str, str], log: Path, tg: BenchTelegram
) -> subprocess.Popen[bytes]:
    """Start a bot and return once it long-polls the fake."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while not tg.polling.wait(0.05):
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            tail = log.read_text(errors="replace")[-3000:]
            sys.exit(f"{' '.join(cmd)} did not start polling:\n{tail}")
    return proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kill(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGKILL: no clean shutdown, so what is in the database was committed on time."""
    if proc.poll() is not None:
        tail = log.read_text(errors="replace")[-3000:]
        print(f"  WARNING: {proc.args!r} had exited with {proc.returncode}:\n{tail}")
        return
    proc.kill()
    proc.wait()


def drive_bot(
    tg: BenchTelegram,
    proc: subprocess.Popen[bytes],
    tokens: list[str],
    plan: list[Move],
    duration: float | None,
) -> tuple[DriveResult, float]:
    chats = range(FIRST_CHAT, FIRST_CHAT + len(tokens))
    cpu = cpu_seconds(proc.pid)
    result = tg.run(drive(tg, chats, tokens, plan, duration=duration))
    return result, cpu_seconds(proc.pid) - cpu


# -- Heard ----------------------------------------------------------------------------------


def prepare_heard(db_path: Path, families: int, bot_username: str) -> list[str]:
    """A fresh, migrated database with one team, one worker and an invite per family."""
    from bot.core import texts
    from bot.service import admin
    from storage import db

    eng = db.make_engine(f"sqlite:///{db_path}")
    db.upgrade(eng)
    sessions = db.session_factory(eng)
    now = datetime.now(UTC)
    loaded = texts.load()
    with sessions.begin() as s:
        admin.add_team(s, "Bench team", now)
        worker = admin.add_worker(s, "Bench team", "Bench worker", None, now)
        tokens = [
            admin.create_invite(
                s,
                worker,
                set_id="adult",
                locale="en",
                now=now,
                valid_for=timedelta(days=30),
                bot_username=bot_username,
                texts=loaded,
            )[0].token
            for _ in range(families)
        ]
    eng.dispose()
    return tokens


def heard_config(path: Path, db_path: Path, tg: BenchTelegram, *, paced: bool) -> None:
    """Heard's config; with `paced` the [telegram] pacing keys keep their defaults."""
    pacing = "" if paced else "max_per_second = 0\nmax_per_chat_per_second = 0\n"
    path.write_text(
        f"""[database]
url = "sqlite:///{db_path}"

[privacy]
pseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"

[telegram]
enabled = true
token_env = "HEARD_TELEGRAM_TOKEN"
mode = "polling"
base_url = "{tg.base_url}"
bot_username = "{tg.bot_username}"
{pacing}
[safeguarding]
alert_channel = "telegram:-100999"
"""
    )


def stored_answers(db_path: Path) -> tuple[int, str, str]:
    """Answers in the database, its journal mode, and the synchronous level of Heard's engine."""
    from storage import db, repo

    eng = db.make_engine(f"sqlite:///{db_path}")
    try:
        with db.session_factory(eng)() as s:
            count = repo.count_answers(s)
        with eng.connect() as conn:
            journal = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar())
            sync = int(conn.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
    finally:
        eng.dispose()
    return count, journal, {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(sync, str(sync))


@dataclass
class HeardRun:
    outcome: Outcome
    tg: BenchTelegram
    storage: str  # how the database is set up, for the report


def run_heard(
    folder: Path, families: int, *, paced: bool, duration: float | None = None
) -> HeardRun:
    tag = f"{'b' if paced else 'a'}-{time.monotonic_ns()}"
    db_path = folder / f"heard-{tag}.db"
    config, log = folder / f"heard-{tag}.toml", folder / f"heard-{tag}.log"
    with BenchTelegram() as tg:
        if paced:
            tg.set_rate_limits(overall=OVERALL_LIMIT, per_chat=1, burst=3)
        tokens = prepare_heard(db_path, families, tg.bot_username)
        heard_config(config, db_path, tg, paced=paced)
        env = {"HEARD_TELEGRAM_TOKEN": tg.token, "HEARD_PSEUDONYM_SECRET": SECRET}
        cmd = [sys.executable, "-m", "bot.cli", "--config", str(config), "run"]
        proc = start_process(cmd, env, log, tg)
        try:
            result, cpu = drive_bot(tg, proc, tokens, heard_plan(), duration)
        finally:
            kill(proc, log)
        sends = tg.sends_between(0, float("inf"))
    stored, journal, sync = stored_answers(db_path)
    storage = f"SQLite journal_mode={journal}, synchronous={sync}, on {filesystem(folder)}"
    return HeardRun(Outcome("Heard", result, sends, cpu, stored), tg, storage)


def run_echo(families: int, concurrency: int) -> Outcome:
    with BenchTelegram() as tg, tempfile.TemporaryDirectory() as tmp:
        env = {
            "BENCH_TG_BASE_URL": tg.base_url,
            "BENCH_TG_TOKEN": tg.token,
            "BENCH_ECHO_CONCURRENCY": str(concurrency),
        }
        cmd = [sys.executable, str(Path(__file__).resolve()), "--echo-bot"]
        log = Path(tmp) / "echo.log"
        proc = start_process(cmd, env, log, tg)
        tokens = [f"echo{n}" for n in range(families)]
        try:
            result, cpu = drive_bot(tg, proc, tokens, echo_plan(), None)
        finally:
            kill(proc, log)
        return Outcome("echo", result, tg.sends_between(0, float("inf")), cpu)


def run_conventional(families: int) -> Outcome:
    with BenchTelegram() as tg, tempfile.TemporaryDirectory() as tmp:
        env = {
            "BENCH_TG_BASE_URL": tg.base_url,
            "BENCH_TG_TOKEN": tg.token,
            "BENCH_PICKLE": str(Path(tmp) / "survey.pickle"),
        }
        cmd = [sys.executable, str(Path(__file__).resolve()), "--conventional-bot"]
        log = Path(tmp) / "conventional.log"
        proc = start_process(cmd, env, log, tg)
        tokens = [f"conv{n}" for n in range(families)]
        try:
            result, cpu = drive_bot(tg, proc, tokens, heard_plan(), None)
        finally:
            kill(proc, log)
        return Outcome("conventional", result, tg.sends_between(0, float("inf")), cpu)


# -- reporting ------------------------------------------------------------------------------


def filesystem(path: Path) -> str:
    """The file system type under `path` (tmpfs would make fsync free)."""
    best, kind = Path("/"), "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            mount, fstype = Path(line.split()[1]), line.split()[2]
            if path.resolve().is_relative_to(mount) and len(mount.parts) >= len(best.parts):
                best, kind = mount, fstype
    return kind


def problems(outcome: Outcome, families: int, moves: int) -> list[str]:
    r = outcome.result
    found = []
    if r.timeouts:
        found.append(f"{r.timeouts} moves got no reply in time")
    if r.completed_families != families:
        found.append(f"only {r.completed_families}/{families} families finished")
    if r.moves != families * moves:
        found.append(f"{r.moves} replies for {families * moves} moves")
    return found


def show(outcome: Outcome) -> None:
    r = outcome.result
    name = outcome.name
    print(
        f"  {name + ' answers/s:':22} {outcome.answers_per_s:7.1f}   ({r.moves / r.wall:.1f} "
        f"moves/s, {outcome.sends / r.wall:.1f} sends/s, wall {r.wall:.2f} s)"
    )
    print(f"  {name + ' reply latency:':22} {outcome.latency()}")
    print(
        f"  {name + ' CPU per answer:':22} {outcome.cpu_ms_per_answer:7.2f} ms  "
        f"(its process busy {outcome.cpu / r.wall:.0%} of one core)"
    )


def part_a(folder: Path, families: int, rounds: int, echo_concurrency: int) -> None:
    """Heard, the conventional bot and the echo bot once each per round, the order
    reversed every other round so a drift in the machine's other load hits all
    alike; the ratios pool the rounds: all answers / all wall time."""
    plan = heard_plan()
    answers_each = sum(m.answer for m in plan)
    expected = families * answers_each
    echo_mode = (
        "updates one at a time (PTB default)"
        if echo_concurrency <= 1
        else f"concurrent_updates({echo_concurrency})"
    )
    print(
        "(a) no pacing: Heard with max_per_second = 0 and max_per_chat_per_second = 0 (off), "
        f"the fake without limits; echo bot: {echo_mode}"
    )
    print(
        f"  families:              {families} ({len(plan)} moves each, {answers_each} answers), "
        f"{rounds} round(s)"
    )
    heards: list[Outcome] = []
    echoes: list[Outcome] = []
    conventionals: list[Outcome] = []
    all_stored = True
    for n in range(rounds):
        order = ("Heard", "conventional", "echo")
        order = order if n % 2 == 0 else order[::-1]
        if rounds > 1:
            print(f"  -- round {n + 1} of {rounds} ({' then '.join(order)})")
        for name in order:
            if name == "echo":
                echoes.append(run_echo(families, echo_concurrency))
                show(echoes[-1])
                continue
            if name == "conventional":
                conventionals.append(run_conventional(families))
                show(conventionals[-1])
                continue
            heard = run_heard(folder, families, paced=False)
            heards.append(heard.outcome)
            stored = heard.outcome.stored
            all_stored = all_stored and stored == expected
            print(
                f"  answers stored:        {stored} of {expected} expected  ({heard.storage}; "
                f"counted after SIGKILL){'' if stored == expected else '  MISSING ANSWERS'}"
            )
            show(heards[-1])
        for outcome in (heards[-1], conventionals[-1], echoes[-1]):
            for problem in problems(outcome, families, len(plan)):
                print(f"  WARNING ({outcome.name}): {problem}")
        if rounds > 1:
            this_round = heards[-1].answers_per_s / echoes[-1].answers_per_s
            conv_round = heards[-1].answers_per_s / conventionals[-1].answers_per_s
            print(
                f"  ratios this round:     {this_round:7.2f} (echo)  "
                f"{conv_round:7.2f} (conventional)"
            )

    def pooled(outcomes: list[Outcome]) -> float:
        return sum(o.answers for o in outcomes) / sum(o.result.wall for o in outcomes)

    def cpu_each(outcomes: list[Outcome]) -> float:
        return 1000 * sum(o.cpu for o in outcomes) / max(1, sum(o.answers for o in outcomes))

    heard_rate, echo_rate, conv_rate = pooled(heards), pooled(echoes), pooled(conventionals)
    ratio = heard_rate / echo_rate
    ratio_conv = heard_rate / conv_rate
    print("  side by side, all rounds pooled:")
    print("    bot            answers/s   p50 ms   p99 ms   CPU ms/answer")
    for name, outcomes, rate in (
        ("echo", echoes, echo_rate),
        ("conventional", conventionals, conv_rate),
        ("Heard", heards, heard_rate),
    ):
        lat = [x for o in outcomes for x in o.result.latencies]
        print(
            f"    {name:14} {rate:9.1f} {1000 * median(lat):8.1f} {1000 * percentile(lat, 99):8.1f}"
            f" {cpu_each(outcomes):14.2f}"
        )
    print(
        f"  ratio (a):             {ratio:7.2f}   Heard / echo answers/s, every answer stored "
        f"(target >= {TARGET_A}): {verdict(ratio >= TARGET_A and all_stored)}"
    )
    print(
        f"  ratio (a'):            {ratio_conv:7.2f}   Heard / conventional PTB survey bot "
        f"(target >= {TARGET_CONVENTIONAL}): "
        f"{verdict(ratio_conv >= TARGET_CONVENTIONAL and all_stored)}"
    )


def part_b(folder: Path, families: int, seconds: float, warmup: float) -> None:
    print(
        "(b) default limits: Heard at its defaults (30/s overall, 1/s per chat, burst 3); "
        f"the fake enforces {OVERALL_LIMIT}/s overall and 1/s (burst 3) per chat"
    )
    heard = run_heard(folder, families, paced=True, duration=warmup + seconds)
    h, tg = heard.outcome, heard.tg
    r = h.result
    start = r.started + warmup
    sends = tg.sends_between(start, start + seconds)
    rate = sends / seconds
    ratio = rate / OVERALL_LIMIT
    refused = tg.too_many_requests_count
    print(
        f"  families:              {families} (closed loop, stopped after "
        f"{warmup + seconds:.0f} s, all still mid-survey)"
    )
    print(
        f"  achieved send rate:    {rate:7.2f} /s   ({sends} sendMessage + editMessageText "
        f"accepted in the {seconds:.0f} s after the first {warmup:.0f} s)"
    )
    print(
        f"  ratio (b):             {ratio:7.3f}   of {OVERALL_LIMIT}/s (target >= {TARGET_B} "
        f"with no 429): {verdict(ratio >= TARGET_B and refused == 0)}"
    )
    print(f"  429 responses:         {refused:7d}   (target 0)")
    print(
        f"  most sends in 1 s:     {tg.max_sends_in_one_second():7d}   "
        f"(the fake accepts {OVERALL_LIMIT})"
    )
    stored = h.stored or 0
    print(
        f"  answers:               {r.answers} acknowledged by a reply, {stored} stored "
        f"({'ok' if stored >= r.answers else 'LOST ANSWERS'}: stored >= acknowledged)"
    )
    print(f"  reply latency:         {h.latency()}  (queueing behind the 30/s cap)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--families", type=int, default=None, help="families per run (default: (a) 200, (b) 150)"
    )
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument(
        "--rounds", type=int, default=2, help="(a) rounds of all three bots, pooled (default 2)"
    )
    parser.add_argument(
        "--echo-concurrency",
        type=int,
        default=1,
        help="(a) the echo bot's concurrent_updates (default 1: PTB's default)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="(b) measuring window")
    parser.add_argument("--warmup", type=float, default=2.0, help="(b) seconds before the window")
    parser.add_argument("--echo-bot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--conventional-bot", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.conventional_bot:
        run_conventional_bot(
            os.environ["BENCH_TG_BASE_URL"],
            os.environ["BENCH_TG_TOKEN"],
            os.environ["BENCH_PICKLE"],
        )
        return
    if args.echo_bot:
        concurrency = int(os.environ.get("BENCH_ECHO_CONCURRENCY", "1"))
        run_echo_bot(os.environ["BENCH_TG_BASE_URL"], os.environ["BENCH_TG_TOKEN"], concurrency)
        return

    import telegram

    # A bot killed mid long-poll makes the fake's server log a lost connection.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    load = os.getloadavg()[0]
    print(
        f"Telegram throughput: {os.cpu_count()} cores (load {load:.1f} before start), "
        f"Python {platform.python_version()}, python-telegram-bot {telegram.__version__}; "
        "each bot in its own process, the fake and the families in this one"
    )
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="heard-bench-") as tmp:
        folder = Path(tmp)
        if args.part in ("a", "both"):
            part_a(folder, args.families or 200, max(1, args.rounds), args.echo_concurrency)
        if args.part in ("b", "both"):
            part_b(folder, args.families or 150, args.seconds, args.warmup)
    print(f"total time: {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
