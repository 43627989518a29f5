"""A small synthetic team for digest tests: Sam Jones with 7 families who
answered in November 2026 (and 6 in October, for the change), Ana Lewis with
3, and comments from Sam's families, one of which raised a safeguarding
alert; Bo Evans has 5, so the team's total cannot reveal Ana's 3 through
Sam's figures (complementary suppression hides Bo's instead). Names and
words are made up."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, update

from storage.models import Answer, Manager, SafeguardingAlert, Worker
from tests.reports_seed import ADULT, Family, Org, seed

SAM, ANA, BO = 1, 2, 3
SAM_SLACK, ANA_SLACK = "U0SAMJONES", "U0ANALEWIS"
MANAGER = "U0MANAGER1"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)

COMMENTS = {
    1: "Sam always rings back the same day, thank you.",
    2: "Ring me on 07700 900123 if you need anything, says Jayden's nan.",
    3: "I wish the meetings were not so early in the morning.",
    4: "Sam explained everything to my daughter Chloe at Ysgol Gymraeg Aberystwyth.",
    5: "He hits me when the worker leaves and I am scared to go home.",
}
"""Respondent id -> the comment they wrote (5 raised an alert)."""
NEXT_STEPS = {6: "There will be a meeting and then a plan for the children."}
ANA_COMMENT = {14: "Ana is kind."}


def org() -> Org:
    families = [Family(1, SAM, ((2026, 11, 3 + i),)) for i in range(7)]
    families += [Family(1, SAM, ((2026, 10, 5 + i),)) for i in range(6)]
    families += [Family(1, ANA, ((2026, 11, 10 + i),)) for i in range(3)]
    families += [Family(1, BO, ((2026, 11, 14 + i),)) for i in range(5)]
    workers = {SAM: (1, "Sam Jones"), ANA: (1, "Ana Lewis"), BO: (1, "Bo Evans")}
    return Org({1: "North"}, workers, tuple(families))


def seed_team(engine: Engine) -> None:
    seed(engine, org(), random.Random(11))
    with engine.begin() as conn:
        conn.execute(update(Worker).where(Worker.id == SAM).values(slack_user_id=SAM_SLACK))
        conn.execute(update(Worker).where(Worker.id == ANA).values(slack_user_id=ANA_SLACK))
        conn.execute(
            insert(Manager),
            [{"team_id": 1, "slack_user_id": MANAGER, "name": "Alex", "created_at": NOW}],
        )
        rows = []
        texts = [(r, "comment", "comment", t) for r, t in COMMENTS.items()]
        texts += [(r, "next_own_words", "next_steps", t) for r, t in NEXT_STEPS.items()]
        texts += [(r, "comment", "comment", t) for r, t in ANA_COMMENT.items()]
        for respondent, question, dimension, text in texts:
            worker = ANA if 14 <= respondent <= 16 else SAM
            rows.append(
                {
                    "respondent_id": respondent,
                    "round": 1,
                    "set_id": "adult",
                    "set_version": ADULT.version,
                    "question_id": question,
                    "dimension": dimension,
                    "code": "text",
                    "value": None,
                    "text": text,
                    "team_id": 1,
                    "worker_id": worker,
                    "answered_at": datetime(2026, 11, 20, 12, tzinfo=UTC),
                }
            )
        conn.execute(insert(Answer), rows)
        conn.execute(
            insert(SafeguardingAlert),
            [
                {
                    "at": datetime(2026, 11, 20, 12, tzinfo=UTC),
                    "categories": "abuse",
                    "text": "  " + COMMENTS[5] + "\n",
                    "platform": "telegram",
                    "locale": "en",
                    "respondent_id": 5,
                    "team_id": 1,
                    "worker_id": SAM,
                    "status": "acknowledged",
                    "sends": 1,
                    "level": "alert",
                }
            ],
        )
