"""Placeholder for issue 15, helper D (Open311 public view): replace this docstring and fill upgrade/downgrade, or leave it empty.

Revision ID: 0016
Revises: 0015
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
