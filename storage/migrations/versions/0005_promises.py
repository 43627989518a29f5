"""promises, case changes and "you said, we did"

Promises a worker made to a family and whether the family says they were
kept; a dated record of every change of a family's worker; and the messages
managers send back to families about what changed.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC = storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invite_id", sa.Integer(), nullable=False),
        sa.Column("respondent_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("ask_at", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("asked_at", UTC, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("repaired", sa.Boolean(), nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["invites.id"], name=op.f("fk_promises_invite_id_invites")
        ),
        sa.ForeignKeyConstraint(
            ["respondent_id"],
            ["respondents.id"],
            name=op.f("fk_promises_respondent_id_respondents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_promises_team_id_teams")),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["workers.id"], name=op.f("fk_promises_worker_id_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
    )
    op.create_index(op.f("ix_promises_invite_id"), "promises", ["invite_id"])
    op.create_index(op.f("ix_promises_respondent_id"), "promises", ["respondent_id"])
    op.create_index("ix_promises_team_time", "promises", ["team_id", "answered_at"])
    op.create_index("ix_promises_worker_time", "promises", ["worker_id", "answered_at"])

    op.create_table(
        "case_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invite_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("from_worker_id", sa.Integer(), nullable=False),
        sa.Column("to_worker_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["invites.id"], name=op.f("fk_case_changes_invite_id_invites")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_case_changes_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["from_worker_id"],
            ["workers.id"],
            name=op.f("fk_case_changes_from_worker_id_workers"),
        ),
        sa.ForeignKeyConstraint(
            ["to_worker_id"], ["workers.id"], name=op.f("fk_case_changes_to_worker_id_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_changes")),
    )
    op.create_index(op.f("ix_case_changes_invite_id"), "case_changes", ["invite_id"])
    op.create_index("ix_case_changes_team_time", "case_changes", ["team_id", "at"])

    op.create_table(
        "you_said",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.JSON(), nullable=False),
        sa.Column("families", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_you_said_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_you_said")),
    )
    op.create_index(op.f("ix_you_said_team_id"), "you_said", ["team_id"])
    op.create_index("ix_you_said_team_time", "you_said", ["team_id", "created_at"])


def downgrade() -> None:
    op.drop_table("you_said")
    op.drop_table("case_changes")
    op.drop_table("promises")
