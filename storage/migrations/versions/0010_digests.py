"""digests

Workers' and managers' scheduled digests (one row each, with an idempotency
key), the comments on their way to a digest, and where a worker without
Slack gets theirs (Telegram) and whether they stopped them.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: on SQLite a batch copies and drops the
    # table, which its foreign keys refuse once other rows point at a worker.
    op.add_column("workers", sa.Column("telegram_chat", sa.String(length=64), nullable=True))
    op.add_column(
        "workers",
        sa.Column("digests_off", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("manager", sa.String(length=64), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("due_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["workers.id"], name=op.f("fk_digests_worker_id_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        sa.UniqueConstraint("key", name=op.f("uq_digests_key")),
    )
    op.create_index(op.f("ix_digests_worker_id"), "digests", ["worker_id"], unique=False)
    op.create_index("ix_digests_due", "digests", ["status", "due_at"], unique=False)
    op.create_table(
        "digest_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "answer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("heading", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("offered_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_digest_comments_answer_id_answers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_digest_comments_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["workers.id"], name=op.f("fk_digest_comments_worker_id_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_comments")),
        sa.UniqueConstraint("answer_id", name=op.f("uq_digest_comments_answer_id")),
    )
    op.create_index(
        "ix_digest_comments_worker", "digest_comments", ["worker_id", "month", "status"]
    )
    op.create_index("ix_digest_comments_offer", "digest_comments", ["status", "offered_at"])


def downgrade() -> None:
    op.drop_index("ix_digest_comments_offer", table_name="digest_comments")
    op.drop_index("ix_digest_comments_worker", table_name="digest_comments")
    op.drop_table("digest_comments")
    op.drop_index("ix_digests_due", table_name="digests")
    op.drop_index(op.f("ix_digests_worker_id"), table_name="digests")
    op.drop_table("digests")
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("digests_off")
        batch.drop_column("telegram_chat")
