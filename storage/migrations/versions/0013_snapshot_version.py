"""frozen report months say what they hold

A month frozen before the recorded figures (promises, worker changes,
feeling listened to after "you said") existed has version 1 and gains them
the next time a report needs it; new snapshots are written at the current
version.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN with a default: every month frozen so far is version 1.
    op.add_column(
        "report_snapshots",
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    with op.batch_alter_table("report_snapshots") as batch:
        batch.drop_column("version")
