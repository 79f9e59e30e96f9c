"""Negative lists: hashes known to be benign (a meme, a stock photo, a test image) whose match
suppresses the other matches of the same item, so that a noisy upstream hash does not flood
review.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "lists", sa.Column("negative", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("lists", "negative")
