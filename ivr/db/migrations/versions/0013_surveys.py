"""campaigns, surveys, survey_answers, sms_messages, do_not_contact: return visits, survey campaigns and the SMS
channel (issue 6)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("script", sa.String(32), nullable=False),
        sa.Column("channels", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("quotas", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("started_at", MOMENT),
        sa.Column("finished_at", MOMENT),
    )
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id")),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id")),
        sa.Column("unit", sa.String(32)),
        sa.Column("line", sa.Integer),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100)),
        sa.Column("script", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_action", sa.String(16)),
        sa.Column("next_at", MOMENT),
        sa.Column("closed_at", MOMENT, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("texted", sa.Boolean, nullable=False),
        sa.Column("last_result", sa.String(64)),
        sa.Column("channel_uniqueid", sa.String(64)),
        sa.Column("answered_via", sa.String(8)),
        sa.Column("answered_at", MOMENT),
        sa.Column("solved", sa.Boolean),
        sa.Column("rating", sa.String(32)),
        sa.Column("comment_path", sa.String(400)),
        sa.Column("comment_order_id", sa.Integer, sa.ForeignKey("work_orders.id")),
        sa.Column("reply_text", sa.Text),
        sa.Column("appeal", sa.String(16), nullable=False),
        sa.Column("appeal_reason", sa.Text),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.UniqueConstraint("order_id", "number", "round"),
        sa.UniqueConstraint("campaign_id", "number"),
    )
    op.create_index("ix_surveys_due", "surveys", ["status", "next_at"])
    op.create_index("ix_surveys_number_status", "surveys", ["number", "status"])
    op.create_index("ix_surveys_order_id", "surveys", ["order_id"])
    op.create_index("ix_surveys_campaign_id", "surveys", ["campaign_id"])
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("survey_id", sa.Integer, sa.ForeignKey("surveys.id"), nullable=False),
        sa.Column("question", sa.String(32), nullable=False),
        sa.Column("answer", sa.String(32), nullable=False),
        sa.UniqueConstraint("survey_id", "question"),
    )
    op.create_index("ix_survey_answers_survey_id", "survey_answers", ["survey_id"])
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("dedup_key", sa.String(80), unique=True),
        sa.Column("survey_id", sa.Integer, sa.ForeignKey("surveys.id")),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id")),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", MOMENT),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("dlr", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("sent_at", MOMENT),
    )
    op.create_index("ix_sms_messages_due", "sms_messages", ["direction", "status", "next_at"])
    op.create_index("ix_sms_messages_survey_id", "sms_messages", ["survey_id"])
    op.create_index("ix_sms_messages_order_id", "sms_messages", ["order_id"])
    op.create_table(
        "do_not_contact",
        sa.Column("number", sa.String(32), primary_key=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", MOMENT, nullable=False),
    )


def downgrade() -> None:
    for table in ("do_not_contact", "sms_messages", "survey_answers", "surveys", "campaigns"):
        op.drop_table(table)
