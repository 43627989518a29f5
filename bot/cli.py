"""`heard`: the command line for families (chat), administrators and operators.

Every expected failure (bad config, unreachable database, unknown worker, …)
is a `HeardError` and is printed as one line that says what to do, with exit
status 2. Nothing here prints a traceback for a mistake a person can fix.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.config import Config, check_run_secret, load, require_secret, with_local_key
from bot.core.durations import parse_duration
from bot.core.engine import Phase, State
from bot.core.errors import HeardError, StorageError
from bot.core.invites import qr_png
from bot.core.privacy import pseudonym
from bot.runtime.app import App, build
from bot.runtime.log_format import TEXT_FORMAT, redact_logs, use_format
from bot.runtime.registry import console_chat

log = logging.getLogger("heard")


def _config(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("HEARD_CONFIG")
    config = load(Path(path) if path else None)
    use_format(config.log_format)
    return config


def _app(args: argparse.Namespace, *, upgrade: bool = False, lets_families_in: str = "") -> App:
    """`lets_families_in`: the command ("heard run", "heard chat") turns chats
    into pseudonyms, so it may make the embedded database's key file and
    must have a key; every other command reads the key only if it exists."""
    config = _config(args)
    if getattr(args, "db", None):
        config = Config(**{**_fields(config), "database_url": args.db})
    if lets_families_in:
        if lets_families_in == "heard run":
            check_run_secret(config)
        config = with_local_key(config)
        require_secret(config, lets_families_in)
    app = build(config)
    if upgrade:
        app.store.upgrade()
    elif not app.store.is_current():
        app.close()
        raise HeardError("the database schema is not up to date; run: heard db upgrade")
    return app


def _fields(config: Config) -> dict[str, object]:
    return {f: getattr(config, f) for f in config.__dataclass_fields__}


# -- chat ----------------------------------------------------------------------------


def _lines(interactive: bool) -> Iterator[str]:
    if not interactive:
        yield from sys.stdin
        return
    while True:
        try:
            yield input("> ")
        except EOFError:
            print()
            return


def cmd_chat(args: argparse.Namespace) -> int:
    app = _app(args, upgrade=True, lets_families_in="heard chat")
    chat_id = args.as_user or f"local-{getpass.getuser()}"
    chat = console_chat(app.conversation.handle, chat_id, sys.stdout)
    interactive = sys.stdin.isatty()
    if interactive:
        print("Heard, in your terminal. Type a number to tap a button. Ctrl-D to leave.\n")
    if args.code:
        chat.run([args.code])
    else:
        token = app.staff.chat_token(
            pseudonym(app.config.pseudonym_secret, chat.platform, chat_id),
            set_id=args.set or app.config.default_set,
            locale=args.lang or app.config.default_locale,
            resumable=_resumable,
        )
        chat.start(token)
    chat.run(_lines(interactive))
    app.close()
    return 0


def _resumable(stored: dict[str, object] | None) -> bool:
    state = State.from_dict(stored) if stored else State()
    return state.phase in (Phase.CONSENT, Phase.ASKING, Phase.STOPPED)


# -- administration ---------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    app = _app(args, upgrade=True)
    print("database is up to date")
    app.close()
    return 0


def cmd_team_add(args: argparse.Namespace) -> int:
    app = _app(args)
    team_id, name = app.staff.add_team(args.name)
    print(f"team {team_id}: {name}")
    return 0


def cmd_team_list(args: argparse.Namespace) -> int:
    app = _app(args)
    for team_id, name in app.staff.list_teams():
        print(f"{team_id}\t{name}")
    return 0


def cmd_worker_add(args: argparse.Namespace) -> int:
    app = _app(args)
    worker_id, name = app.staff.add_worker(
        args.team, args.name, args.slack_user, args.telegram_chat
    )
    print(f"worker {worker_id}: {name} ({args.team})")
    return 0


def cmd_worker_invite(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        valid_for = parse_duration(args.valid_for)
    except ValueError as exc:
        raise HeardError(f"--valid-for: {exc}") from None
    made = app.staff.worker_link(args.worker, valid_for)
    if args.json:
        payload = {"worker": made.worker_name, "link": made.link}
        print(json.dumps({**payload, "expires_at": made.expires_at.isoformat()}))
    else:
        print(f"Telegram link for {made.worker_name}'s digests (works once):")
        print(made.link)
        print(f"Expires: {made.expires_at:%Y-%m-%d %H:%M} UTC")
    return 0


def cmd_worker_list(args: argparse.Namespace) -> int:
    app = _app(args)
    for worker in app.staff.list_workers():
        print(f"{worker.id}\t{worker.name}\t{worker.team}\t{worker.slack_user or '-'}")
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    app = _app(args)
    config = app.config
    valid_for = config.invite_valid_for
    if args.valid_for:
        try:
            valid_for = parse_duration(args.valid_for)
        except ValueError as exc:
            raise HeardError(f"--valid-for: {exc}") from None
    set_id = args.set or config.default_set
    locale = args.lang or config.default_locale
    made = app.staff.make_invite(args.worker, set_id=set_id, locale=locale, valid_for=valid_for)
    card, worker_name = made.card, made.worker_name
    if args.qr:
        try:
            _write_qr(card.link, Path(args.qr))
        except OSError as exc:
            raise HeardError(f"--qr: cannot write {args.qr} ({exc.strerror})") from None
    if args.json:
        payload: dict[str, object] = {
            **card.as_json(),
            "set": set_id,
            "lang": locale,
            "expires_at": made.expires_at.isoformat(),
        }
        if args.qr:
            payload["qr"] = str(args.qr)
        print(json.dumps(payload))
    else:
        print(f"Invite for {worker_name}: set {set_id}, language {locale}")
        print(f"Code:    {card.code}")
        print(f"Link:    {card.link}")
        print(f"Token:   {card.token}")
        print(f"Expires: {made.expires_at:%Y-%m-%d %H:%M} UTC")
        if args.qr:
            print(f"QR code: {args.qr}")
    return 0


def _write_qr(link: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(qr_png(link))


def cmd_lint(args: argparse.Namespace) -> int:
    from bot.core.plain_language import lint_files  # textstat is slow to import

    lines, code = lint_files([Path(p) for p in args.files])
    for line in lines:
        print(line)
    return code


def cmd_followups(args: argparse.Namespace) -> int:
    app = _app(args)
    print(app.staff.followups_report())
    app.close()
    return 0


def cmd_case_close(args: argparse.Namespace) -> int:
    app = _app(args)
    closure = app.staff.close_cases(code=args.code, invite_id=args.invite_id, worker=args.worker)
    app.close()
    print(
        f"closed {closure.cases} case(s); cancelled {closure.followups_cancelled} "
        f"follow-up(s); deleted {closure.contacts_deleted} contact address(es)"
    )
    return 0


def cmd_manager_add(args: argparse.Namespace) -> int:
    app = _app(args)
    for team in args.team:
        name = app.staff.add_manager(team, args.slack_user, args.name)
        print(f"manager {args.slack_user}: {name}")
    return 0


def cmd_manager_list(args: argparse.Namespace) -> int:
    app = _app(args)
    for slack_user, team, name in app.staff.list_managers():
        print(f"{slack_user}\t{team}\t{name or '-'}")
    return 0


def cmd_manager_remove(args: argparse.Namespace) -> int:
    app = _app(args)
    removed = app.staff.remove_manager(args.slack_user, args.team)
    print(f"{args.slack_user} no longer manages {removed} team(s)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bot.service import render_report
    from bot.service.staff import cli_viewer

    app = _app(args)
    staff = app.staff
    if args.chart and not args.chart.lower().endswith(".png"):
        raise HeardError(f"--chart {args.chart}: the chart is a PNG; name the file e.g. trend.png")
    report = staff.reports.report(
        cli_viewer(),
        team=args.team,
        worker=args.worker,
        period=args.period,
        by=args.by,
        fmt=args.format,
    )
    words = render_report.Words(staff.texts, app.config.default_locale, report.k)
    text = render_report.render(report, args.format, words)
    _write(args.out, text.encode(), "--out")
    if args.chart:
        _write(args.chart, render_report.trend_chart(report, words), "--chart")
    if not args.out:
        sys.stdout.write(text)
    app.close()
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    """`heard digest --worker W [--period P] --preview [--json]`."""
    if not args.worker:
        raise HeardError("say whose digest: heard digest --worker NAME --preview")
    if not args.preview:
        raise HeardError(
            "add --preview to see what would be sent, or send it with: heard digest send --worker "
            + args.worker
        )
    app = _app(args)
    digests = app.staff.digests
    made = digests.preview(args.worker, args.period)
    if args.json:
        print(json.dumps(made.as_json(), ensure_ascii=False, indent=2))
    else:
        print(digests.message(made).plain())
    if args.chart and made.chart:
        _write(args.chart, made.chart, "--chart")
    app.close()
    return 0


def cmd_digest_send(args: argparse.Namespace) -> int:
    """`heard digest send [--worker W] [--period P]`: send now, once."""
    import asyncio

    from bot.runtime.digests import send_now

    app = _app(args)
    try:
        for line in asyncio.run(send_now(app, args.worker, args.period)):
            print(line)
    finally:
        app.close()
    return 0


def _write(path: str | None, data: bytes, flag: str) -> None:
    if not path:
        return
    try:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise HeardError(f"{flag}: cannot write {path} ({exc.strerror})") from None


def cmd_audit(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bot.service.reports import audit_lines

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise HeardError(
                f"--since {args.since!r}: use a date like 2026-11-01 or 2026-11-01T09:00"
            ) from None
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    app = _app(args)
    for line in audit_lines(app.store, since):
        if args.json:
            print(json.dumps(line.as_json(), ensure_ascii=False))
        else:
            detail = " ".join(f"{k}={v}" for k, v in line.detail.items() if v is not None)
            print(f"{line.at:%Y-%m-%d %H:%M:%S}\t{line.actor}\t{line.action}\t{detail}")
    app.close()
    return 0


# -- data requests, retention, keys ------------------------------------------------------


def _actor() -> str:
    """Who ran a command, for the audit log: the operating-system user."""
    try:
        return f"administrator {getpass.getuser()} (CLI)"
    except (KeyError, OSError):
        return "administrator (CLI)"


def _table_counts(counts: dict[str, int]) -> str:
    return "\n".join(f"  {table:<20} {n}" for table, n in counts.items())


def cmd_forget(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        held = app.data_requests.holdings(args.code)
        if not held:
            print(f"nothing is held about the family of {args.code}: no one used this card")
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                raise HeardError("erasing cannot be undone: add --yes to confirm without a prompt")
            print(f"This erases everything Heard holds about the family of {args.code}:")
            print(_table_counts(held))
            if input("Erase it for good? Type yes: ").strip().lower() != "yes":
                print("nothing erased")
                return 1
        erased = app.data_requests.forget(args.code, actor=_actor())
        scrubbed = _scrub(app)
    finally:
        app.close()
    print(f"erased {erased.respondents} respondent(s); rows removed by table:")
    print(_table_counts(erased.removed))
    print(scrubbed)
    return 0


def _scrub(app: App) -> str:
    """Remove the deleted rows' bytes from the database files now (see
    `bot.service.erasure`); the line that says how it went."""
    try:
        done = app.scrubber.run()
    except StorageError as exc:
        return f"deleted rows not yet scrubbed from the database files ({exc}); heard run will"
    if done.waiting:
        return (
            "deleted rows not yet scrubbed from the database files (busy, or a last reply "
            "to an erased family is still going out); heard run does it within a minute"
        )
    return "deleted rows scrubbed from the database files"


def cmd_export(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        data = app.data_requests.export(args.code, actor=_actor())
    finally:
        app.close()
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if args.out:
        try:
            fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        except OSError as exc:
            raise HeardError(f"--out: cannot write {args.out} ({exc.strerror})") from None
        print(f"wrote {args.out}: {len(data['people'])} respondent(s)")
    else:
        print(text)
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        lines = app.retention.plan() if args.dry_run else app.retention.apply(actor=_actor())
        scrubbed = "" if args.dry_run else _scrub(app)
    finally:
        app.close()
    verb = "would delete" if args.dry_run else "deleted"
    for line in lines:
        print(f"{line.table:<20} {verb} {line.rows:>7}   (kept: {line.policy})")
    if scrubbed:
        print(scrubbed)
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    config = _config(args)
    var = config.new_pseudonym_secret_env
    new = os.environ.get(var, "")
    if not new:
        raise HeardError(
            f"the new pseudonym secret is not set: export {var} (at least 16 random characters; "
            "[privacy] new_pseudonym_secret_env names the variable)"
        )
    require_secret(config, "heard keys rotate")
    app = _app(args)
    try:
        done = app.keys.rotate(new.encode(), dry_run=args.dry_run, actor=_actor())
    finally:
        app.close()
    if done.dry_run:
        print(
            f"would re-derive {done.rotated} pseudonym(s); {done.kept} respondent(s) without "
            "a contact would keep theirs; nothing changed"
        )
        return 0
    print(
        f"re-derived {done.rotated} pseudonym(s); {done.kept} respondent(s) without a contact "
        "keep theirs.\nNow put the new secret in the variable [privacy] "
        "pseudonym_secret_env names, restart every heard process, and destroy the old secret."
    )
    return 0


def cmd_case_reassign(args: argparse.Namespace) -> int:
    app = _app(args)
    moved = app.staff.promises.reassign(
        code=args.code, worker_ref=args.worker, now=app.staff.clock()
    )
    app.close()
    print(
        f"case {moved.code} moved from {moved.from_worker} to {moved.to_worker} "
        f"on {moved.at:%Y-%m-%d}; later answers and follow-ups go to {moved.to_worker}"
    )
    return 0


def cmd_promise_add(args: argparse.Namespace) -> int:
    app = _app(args)
    made = app.staff.promises.add(
        code=args.code, text=args.text, due=args.due, now=app.staff.clock()
    )
    app.close()
    print(
        f"promise {made.id} recorded for case {made.code}, due {made.due_at:%Y-%m-%d %H:%M} UTC; "
        f"the family will be asked from {made.ask_at:%Y-%m-%d %H:%M} UTC whether it happened"
    )
    return 0


def cmd_promise_list(args: argparse.Namespace) -> int:
    app = _app(args)
    worker, items = app.staff.promises.open_of(args.worker)
    app.close()
    if not items:
        print(f"{worker.name} has no open promises")
        return 0
    print(f"Open promises of {worker.name} (answers are shown only in reports, counted):")
    for item in items:
        asked = "family asked" if item.asked else f"ask from {item.ask_at:%Y-%m-%d %H:%M} UTC"
        print(f"{item.id}\t{item.code}\tdue {item.due_at:%Y-%m-%d %H:%M} UTC\t{asked}\t{item.text}")
    return 0


def cmd_yousaid(args: argparse.Namespace) -> int:
    app = _app(args)
    staff = app.staff
    preview = staff.promises.you_said(
        team=args.team, text=args.text, text_cy=args.text_cy, now=staff.clock(), send=False
    )
    langs = ", ".join(f"{n} in {loc}" for loc, n in sorted(preview.by_locale.items())) or "none"
    print(f"To the families of {preview.team} who answered in the last 6 months ({langs}):")
    for loc, words in preview.texts.items():
        print(f"  [{loc}] {words}")
    print(f"It would reach {preview.families} famil{'y' if preview.families == 1 else 'ies'}.")
    if preview.families == 0:
        app.close()
        print("nothing sent: no family of this team can be reached")
        return 0
    confirmed = args.yes
    if not confirmed:
        if not sys.stdin.isatty():
            app.close()
            print("nothing sent; add --yes to send it")
            return 0
        confirmed = input("Send it now? [y/N] ").strip().lower() in ("y", "yes")
    if not confirmed:
        app.close()
        print("nothing sent")
        return 0
    sent = staff.promises.you_said(
        team=args.team, text=args.text, text_cy=args.text_cy, now=staff.clock(), send=True
    )
    app.close()
    print(
        f"queued for {sent.families} famil{'y' if sent.families == 1 else 'ies'}; "
        "it goes out in daytime, at the platforms' pace"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.runtime.run import run  # the platform libraries are slow to import

    app = _app(args, lets_families_in="heard run")
    return run(app)


# -- parser ----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="heard", description="Feedback from families to their social workers."
    )
    p.add_argument("--config", help="config file (default: $HEARD_CONFIG, else embedded defaults)")
    sub = p.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="the family conversation in this terminal")
    chat.add_argument("--code", help="start from an invite code")
    chat.add_argument("--set", help="question set for the demo invite (adult, young)")
    chat.add_argument("--lang", help="language for the demo invite (en, cy)")
    chat.add_argument("--db", help="database URL (default: from config)")
    chat.add_argument("--as", dest="as_user", help="pretend to be this chat (for trying things)")
    chat.set_defaults(func=cmd_chat)

    run = sub.add_parser("run", help="run the adapters enabled in the config")
    run.set_defaults(func=cmd_run)

    dbp = sub.add_parser("db", help="database maintenance")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="create or migrate the schema to the newest version")
    up.set_defaults(func=cmd_db_upgrade)

    team = sub.add_parser("team", help="teams")
    tsub = team.add_subparsers(dest="team_command", required=True)
    tadd = tsub.add_parser("add", help="register a team")
    tadd.add_argument("name")
    tadd.set_defaults(func=cmd_team_add)
    tsub.add_parser("list", help="list teams").set_defaults(func=cmd_team_list)

    worker = sub.add_parser("worker", help="social workers")
    wsub = worker.add_subparsers(dest="worker_command", required=True)
    wadd = wsub.add_parser("add", help="register a worker")
    wadd.add_argument("--team", required=True)
    wadd.add_argument("--name", required=True)
    wadd.add_argument("--slack-user", help="their Slack user id (U…), to let them make invites")
    wadd.add_argument(
        "--telegram-chat", help="their Telegram chat id, for digests if they do not use Slack"
    )
    wadd.set_defaults(func=cmd_worker_add)
    winv = wsub.add_parser(
        "invite",
        help="a one-time Telegram link that sends a worker's digests to their own chat",
        description=(
            "Prints a t.me link. When the worker opens it and presses Start, their "
            "Telegram chat gets their digests. It works once and expires."
        ),
    )
    winv.add_argument("--worker", required=True, help="the worker's name or id")
    winv.add_argument("--valid-for", default="7d", help='how long the link works (default "7d")')
    winv.add_argument("--json", action="store_true", help="print JSON")
    winv.set_defaults(func=cmd_worker_invite)
    wsub.add_parser("list", help="list workers").set_defaults(func=cmd_worker_list)

    man = sub.add_parser("manager", help="managers: who may see which team's reports")
    msub = man.add_subparsers(dest="manager_command", required=True)
    madd = msub.add_parser("add", help="let a Slack user see a team's reports")
    madd.add_argument("--team", required=True, action="append", help="team name (repeatable)")
    madd.add_argument("--slack-user", required=True, help="their Slack user id (U…)")
    madd.add_argument("--name", help="a name to recognise them by in `heard manager list`")
    madd.set_defaults(func=cmd_manager_add)
    msub.add_parser("list", help="list managers and their teams").set_defaults(
        func=cmd_manager_list
    )
    mrem = msub.add_parser("remove", help="stop a Slack user seeing reports")
    mrem.add_argument("--slack-user", required=True)
    mrem.add_argument("--team", help="only this team (default: every team)")
    mrem.set_defaults(func=cmd_manager_remove)

    rep = sub.add_parser(
        "report",
        help="what families said, per team and period, with small numbers hidden",
        description=(
            "Figures for a finished calendar month, quarter or year. A figure from fewer "
            "than [privacy] k_threshold families is hidden, and so is any figure that "
            "would let someone work one out. Every report is written to the audit log."
        ),
    )
    rep.add_argument("--team", help="one team (default: the whole organisation)")
    rep.add_argument("--worker", help="one worker (id, name or Slack id)")
    rep.add_argument("--period", help="2026-11, 2026-Q4 or 2026 (default: last month)")
    rep.add_argument("--by", choices=("team", "worker", "month"), help="also break down by")
    rep.add_argument(
        "--format", default="table", choices=("table", "csv", "json", "html"), help="output"
    )
    rep.add_argument("--out", help="write to this file instead of the terminal")
    rep.add_argument("--chart", help="also write the trend chart to this PNG file")
    rep.set_defaults(func=cmd_report)

    dig = sub.add_parser(
        "digest",
        help="a worker's digest: preview it, or send digests now",
        description="Preview what a worker's digest would say (--preview), or send "
        "digests now (heard digest send). Each digest is sent once per period.",
    )
    dig.add_argument("--worker", help="worker id, name or Slack user id")
    dig.add_argument("--period", help="2026-11, 2026-Q4 or 2026 (default: the newest due)")
    dig.add_argument("--preview", action="store_true", help="print it; send nothing")
    dig.add_argument("--json", action="store_true", help="print it as JSON")
    dig.add_argument("--chart", help="also write the chart to this PNG file")
    dig.set_defaults(func=cmd_digest)
    dsub = dig.add_subparsers(dest="digest_command")
    dsend = dsub.add_parser("send", help="send digests now (each only once per period)")
    dsend.add_argument("--worker", help="only this worker (default: every worker)")
    dsend.add_argument("--period", help="2026-11, 2026-Q4 or 2026 (default: the newest due)")
    dsend.set_defaults(func=cmd_digest_send)

    aud = sub.add_parser("audit", help="who saw which report, and refusals")
    aud.add_argument("--since", help="from this date, e.g. 2026-11-01")
    aud.add_argument("--json", action="store_true", help="one JSON object per line")
    aud.set_defaults(func=cmd_audit)

    inv = sub.add_parser("invite", help="make a single-use invite card for a family")
    inv.add_argument("--worker", required=True, help="worker id, name or Slack user id")
    inv.add_argument("--set", help="question set: adult or young")
    inv.add_argument("--lang", help="language code, e.g. en or cy")
    inv.add_argument("--qr", help="also write a QR code PNG to this file")
    inv.add_argument("--json", action="store_true", help="print {token, code, link} as JSON")
    inv.add_argument("--valid-for", help="how long the card works, e.g. 30d (default: config)")
    inv.set_defaults(func=cmd_invite)

    fu = sub.add_parser(
        "followups", help="follow-ups and outbox: counts by kind and status, next due times"
    )
    fu.set_defaults(func=cmd_followups)

    case = sub.add_parser(
        "case",
        help="a family's case (an invite): closing one stops its follow-ups",
        description=(
            "An invite is a family's case. Closing it: the invite can no longer be used, "
            "the families who used it get no more check-ins or reminders, and their "
            "contact addresses are deleted."
        ),
    )
    csub = case.add_subparsers(dest="case_command", required=True)
    close = csub.add_parser("close", help="close a case, or all open cases of a worker")
    which = close.add_mutually_exclusive_group(required=True)
    which.add_argument("--code", help="the invite's code, e.g. ABCD-2345")
    which.add_argument("--invite-id", type=int, help="the invite's id")
    which.add_argument("--worker", help="every open case of this worker (id, name or Slack id)")
    close.set_defaults(func=cmd_case_close)
    move = csub.add_parser(
        "reassign", help="give a family's case to another worker (recorded with its date)"
    )
    move.add_argument("--code", required=True, help="the invite's code, e.g. ABCD-2345")
    move.add_argument("--worker", required=True, help="the new worker (id, name or Slack id)")
    move.set_defaults(func=cmd_case_reassign)

    prom = sub.add_parser(
        "promise",
        help="promises workers made to families; families are asked later if they were kept",
    )
    psub = prom.add_subparsers(dest="promise_command", required=True)
    padd = psub.add_parser("add", help="record a promise on a family's case")
    padd.add_argument("--code", required=True, help="the family's invite code")
    padd.add_argument("--text", required=True, help="the promise, in the words you used")
    padd.add_argument(
        "--due", required=True, help="a date (2026-12-05) or a time from now (3d, 10s)"
    )
    padd.set_defaults(func=cmd_promise_add)
    plist = psub.add_parser("list", help="a worker's open promises (never their outcomes)")
    plist.add_argument("--worker", required=True, help="worker id, name or Slack user id")
    plist.set_defaults(func=cmd_promise_list)

    ys = sub.add_parser("yousaid", help='"you said, we did": tell a team\'s families what changed')
    ys.add_argument("--team", required=True, help="the team's name")
    ys.add_argument("--text", required=True, help="the message in English (300 characters)")
    ys.add_argument("--text-cy", help="the same message in Welsh")
    ys.add_argument("--yes", action="store_true", help="send without asking (for scripts)")
    ys.set_defaults(func=cmd_yousaid)

    forget = sub.add_parser(
        "forget",
        help="erase a family's data on their request (as their FORGET in the chat does)",
    )
    forget.add_argument("--code", required=True, help="the code on the family's card")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    forget.set_defaults(func=cmd_forget)

    export = sub.add_parser("export", help="everything Heard holds about a family, as JSON")
    export.add_argument("--code", required=True, help="the code on the family's card")
    export.add_argument("--out", help="write to this file (mode 600) instead of printing")
    export.set_defaults(func=cmd_export)

    ret = sub.add_parser("retention", help="delete what is past the [retention] policy")
    ret.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted; change nothing"
    )
    ret.set_defaults(func=cmd_retention)

    keys = sub.add_parser("keys", help="the pseudonym secret")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    rot = ksub.add_parser(
        "rotate",
        help="re-derive pseudonyms under the new secret in $HEARD_PSEUDONYM_SECRET_NEW",
    )
    rot.add_argument("--dry-run", action="store_true", help="count only; change nothing")
    rot.set_defaults(func=cmd_keys_rotate)

    lint = sub.add_parser("lint", help="check question sets for plain language")
    lint.add_argument("files", nargs="+")
    lint.set_defaults(func=cmd_lint)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("HEARD_LOG_LEVEL", "WARNING"),
        format=TEXT_FORMAT,
    )
    redact_logs()
    try:
        return int(args.func(args))
    except HeardError as exc:
        print(f"heard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
