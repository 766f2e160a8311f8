"""work_orders and surveys: the indexes the monthly report reads on 10 million orders (issue 7's benchmark)

* ix_work_orders_period replaces 0014's ix_work_orders_created_at: the same key, with the columns the reports
  sum over a period's orders and the orders' terms carried in the index (INCLUDE, PostgreSQL), so that a month's
  230,000 orders are read from about 5,000 index pages instead of 16,000 table pages (each sum 1.5–2 times as
  fast);
* ix_work_orders_late_due: the orders that were or are late, by deadline (partial), for the overdue count,
  which read every order due in the month (160,000) to keep the tenth that were late: 0.5–0.8 s → 5 ms;
* ix_work_orders_id_lead_agent: each order's lead department and agent by id, and ix_surveys_answered (replacing
  0014's ix_surveys_answered_at), a period's answered return visits with what the rates read of them: the
  satisfaction rates join a month's 77,000 visits to their orders without reading a table page for either
  (0.45–0.6 s → 0.2 s for the three statements of a month).

Index-only scans need the table's visibility map to be current (VACUUM, autovacuum); see docs/benchmarks.md,
"Monthly report over 10 M orders and 20 M calls". On SQLite the INCLUDE columns are left out.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LATE = sa.text("closed_at IS NULL OR closed_at > due_at")
PERIOD_FIGURES = ["id", "status", "type", "source", "topic", "caller_number", "dispatched_at", "closed_at", "due_at",
                  "returns", "terms"]


def upgrade() -> None:
    op.create_index("ix_work_orders_period", "work_orders", ["created_at"], postgresql_include=PERIOD_FIGURES)
    op.drop_index("ix_work_orders_created_at", "work_orders")
    op.create_index("ix_work_orders_late_due", "work_orders", ["due_at"], postgresql_include=["status"],
                    postgresql_where=LATE, sqlite_where=LATE)
    op.create_index("ix_work_orders_id_lead_agent", "work_orders", ["id"],
                    postgresql_include=["lead_department_id", "agent"])
    op.create_index("ix_surveys_answered", "surveys", ["answered_at"],
                    postgresql_include=["order_id", "status", "rating", "appeal"])
    op.drop_index("ix_surveys_answered_at", "surveys")


def downgrade() -> None:
    op.create_index("ix_surveys_answered_at", "surveys", ["answered_at"])
    op.drop_index("ix_surveys_answered", "surveys")
    op.drop_index("ix_work_orders_id_lead_agent", "work_orders")
    op.drop_index("ix_work_orders_late_due", "work_orders")
    op.create_index("ix_work_orders_created_at", "work_orders", ["created_at"])
    op.drop_index("ix_work_orders_period", "work_orders")
