"""report_runs, work_orders.terms and the indexes the reports read by period (issue 7)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)
NOT_INDEXED = sa.text("terms IS NULL")


def upgrade() -> None:
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),  # daily, weekly, monthly, special
        sa.Column("label", sa.String(64), nullable=False),  # 2026-10-05, 2026-W41, 2026-10
        sa.Column("period_start", MOMENT, nullable=False),
        sa.Column("period_end", MOMENT, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # running, done, failed
        sa.Column("files", sa.Text, nullable=False),  # JSON: file names in the run's folder
        sa.Column("error", sa.Text),
        sa.Column("requested_by", sa.String(64), nullable=False),  # "schedule", or who asked
        sa.Column("started_at", MOMENT, nullable=False),
        sa.Column("finished_at", MOMENT),
        sa.Column("seconds", sa.Float),
        sa.UniqueConstraint("kind", "label", "requested_by", name="uq_report_runs_kind_label_by"),
    )
    with op.batch_alter_table("work_orders") as table:
        table.add_column(sa.Column("terms", sa.Text))  # the content's hot-topic terms, space-separated
    op.create_index("ix_work_orders_created_at", "work_orders", ["created_at"])
    op.create_index("ix_work_orders_terms_pending", "work_orders", ["id"],
                    postgresql_where=NOT_INDEXED, sqlite_where=NOT_INDEXED)
    op.create_index("ix_order_departments_dispatched_at", "order_departments", ["dispatched_at"])
    op.create_index("ix_order_events_action_at", "order_events", ["action", "at"])
    op.create_index("ix_surveys_answered_at", "surveys", ["answered_at"])


def downgrade() -> None:
    op.drop_index("ix_surveys_answered_at", "surveys")
    op.drop_index("ix_order_events_action_at", "order_events")
    op.drop_index("ix_order_departments_dispatched_at", "order_departments")
    op.drop_index("ix_work_orders_terms_pending", "work_orders")
    op.drop_index("ix_work_orders_created_at", "work_orders")
    with op.batch_alter_table("work_orders") as table:
        table.drop_column("terms")
    op.drop_table("report_runs")
