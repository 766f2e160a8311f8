"""calls: one row per citizen call

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uniqueid", sa.String(64), nullable=False, unique=True),
        sa.Column("linkedid", sa.String(64), index=True),
        sa.Column("caller_number", sa.String(64), index=True),
        sa.Column("dialled_number", sa.String(64)),
        sa.Column("queue", sa.String(64)),
        sa.Column("intake", sa.String(16)),
        sa.Column("started_at", sa.DateTime(timezone=True), index=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("wait_seconds", sa.Float),
        sa.Column("talk_seconds", sa.Float),
        sa.Column("agent", sa.String(64)),
        sa.Column("outcome", sa.String(32), nullable=False, server_default="in_progress", index=True),
        sa.Column("hangup_cause", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("calls")
