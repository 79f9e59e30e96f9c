"""Triage: reports taken in, their files (hashes only) and the clusters of the same image.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "triage_reports",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
    )
    op.create_table(
        "triage_clusters",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("pdq", sa.String(64), nullable=True),
        sa.Column("files", sa.Integer, nullable=False),
    )
    op.create_table(
        "triage_files",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "report_id", ID, sa.ForeignKey("triage_reports.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("md5", sa.String(32), nullable=True),
        sa.Column("sha1", sa.String(40), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("pdq", sa.String(64), nullable=True),
        sa.Column("cluster_id", ID, sa.ForeignKey("triage_clusters.id"), nullable=False),
        sa.Column("how", sa.String(20), nullable=False),
        sa.Column("matches", sa.Text, nullable=False),
    )
    for column in ("md5", "sha1", "sha256"):
        op.create_index(f"ix_triage_files_{column}", "triage_files", [column])
    op.create_index("ix_triage_files_cluster", "triage_files", ["cluster_id"])
    op.create_index("ix_triage_files_report", "triage_files", ["report_id"])


def downgrade() -> None:
    op.drop_table("triage_files")
    op.drop_table("triage_clusters")
    op.drop_table("triage_reports")
