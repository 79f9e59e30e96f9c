"""Exchanges: where a list's entries come from by themselves (NCMEC hash sharing, ...), each
with its settings (never a secret: credentials are read from a file or the environment at sync
time), its checkpoint, and what its last sync did; and the leases that let exactly one fetcher
per exchange run across workers and instances.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("list_name", sa.String(200), nullable=False),
        sa.Column("settings", sa.Text, nullable=False),  # JSON
        sa.Column("checkpoint", sa.Text, nullable=False),  # JSON, the client's own
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("synced_at", WHEN, nullable=True),  # the last sync that finished
        sa.Column("status", sa.Text, nullable=False),  # JSON: what the last sync did
    )
    op.create_table(
        "exchange_leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exchange_leases")
    op.drop_table("exchanges")
