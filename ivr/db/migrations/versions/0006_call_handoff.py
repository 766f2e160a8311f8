"""calls.handoff, handoff_by, handoff_at: emergency hand-offs from the desk

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("handoff", sa.String(16)))
        batch.add_column(sa.Column("handoff_by", sa.String(32)))
        batch.add_column(sa.Column("handoff_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("handoff_at")
        batch.drop_column("handoff_by")
        batch.drop_column("handoff")
