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

from bot import admin, texts
from bot.app import App, build
from bot.config import Config, load
from bot.durations import parse_duration
from bot.engine import Phase, State
from bot.errors import HeardError
from bot.invites import write_qr
from bot.privacy import pseudonym
from storage import db, repo

log = logging.getLogger("heard")


def _config(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("HEARD_CONFIG")
    return load(Path(path) if path else None)


def _app(args: argparse.Namespace, *, upgrade: bool = False) -> App:
    config = _config(args)
    if getattr(args, "db", None):
        config = Config(**{**_fields(config), "database_url": args.db})
    app = build(config)
    if upgrade:
        db.upgrade(app.engine)
    elif not db.is_current(app.engine):
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
    from adapters.console import PLATFORM, ConsoleChat

    app = _app(args, upgrade=True)
    chat_id = args.as_user or f"local-{getpass.getuser()}"
    chat = ConsoleChat(app.service.handle, chat_id, sys.stdout)
    interactive = sys.stdin.isatty()
    if interactive:
        print("Heard, in your terminal. Type a number to tap a button. Ctrl-D to leave.\n")
    if args.code:
        chat.run([args.code])
    else:
        now = app.service.clock()
        with app.sessions.begin() as session:
            row = repo.respondent_with_state(
                session, pseudonym(app.config.pseudonym_secret, PLATFORM, chat_id)
            )
            state = State.from_dict(row.state) if row and row.state else State()
            resumable = state.phase in (Phase.CONSENT, Phase.ASKING, Phase.STOPPED)
            card = None
            if not resumable:
                card, _ = admin.demo_invite(
                    session,
                    now,
                    set_id=args.set or app.config.default_set,
                    locale=args.lang or app.config.default_locale,
                    texts=texts.load(),
                )
        chat.start(card.token if card else "")
    chat.run(_lines(interactive))
    app.close()
    return 0


# -- administration ---------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    app = _app(args, upgrade=True)
    print("database is up to date")
    app.close()
    return 0


def cmd_team_add(args: argparse.Namespace) -> int:
    app = _app(args)
    with app.sessions.begin() as session:
        team = admin.add_team(session, args.name, app.service.clock())
        print(f"team {team.id}: {team.name}")
    return 0


def cmd_team_list(args: argparse.Namespace) -> int:
    app = _app(args)
    with app.sessions.begin() as session:
        for team in repo.list_teams(session):
            print(f"{team.id}\t{team.name}")
    return 0


def cmd_worker_add(args: argparse.Namespace) -> int:
    app = _app(args)
    with app.sessions.begin() as session:
        worker = admin.add_worker(
            session, args.team, args.name, args.slack_user, app.service.clock()
        )
        print(f"worker {worker.id}: {worker.name} ({args.team})")
    return 0


def cmd_worker_list(args: argparse.Namespace) -> int:
    app = _app(args)
    with app.sessions.begin() as session:
        for worker, team in repo.list_workers(session):
            slack = worker.slack_user_id or "-"
            print(f"{worker.id}\t{worker.name}\t{team.name}\t{slack}")
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
    now = app.service.clock()
    with app.sessions.begin() as session:
        worker = admin.find_worker(session, args.worker)
        card, invite = admin.create_invite(
            session,
            worker,
            set_id=set_id,
            locale=locale,
            now=now,
            valid_for=valid_for,
            bot_username=config.telegram.bot_username,
            texts=texts.load(),
        )
        worker_name = worker.name
    if args.qr:
        try:
            write_qr(card.link, Path(args.qr))
        except OSError as exc:
            raise HeardError(f"--qr: cannot write {args.qr} ({exc.strerror})") from None
    if args.json:
        payload: dict[str, object] = {
            **card.as_json(),
            "set": set_id,
            "lang": locale,
            "expires_at": invite.expires_at.isoformat(),
        }
        if args.qr:
            payload["qr"] = str(args.qr)
        print(json.dumps(payload))
    else:
        print(f"Invite for {worker_name}: set {set_id}, language {locale}")
        print(f"Code:    {card.code}")
        print(f"Link:    {card.link}")
        print(f"Token:   {card.token}")
        print(f"Expires: {invite.expires_at:%Y-%m-%d %H:%M} UTC")
        if args.qr:
            print(f"QR code: {args.qr}")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from bot.plain_language import lint_files

    lines, code = lint_files([Path(p) for p in args.files])
    for line in lines:
        print(line)
    return code


def cmd_followups(args: argparse.Namespace) -> int:
    from bot.scheduler import report

    app = _app(args)
    with app.sessions() as session:
        print(report(session, app.config.schedule, app.service.clock()))
    app.close()
    return 0


def cmd_case_close(args: argparse.Namespace) -> int:
    from bot.scheduler import close_cases

    app = _app(args)
    with app.sessions.begin() as session:
        closure = close_cases(
            session,
            now=app.service.clock(),
            code=args.code,
            invite_id=args.invite_id,
            worker=args.worker,
        )
    app.close()
    print(
        f"closed {closure.cases} case(s); cancelled {closure.followups_cancelled} "
        f"follow-up(s); deleted {closure.contacts_deleted} contact address(es)"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.runner import run

    app = _app(args)
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
    wadd.set_defaults(func=cmd_worker_add)
    wsub.add_parser("list", help="list workers").set_defaults(func=cmd_worker_list)

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

    lint = sub.add_parser("lint", help="check question sets for plain language")
    lint.add_argument("files", nargs="+")
    lint.set_defaults(func=cmd_lint)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("HEARD_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, and Telegram's URLs hold the bot token.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except HeardError as exc:
        print(f"heard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
