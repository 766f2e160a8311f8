"""transcription_jobs and transcripts: voicemail transcribed offline into its draft work order (issue 5)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcription_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, unique=True),
        sa.Column("audio_path", sa.String(400), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("worker", sa.String(100)),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_transcription_jobs_due", "transcription_jobs", ["state", "not_before"])
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("work_orders.id"), nullable=False, unique=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("transcription_jobs.id"), nullable=False, unique=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("words", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("audio_seconds", sa.Float, nullable=False),
        sa.Column("decode_seconds", sa.Float, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("worker", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("transcripts")
    op.drop_index("ix_transcription_jobs_due", "transcription_jobs")
    op.drop_table("transcription_jobs")
