"""safeguarding alerts

Every alert raised by what a family wrote, its delivery to the duty channel,
its acknowledgement and the chasing of unacknowledged ones.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safeguarding_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("categories", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("respondent_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("invite_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_ref", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["respondent_id"],
            ["respondents.id"],
            name=op.f("fk_safeguarding_alerts_respondent_id_respondents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_safeguarding_alerts_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["workers.id"], name=op.f("fk_safeguarding_alerts_worker_id_workers")
        ),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["invites.id"], name=op.f("fk_safeguarding_alerts_invite_id_invites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safeguarding_alerts")),
    )
    with op.batch_alter_table("safeguarding_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safeguarding_alerts_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_safeguarding_alerts_respondent_id"), ["respondent_id"], unique=False
        )
        batch_op.create_index("ix_alerts_open", ["status", "last_sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("safeguarding_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_open")
        batch_op.drop_index(batch_op.f("ix_safeguarding_alerts_respondent_id"))
        batch_op.drop_index(batch_op.f("ix_safeguarding_alerts_at"))
    op.drop_table("safeguarding_alerts")
