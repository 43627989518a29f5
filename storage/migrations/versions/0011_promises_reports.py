"""promises in reports and Slack

A "you said, we did" message confirmed with a button carries the key of the
preview it confirms, unique, so a second press (or Slack's retry) sends
nothing twice. Messages sent from the CLI have no key.

A promise may lose its case: when a family is forgotten, its promises keep
only the counted outcome (team, worker, answer, date), not the case, the
family or the worker's words.

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("you_said") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
    op.create_index("ux_you_said_request_key", "you_said", ["request_key"], unique=True)
    with op.batch_alter_table("promises") as batch:
        batch.alter_column("invite_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM promises WHERE invite_id IS NULL")
    with op.batch_alter_table("promises") as batch:
        batch.alter_column("invite_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ux_you_said_request_key", table_name="you_said")
    with op.batch_alter_table("you_said") as batch:
        batch.drop_column("request_key")
