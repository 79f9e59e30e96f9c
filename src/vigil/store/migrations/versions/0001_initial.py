"""Initial schema: lists, entries, signals, changes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lists",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("pdq_threshold", sa.Integer, nullable=True),
        sa.Column("category_labels", sa.Text, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "entries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("list_id", ID, sa.ForeignKey("lists.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("category", sa.Integer),
        sa.Column("series", sa.Text),
        sa.Column("victim_identified", sa.Boolean),
        sa.Column("source", sa.Text),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("comments", sa.Text),
        sa.Column("extra", sa.Text, nullable=False),
        sa.Column("digest", sa.String(40), nullable=False),
        sa.Column("added_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.UniqueConstraint("list_id", "key", name="uq_entries_list_key"),
    )
    op.create_table(
        "signals",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entry_id", ID, sa.ForeignKey("entries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("list_id", ID, nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("value", sa.String(600), nullable=False),
    )
    op.create_index("ix_signals_type_value", "signals", ["type", "value"])
    op.create_index("ix_signals_entry", "signals", ["entry_id"])
    op.create_table(
        "changes",
        sa.Column("seq", ID, primary_key=True, autoincrement=True),
        sa.Column("signal_id", ID, nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("value", sa.String(600), nullable=False),
        sa.Column("op", sa.String(1), nullable=False),
    )


def downgrade() -> None:
    for table in ("changes", "signals", "entries", "lists"):
        op.drop_table(table)
