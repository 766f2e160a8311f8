"""Placeholder for issue 15, helper A (call records): replace this docstring and fill upgrade/downgrade, or leave it empty.

Revision ID: 0019
Revises: 0018
"""

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
