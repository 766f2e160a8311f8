"""work_orders: the agent who took the order, and its content; calls: the service line and the hand-off mode

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_orders") as table:
        table.add_column(sa.Column("agent", sa.String(32)))
        table.add_column(sa.Column("content", sa.Text))
    with op.batch_alter_table("calls") as table:
        table.add_column(sa.Column("line", sa.String(64)))
        table.add_column(sa.Column("handoff_mode", sa.String(16)))
        table.create_index("ix_calls_line", ["line"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as table:
        table.drop_index("ix_calls_line")
        table.drop_column("handoff_mode")
        table.drop_column("line")
    with op.batch_alter_table("work_orders") as table:
        table.drop_column("content")
        table.drop_column("agent")
