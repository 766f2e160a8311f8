"""Open311's public view (issue 15): an order is public only when filed there or published by the centre, under
a random public id; and the table of the Open311 POST rate limit, shared by every server.

Orders filed through Open311 before this (source api) are published and given a public id; their old numbers no
longer answer on the public endpoints.

Revision ID: 0016
Revises: 0015
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

PUBLISHED = sa.text("published")


def upgrade() -> None:
    op.add_column("work_orders", sa.Column("published", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("work_orders", sa.Column("public_id", sa.String(32), nullable=True))
    op.create_index("ix_work_orders_public_id", "work_orders", ["public_id"], unique=True)
    op.create_index("ix_work_orders_public", "work_orders", ["created_at"], postgresql_where=PUBLISHED,
                    sqlite_where=PUBLISHED)
    orders = sa.table("work_orders", sa.column("id", sa.Integer), sa.column("source", sa.String),
                      sa.column("published", sa.Boolean), sa.column("public_id", sa.String))
    connection = op.get_bind()
    for (order_id,) in connection.execute(sa.select(orders.c.id).where(orders.c.source == "api")).all():
        connection.execute(orders.update().where(orders.c.id == order_id).values(
            published=True, public_id=secrets.token_urlsafe(16)))
    op.create_table(
        "open311_posts",
        sa.Column("bucket", sa.String(100), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("posts", sa.Integer(), nullable=False),
    )
    op.create_index("ix_open311_posts_window_start", "open311_posts", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_open311_posts_window_start", "open311_posts")
    op.drop_table("open311_posts")
    op.drop_index("ix_work_orders_public", "work_orders")
    op.drop_index("ix_work_orders_public_id", "work_orders")
    with op.batch_alter_table("work_orders") as table:
        table.drop_column("public_id")
        table.drop_column("published")
