"""erasure leaves nothing

`scrub_requests` names the tables an erasure deleted rows from, for the duty
that then removes the deleted bytes (a WAL checkpoint on SQLite, VACUUM on
PostgreSQL). `invites.used` keeps a card single-use once `used_at` is cleared
on erasure; cards whose family is already gone lose their `used_at` now.
`safeguarding_alerts.erased` marks the alerts of erased families, so a copy
still on its way to the duty team loses the family's words once it is sent.

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scrub_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tables", sa.String(length=400), nullable=False),
        sa.Column("requested_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scrub_requests")),
    )
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("used", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE invites SET used = (used_at IS NOT NULL)")
    with op.batch_alter_table("safeguarding_alerts") as batch:
        batch.add_column(
            sa.Column("erased", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        "UPDATE safeguarding_alerts SET erased = (text IS NULL AND pseudonym IS NULL"
        " AND respondent_id IS NULL)"
    )
    op.execute(
        "UPDATE invites SET used_at = NULL WHERE used_at IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM respondents WHERE respondents.invite_id = invites.id)"
    )


def downgrade() -> None:
    op.execute("UPDATE invites SET used_at = created_at WHERE used AND used_at IS NULL")
    with op.batch_alter_table("safeguarding_alerts") as batch:
        batch.drop_column("erased")
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("used")
    op.drop_table("scrub_requests")
