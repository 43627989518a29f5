"""promises in reports and Slack

A "you said, we did" message confirmed with a button carries the key of the
preview it confirms, unique, so a second press (or Slack's retry) sends
nothing twice. Messages sent from the CLI have no key.

Revision ID: 0011
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("you_said") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
    op.create_index("ux_you_said_request_key", "you_said", ["request_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_you_said_request_key", table_name="you_said")
    with op.batch_alter_table("you_said") as batch:
        batch.drop_column("request_key")
