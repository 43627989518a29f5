"""managers and reports

Managers of teams, the frozen report cells of finished months, and a covering
index on answers for the report aggregation.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "managers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("slack_user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_managers_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_managers")),
        sa.UniqueConstraint("team_id", "slack_user_id", name="uq_managers_team_user"),
    )
    op.create_index(op.f("ix_managers_team_id"), "managers", ["team_id"], unique=False)
    op.create_index(op.f("ix_managers_slack_user_id"), "managers", ["slack_user_id"], unique=False)
    op.create_table(
        "report_snapshots",
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("computed_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("k", "month", name=op.f("pk_report_snapshots")),
    )
    op.create_table(
        "report_cells",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("snapshot", sa.String(length=7), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("set_id", sa.String(length=64), nullable=False),
        sa.Column("set_version", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("valued", sa.Integer(), nullable=False),
        sa.Column("distribution", sa.JSON(), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_cells")),
    )
    op.create_index(
        "ix_report_cells_lookup", "report_cells", ["k", "period", "team_id", "worker_id"]
    )
    op.create_index("ix_report_cells_snapshot", "report_cells", ["k", "snapshot"])
    op.create_index(
        "ix_answers_report",
        "answers",
        [
            "answered_at",
            "set_id",
            "set_version",
            "question_id",
            "dimension",
            "team_id",
            "worker_id",
            "respondent_id",
            "code",
            "value",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_answers_report", table_name="answers")
    op.drop_index("ix_report_cells_snapshot", table_name="report_cells")
    op.drop_index("ix_report_cells_lookup", table_name="report_cells")
    op.drop_table("report_cells")
    op.drop_table("report_snapshots")
    op.drop_index(op.f("ix_managers_slack_user_id"), table_name="managers")
    op.drop_index(op.f("ix_managers_team_id"), table_name="managers")
    op.drop_table("managers")
