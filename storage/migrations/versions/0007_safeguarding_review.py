"""safeguarding review band, spooled alerts and erasure by pseudonym

`level`: "alert" (urgent, chased) or "review" (the uncertain band: sent to the
duty team at once marked for review, upgraded to "alert" when the family says
someone is in danger, is not sure, or does not answer).
`pseudonym`: the family's keyed pseudonym, so a disclosure written before an
invite was used is erased by "forget" like everything else.
`delivery_key`: the platform delivery that raised the alert, unique, so an
alert kept in the local spool while the database was down and the platform's
redelivery of the same message raise it once.

Revision ID: 0007
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("safeguarding_alerts") as batch:
        batch.add_column(
            sa.Column("level", sa.String(length=16), nullable=False, server_default="alert")
        )
        batch.add_column(sa.Column("pseudonym", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("delivery_key", sa.String(length=160), nullable=True))
        batch.create_index("ix_safeguarding_alerts_pseudonym", ["pseudonym"])
        batch.create_index("ux_safeguarding_alerts_delivery", ["delivery_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("safeguarding_alerts") as batch:
        batch.drop_index("ux_safeguarding_alerts_delivery")
        batch.drop_index("ix_safeguarding_alerts_pseudonym")
        batch.drop_column("delivery_key")
        batch.drop_column("pseudonym")
        batch.drop_column("level")
