"""The work order's closed loop: departments, users, the catalogue, order fields, lead and assisting
departments, history and audit, calls, attachments, 督办 events, the knowledge base and API keys

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("departments.id"), index=True),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id"), index=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "catalogue_entries",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("group", sa.String(100), nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("keywords", sa.Text, nullable=False),
        sa.Column("days", sa.Text, nullable=False),
        sa.Column("count_from", sa.String(16), nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    with op.batch_alter_table("work_orders") as table:
        table.add_column(sa.Column("number", sa.String(32)))
        table.add_column(sa.Column("citizen_name", sa.String(100)))
        table.add_column(sa.Column("confidential", sa.Boolean, nullable=False, server_default=sa.false()))
        table.add_column(sa.Column("type", sa.String(16), nullable=False, server_default="consultation"))
        table.add_column(sa.Column("topic", sa.String(32)))
        table.add_column(sa.Column("address", sa.String(300)))
        table.add_column(sa.Column("lat", sa.Float))
        table.add_column(sa.Column("long", sa.Float))
        table.add_column(sa.Column("updated_at", TIME))
        table.add_column(sa.Column("reply", sa.Text))
        table.add_column(sa.Column("lead_department_id", sa.Integer,
                                   sa.ForeignKey("departments.id", name="fk_work_orders_lead_department")))
        table.add_column(sa.Column("dispatched_at", TIME))
        table.add_column(sa.Column("due_at", TIME))
        table.add_column(sa.Column("returns", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("final_ruling", sa.Boolean, nullable=False, server_default=sa.false()))
        table.add_column(sa.Column("extension", sa.String(16), nullable=False, server_default="none"))
        table.add_column(sa.Column("satisfied", sa.Boolean))
        table.add_column(sa.Column("merged_into_id", sa.Integer,
                                   sa.ForeignKey("work_orders.id", name="fk_work_orders_merged_into")))
        table.add_column(sa.Column("closed_at", TIME))
        table.add_column(sa.Column("client", sa.String(64)))
        table.drop_index("ix_work_orders_caller_number")
        table.create_index("ix_work_orders_number_history", ["caller_number", "id"])
        table.create_index("ix_work_orders_lead_inbox", ["lead_department_id", "status", "due_at"])
        table.create_index("ix_work_orders_merged_into_id", ["merged_into_id"])
        table.create_unique_constraint("uq_work_orders_number", ["number"])
    # The orders of the first capability: "open" was an order taken by an agent, now "accepted".
    op.execute("UPDATE work_orders SET status = 'accepted' WHERE status = 'open'")
    op.execute("UPDATE work_orders SET number = 'WO' || CAST(id AS VARCHAR(20)) WHERE number IS NULL")
    op.create_table(
        "order_departments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, index=True),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("dispatched_at", TIME, nullable=False),
        sa.Column("signed_at", TIME),
        sa.Column("replied_at", TIME),
        sa.Column("reply", sa.Text),
        sa.Column("due_at", TIME),
        sa.Column("paused_seconds", sa.Float, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.UniqueConstraint("order_id", "department_id"),
        sa.Index("ix_order_departments_inbox", "department_id", "done", "due_at"),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, index=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16)),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id")),
        sa.Column("note", sa.Text),
        sa.Column("data", sa.Text),
    )
    op.create_table(
        "order_calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, index=True),
        sa.Column("call_uniqueid", sa.String(64), nullable=False, index=True),
        sa.UniqueConstraint("order_id", "call_uniqueid"),
    )
    op.execute("INSERT INTO order_calls (order_id, call_uniqueid) "
               "SELECT id, call_uniqueid FROM work_orders WHERE call_uniqueid IS NOT NULL")
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("path", sa.String(400), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id")),
        sa.Column("added_at", TIME, nullable=False),
    )
    op.create_table(
        "supervision_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_department_id", sa.Integer, sa.ForeignKey("order_departments.id"), nullable=False,
                  index=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, index=True),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("recipient", sa.String(32), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("sent_at", TIME, nullable=False, index=True),
        sa.Column("read_at", TIME),
        sa.UniqueConstraint("order_department_id", "step", "round"),
    )
    op.create_table(
        "knowledge_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("keywords", sa.Text, nullable=False),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id"), index=True),
        sa.Column("topic", sa.String(32)),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("effective_on", sa.Date),
        sa.Column("review_on", sa.Date, index=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "knowledge_uses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("knowledge_entries.id"), nullable=False, index=True),
        sa.Column("at", TIME, nullable=False, index=True),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("call_uniqueid", sa.String(64)),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )


def downgrade() -> None:
    for name in ("api_keys", "knowledge_uses", "knowledge_entries", "supervision_events", "attachments",
                 "order_calls", "order_events", "order_departments"):
        op.drop_table(name)
    op.execute("UPDATE work_orders SET status = 'open' WHERE status NOT IN ('draft', 'closed')")
    with op.batch_alter_table("work_orders") as table:
        table.drop_constraint("uq_work_orders_number", type_="unique")
        table.drop_index("ix_work_orders_merged_into_id")
        table.drop_index("ix_work_orders_lead_inbox")
        table.drop_index("ix_work_orders_number_history")
        table.create_index("ix_work_orders_caller_number", ["caller_number"])
        for column in ("client", "closed_at", "merged_into_id", "satisfied", "extension", "final_ruling", "returns",
                       "due_at", "dispatched_at", "lead_department_id", "reply", "updated_at", "long", "lat",
                       "address", "topic", "type", "confidential", "citizen_name", "number"):
            table.drop_column(column)
    for name in ("catalogue_entries", "users", "departments"):
        op.drop_table(name)
