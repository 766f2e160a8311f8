"""Call records (issue 15, hole 1): no schema change. Texts are cut to the columns' lengths where rows are built,
and rows the database refuses are kept in a file (`<data_dir>/spool/calls-rejected.jsonl`), not in a table: they
are exactly the rows the table cannot hold. Kept as an empty step so that the revision chain stays as planned.

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
