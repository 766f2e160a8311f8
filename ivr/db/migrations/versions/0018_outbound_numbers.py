"""Placeholder for issue 15, helper C (outbound number rules, callbacks): replace this docstring and fill upgrade/downgrade, or leave it empty.

Revision ID: 0018
Revises: 0017
"""

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
