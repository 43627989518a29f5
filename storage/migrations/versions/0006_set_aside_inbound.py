"""set-aside inbound messages

Messages the database refused again and again are recorded here (platform,
kind of error, when; no text, no chat id) and skipped, so one poison message
never stalls a chat or the polling offset.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "set_aside_inbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("alerted", sa.Boolean(), nullable=False),
        sa.Column("set_aside_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_set_aside_inbound")),
    )
    op.create_index(
        op.f("ix_set_aside_inbound_set_aside_at"),
        "set_aside_inbound",
        ["set_aside_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_set_aside_inbound_set_aside_at"), table_name="set_aside_inbound")
    op.drop_table("set_aside_inbound")
