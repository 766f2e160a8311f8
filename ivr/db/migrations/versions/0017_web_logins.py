"""Placeholder for issue 15, helper F (log-in throttle and sessions): replace this docstring and fill upgrade/downgrade, or leave it empty.

Revision ID: 0017
Revises: 0016
"""

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
