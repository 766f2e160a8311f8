"""agents, agent_events; calls.seat

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("skills", sa.String(200), nullable=False, server_default="general"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "agent_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent_id", sa.String(32), sa.ForeignKey("agents.id"), nullable=False, index=True),
        sa.Column("seat", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("seat", sa.String(16)))
        batch.create_index("ix_calls_agent", ["agent"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_agent")
        batch.drop_column("seat")
    op.drop_table("agent_events")
    op.drop_table("agents")
