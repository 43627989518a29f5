"""A family asks, by phone, to see and then to delete what Heard holds about
them: `heard export` and `heard forget` by the code on their card."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pexpect
import pytest
from sqlalchemy import inspect, select, text, update

from bot.config import Config, DataRequestsConfig, SafeguardingConfig
from bot.core.errors import NotFoundError
from bot.core.privacy import pseudonym
from bot.runtime.app import policy_for
from bot.service.alerts import Alerts
from bot.service.conversation import Conversations
from bot.service.data_requests import DataRequests
from storage.models import AuditEntry, Invite, OutboxMessage, SafeguardingAlert
from tests.conftest import SECRET, FakeClock
from tests.helpers import ChatFamily, make_invite, tiny_sets
from tests.integration.test_cli import heard

MakeService = Callable[..., Conversations]
CONFIG = Config(database_url="", pseudonym_secret=SECRET)
CHAT = "771234"


@pytest.fixture
def service(make_service: MakeService) -> Conversations:
    sink = Alerts(replace(SafeguardingConfig(), alert_channel="slack:C0DUTY"))
    return make_service(
        sets=tiny_sets(), default_set="tiny", alert_sink=sink, policy=policy_for(CONFIG)
    )


def _family(
    service: Conversations,
    clock: FakeClock,
    chat: str = CHAT,
    comment: str = "I want to kill myself",
) -> str:
    with service.store.sessions.begin() as s:
        invite = make_invite(s, clock(), locale="cy")
        token, code = invite.token, invite.code
    fam = ChatFamily(service, chat)
    fam.start(token)
    fam.tap("yes")
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    fam.say(comment)
    return code


def _dump(service: Conversations) -> dict[str, str]:
    with service.store.sessions() as s:
        return {
            table: " ".join(str(row) for row in s.execute(text(f"SELECT * FROM {table}")))
            for table in inspect(s.connection()).get_table_names()
        }


def test_export_shows_exactly_what_forget_then_removes(
    service: Conversations, clock: FakeClock
) -> None:
    code = _family(service, clock)
    other = _family(service, clock, chat="889900", comment="he hits me every night")
    requests = DataRequests(service, CONFIG)

    exported = requests.export(code, actor="admin")
    assert json.loads(json.dumps(exported)) == exported  # JSON as it is
    [person] = exported["people"]
    assert person["language"] == "cy"
    assert person["contact"]["address"] == CHAT
    assert [a["question_id"] for a in person["answers"]] == [
        "truth",
        "same_worker",
        "how_many",
        "comment",
    ]
    first = person["answers"][0]
    assert first["question"] == tiny_sets()["tiny"].questions[0].text["cy"]
    assert first["answer"] == "🙂 Fel arfer"
    assert person["answers"][-1]["text"] == "I want to kill myself"
    [alert] = person["alerts"]
    assert alert["what_you_wrote"] == "I want to kill myself"
    assert "duty_team" not in alert  # the default policy leaves the duty team's notes out
    counts = exported["rows_held"]
    assert counts["answers"] == len(person["answers"])
    assert counts["followups"] == len(person["followups"])
    assert counts["outbox"] == len(person["messages"])
    assert counts["safeguarding_alerts"] == 1
    assert counts["contacts"] == counts["conversations"] == counts["respondents"] == 1

    with service.store.sessions.begin() as s:
        # The duty team got the alert (one still on its way is kept whole by
        # erasure: their safety comes first).
        s.execute(update(OutboxMessage).where(OutboxMessage.kind == "alert").values(status="sent"))
    erased = requests.forget(code, actor="admin")
    assert erased.removed == counts
    assert erased.respondents == 1

    dump = _dump(service)
    pseud = pseudonym(SECRET, "test", CHAT)
    for table, rows in dump.items():
        assert pseud not in rows and CHAT not in rows and "kill myself" not in rows, table
    with service.store.sessions() as s:
        alerts = s.scalars(select(SafeguardingAlert).order_by(SafeguardingAlert.id)).all()
        assert alerts[0].respondent_id is None and alerts[0].invite_id is None
        assert alerts[1].respondent_id is not None  # the other family is untouched
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert "exported a family's data on request" in actions
        assert actions[-1] == "erased a family's data on request"
        assert s.scalar(select(Invite.id).where(Invite.code == code)) is not None
    assert requests.export(code, actor="admin")["people"] == []
    assert len(requests.export(other, actor="admin")["people"]) == 1


def test_duty_team_notes_are_exported_only_when_the_policy_says_so(
    service: Conversations, clock: FakeClock
) -> None:
    code = _family(service, clock)
    config = replace(CONFIG, data_requests=DataRequestsConfig(include_duty_notes=True))
    [alert] = DataRequests(service, config).export(code, actor="admin")["people"][0]["alerts"]
    assert set(alert["duty_team"]) == {
        "sent_times",
        "delivered_at",
        "acknowledged_by",
        "acknowledged_at",
    }


def test_an_unknown_code_changes_nothing(service: Conversations, clock: FakeClock) -> None:
    _family(service, clock)
    before = _dump(service)
    requests = DataRequests(service, CONFIG)
    with pytest.raises(NotFoundError, match="no case has the code ZZZZ-9999"):
        requests.forget("zzzz 9999", actor="admin")
    with pytest.raises(NotFoundError, match="not an invite code"):
        requests.export("hello", actor="admin")
    assert _dump(service) == before


def _cli_config(tmp_path: Path, db_url: str) -> str:
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f'[database]\nurl = "{db_url}"\n\n'
        '[privacy]\npseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"\n'
    )
    return str(cfg)


def test_heard_export_and_forget_by_code(tmp_path: Path, db_url: str) -> None:
    cfg = _cli_config(tmp_path, db_url)
    heard("--config", cfg, "team", "add", "North", cwd=tmp_path)
    heard("--config", cfg, "worker", "add", "--team", "North", "--name", "Sam", cwd=tmp_path)
    card = json.loads(
        heard("--config", cfg, "invite", "--worker", "Sam", "--json", cwd=tmp_path).stdout
    )
    chat = heard("--config", cfg, "chat", "--code", card["code"], cwd=tmp_path, stdin="1\n4\n")
    assert chat.returncode == 0, chat.stderr

    out = tmp_path / "family.json"
    exported = heard(
        "--config", cfg, "export", "--code", card["code"], "--out", str(out), cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    data = json.loads(out.read_text())
    assert len(data["people"][0]["answers"]) == 1
    assert out.stat().st_mode & 0o077 == 0

    unconfirmed = heard("--config", cfg, "forget", "--code", card["code"], cwd=tmp_path)
    assert unconfirmed.returncode == 2
    assert unconfirmed.stderr.startswith("heard: ") and "--yes" in unconfirmed.stderr
    gone = heard("--config", cfg, "forget", "--code", card["code"], "--yes", cwd=tmp_path)
    assert gone.returncode == 0, gone.stderr
    for table, n in data["rows_held"].items():
        assert any(line.split() == [table, str(n)] for line in gone.stdout.splitlines()), table
    assert gone.stdout.splitlines()[-1] == "deleted rows scrubbed from the database files"

    unknown = heard("--config", cfg, "forget", "--code", "ZZZZ-9999", "--yes", cwd=tmp_path)
    assert unknown.returncode == 2
    assert (
        len(unknown.stderr.strip().splitlines()) == 1 and "no case has the code" in unknown.stderr
    )


def test_heard_forget_asks_at_a_terminal_and_no_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    cfg = _cli_config(tmp_path, f"sqlite:///{db}")
    heard("--config", cfg, "db", "upgrade", cwd=tmp_path)
    heard("--config", cfg, "team", "add", "North", cwd=tmp_path)
    heard("--config", cfg, "worker", "add", "--team", "North", "--name", "Sam", cwd=tmp_path)
    card = json.loads(
        heard("--config", cfg, "invite", "--worker", "Sam", "--json", cwd=tmp_path).stdout
    )
    heard("--config", cfg, "chat", "--code", card["code"], cwd=tmp_path, stdin="1\n4\n")
    env = {**os.environ, "HEARD_PSEUDONYM_SECRET": "cli-test-secret-0123456789"}

    def forget(answer: str) -> tuple[str, int]:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "bot.cli", "--config", cfg, "forget", "--code", card["code"]],
            cwd=str(tmp_path),
            env=env,
            encoding="utf-8",
            timeout=30,
        )
        child.expect("Type yes: ")
        shown = str(child.before)
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        return shown + str(child.before), int(child.exitstatus or 0)

    def people() -> int:
        out = heard("--config", cfg, "export", "--code", card["code"], cwd=tmp_path).stdout
        return len(json.loads(out)["people"])

    shown, status = forget("no")
    assert status == 1 and "nothing erased" in shown
    assert "answers" in shown and "contacts" in shown
    assert people() == 1
    shown, status = forget("yes")
    assert status == 0 and "rows removed by table" in shown
    assert people() == 0
