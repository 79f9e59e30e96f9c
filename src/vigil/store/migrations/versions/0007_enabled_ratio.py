"""A list's matching ratio (HMA's ``enabled_ratio``): the share of HMA lookups in which the list
takes part, 1.0 (all) by default; 0 turns its matching off there, a fraction rolls a new list
out gradually. Vigil's own /v1 matching is not sampled.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "lists", sa.Column("enabled_ratio", sa.Float, nullable=False, server_default="1.0")
    )


def downgrade() -> None:
    op.drop_column("lists", "enabled_ratio")
