"""work_orders: the centre's open orders by deadline (a partial index), and on PostgreSQL trigram indexes for
the search in the content and the address; order_departments: a department's orders newest first (its search)

Measured on 10 million orders (docs/benchmarks.md): without the partial index the centre's inbox reads every
open order to sort them (about 3 % of all); without the trigram indexes a search for a rare word reads the whole
table, and a department's search read every order of the department. Trigrams cannot narrow a two-character
word: such a search still scans (see the benchmark).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# routing.lifecycle.OPEN as of this migration; a migration keeps the values it was written with.
OPEN_STATES = ("accepted", "dispatched", "draft", "replied", "returned", "signed")
OPEN = sa.text("status IN (" + ", ".join(f"'{state}'" for state in OPEN_STATES) + ")")
TRIGRAM_COLUMNS = ("content", "address")


def upgrade() -> None:
    op.create_index("ix_work_orders_open_due", "work_orders", ["due_at", "id"],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index("ix_order_departments_department_order", "order_departments", ["department_id", "order_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in TRIGRAM_COLUMNS:
            op.execute(f"CREATE INDEX ix_work_orders_{column}_trgm ON work_orders USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in TRIGRAM_COLUMNS:
            op.execute(f"DROP INDEX ix_work_orders_{column}_trgm")
    op.drop_index("ix_order_departments_department_order", "order_departments")
    op.drop_index("ix_work_orders_open_due", "work_orders")
