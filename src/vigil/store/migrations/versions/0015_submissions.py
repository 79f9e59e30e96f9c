"""Survivors' submissions: hashes sent from the hashing page, each kept as entries of a list,
with a receipt (only its SHA-256 stored) that checks and withdraws them. Nothing about the
person is stored: no address, no account.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("list_name", sa.String(200), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("entries", sa.Text, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("withdrawn_at", WHEN, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("submissions")
