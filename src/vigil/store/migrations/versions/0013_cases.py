"""Triage cases (a reported user's reports together), geolocation hints, the files' evidence
and robust regions, clusters of altered copies and shared scenes, and known series.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "triage_cases",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(400), nullable=True, unique=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("weights", sa.Text, nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("filed", sa.Text, nullable=True),
    )
    op.create_index("ix_triage_cases_queue", "triage_cases", ["priority", "created_at", "id"])
    with op.batch_alter_table("triage_reports") as t:
        t.add_column(sa.Column("case_id", ID, nullable=True))
        t.add_column(sa.Column("hints", sa.Text, nullable=True))
        t.add_column(sa.Column("jurisdiction", sa.String(2), nullable=True))
        t.create_index("ix_triage_reports_case", ["case_id"])
    with op.batch_alter_table("triage_files") as t:
        t.add_column(sa.Column("evidence", sa.String(20), nullable=True))
        t.add_column(sa.Column("region", sa.Text, nullable=True))
        t.add_column(sa.Column("kept", ID, nullable=True))
    with op.batch_alter_table("triage_clusters") as t:
        t.add_column(sa.Column("reports", sa.Integer, nullable=False, server_default="0"))
        t.add_column(sa.Column("vlocal", sa.Text, nullable=True))
        t.add_column(sa.Column("related_id", ID, nullable=True))
        t.add_column(sa.Column("relation", sa.String(20), nullable=True))
    op.create_table(
        "triage_series",
        sa.Column("series", sa.String(300), primary_key=True),
        sa.Column("cluster_id", ID, primary_key=True),
    )
    op.create_index("ix_triage_series_cluster", "triage_series", ["cluster_id"])


def downgrade() -> None:
    op.drop_table("triage_series")
    with op.batch_alter_table("triage_clusters") as t:
        for name in ("relation", "related_id", "vlocal", "reports"):
            t.drop_column(name)
    with op.batch_alter_table("triage_files") as t:
        t.drop_column("kept")
        t.drop_column("region")
        t.drop_column("evidence")
    with op.batch_alter_table("triage_reports") as t:
        t.drop_index("ix_triage_reports_case")
        for name in ("jurisdiction", "hints", "case_id"):
            t.drop_column(name)
    op.drop_table("triage_cases")
