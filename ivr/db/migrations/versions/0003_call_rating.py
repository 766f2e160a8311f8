"""calls.rating, calls.rated_at: the citizen's post-call rating

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("rating", sa.String(32)))
        batch.add_column(sa.Column("rated_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("rated_at")
        batch.drop_column("rating")
