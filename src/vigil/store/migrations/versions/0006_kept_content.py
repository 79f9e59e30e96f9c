"""Content kept by a list rule: a list's action may say to keep a matching upload for review
for some days. The upload is stored encrypted (AES-256-GCM; the key never enters the database)
and deleted when it expires.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("list_actions", sa.Column("keep_days", sa.Float, nullable=True))
    op.create_table(
        "kept_content",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("lists", sa.Text, nullable=False),  # JSON: the lists whose rules kept it
        sa.Column("matches", sa.Text, nullable=False),  # JSON: what matched, as answered
        sa.Column("key_id", sa.String(16), nullable=False),  # which content key sealed it
        sa.Column("nonce", sa.LargeBinary, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_kept_content_expires_at", "kept_content", ["expires_at"])


def downgrade() -> None:
    op.drop_table("kept_content")
    op.drop_column("list_actions", "keep_days")
