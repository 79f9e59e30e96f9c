"""Quarantine: upstream hashes that matched more than their exchange's share of uploads, kept
but not actioned until a curator releases them.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("list_name", sa.String(200), primary_key=True),
        sa.Column("entry_key", sa.String(300), primary_key=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("quarantine")
