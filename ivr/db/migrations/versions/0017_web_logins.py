"""login_failures and revoked_sessions: one log-in throttle and server-side log-out, shared by every server

* login_failures: failed log-ins per account (agent id, web user) and per source address (a client address or a
  seat), counted in a window, with the lock they earned (docs/security.md, "Log-ins and sessions");
* revoked_sessions: the sessions logged out before they expired; a cookie naming one is refused.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_login_failures_window_start", "login_failures", ["window_start"])
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("revoked_sessions")
    op.drop_index("ix_login_failures_window_start", "login_failures")
    op.drop_table("login_failures")
