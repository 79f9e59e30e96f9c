"""CyberTipline reports: queued, filed (with what was sent) or refused; failed deliveries
retried for 30 days.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "tipline_reports",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("report_id", sa.BigInteger, nullable=True),
        sa.Column("file_ids", sa.Text, nullable=False),
        sa.Column("documents", sa.Text, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_tipline_reports_due", "tipline_reports", ["state", "next_at"])


def downgrade() -> None:
    op.drop_index("ix_tipline_reports_due", "tipline_reports")
    op.drop_table("tipline_reports")
