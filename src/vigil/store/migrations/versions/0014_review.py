"""The review console: reviewers' accounts and sessions, the review items (one per cluster:
each distinct image is reviewed once), decisions, organisation settings, and an index of the
audit log by actor and time (exposure is counted from it).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_accounts",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password", sa.String(300), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
    )
    op.create_table(
        "review_sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
    )
    op.create_table(
        "review_items",
        sa.Column("cluster_id", ID, primary_key=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("lists", sa.Text, nullable=False),
        sa.Column("kinds", sa.Text, nullable=False),
        sa.Column("series", sa.Text, nullable=False),
        sa.Column("evidence", sa.String(20), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("grade", sa.String(2), nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_index("ix_review_items_queue", "review_items", ["state", "priority", "cluster_id"])
    op.create_index("ix_review_items_holder", "review_items", ["holder"])
    op.create_table(
        "review_decisions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("cluster_id", ID, nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("grade", sa.String(2), nullable=True),
        sa.Column("incident_type", sa.String(40), nullable=True),
        sa.Column("annotations", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("final", sa.Boolean, nullable=False),
    )
    op.create_index("ix_review_decisions_cluster", "review_decisions", ["cluster_id"])
    op.create_index("ix_review_decisions_account", "review_decisions", ["account", "at"])
    op.create_table(
        "review_settings",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("settings", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "action", "at"])
    # clusters taken in before this revision: each an open item, at its most urgent priority
    op.execute(
        "INSERT INTO review_items (cluster_id, priority, state, lists, kinds, series, evidence, "
        "updated_at) SELECT c.id, COALESCE((SELECT MIN(r.priority) FROM triage_files f JOIN "
        "triage_reports r ON r.id = f.report_id WHERE f.cluster_id = c.id), 5), 'open', ' ', ' ', "
        "' ', 'unknown', c.created_at FROM triage_clusters c"
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor", "audit_log")
    for table in ("review_settings", "review_decisions", "review_items", "review_sessions",
                  "review_accounts"):  # fmt: skip
        op.drop_table(table)
