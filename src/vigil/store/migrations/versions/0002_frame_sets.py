"""Frame sets: the per-frame hashes of video signals (vPDQ), kept beside the signal row.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "frame_sets",
        sa.Column(
            "signal_id", ID, sa.ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("frames", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("frame_sets")
