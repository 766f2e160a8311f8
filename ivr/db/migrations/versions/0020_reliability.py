"""Placeholder for issue 15, helper G (reliability): replace this docstring and fill upgrade/downgrade, or leave it empty.

Revision ID: 0020
Revises: 0019
"""

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
