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
    _backfill()


def _key(body: dict) -> str | None:  # type: ignore[type-arg]
    """A report's case, as vigil.triage.cases.case_key says (kept here: a migration must not
    change when that code does)."""
    for user in (body.get("users") or [])[:1]:
        emails = user.get("emails") or [""]
        who = user.get("esp_id") or user.get("screen_name") or emails[0]
        if who:
            return f"{body.get('platform', '')}|{who}"[:400]
    return None


NEW_CASE = sa.text(
    "INSERT INTO triage_cases (key, created_at, updated_at, priority, reports, files, weights, "
    "jurisdiction) VALUES (:k, :t, :t, :p, 0, 0, '{}', '') RETURNING id"
)
ADD_REPORT = sa.text(
    "UPDATE triage_cases SET reports = reports + 1, files = files + :n, updated_at = :t, "
    "priority = CASE WHEN priority > :p THEN :p ELSE priority END WHERE id = :c"
)


def _backfill() -> None:
    """Reports taken in before this revision get their cases, and clusters their report
    counts."""
    import json

    conn = op.get_bind()
    conn.execute(sa.text(
        "UPDATE triage_clusters SET reports = (SELECT COUNT(DISTINCT f.report_id) FROM "
        "triage_files f WHERE f.cluster_id = triage_clusters.id)"))  # fmt: skip
    cases: dict[str, int] = {}
    reports = sa.text(
        "SELECT r.id, r.body, r.priority, r.received_at, (SELECT COUNT(*) FROM triage_files f "
        "WHERE f.report_id = r.id) AS files FROM triage_reports r ORDER BY r.id"
    )
    rows = conn.execute(reports).all()
    for row in rows:
        key = _key(json.loads(row.body))
        case = cases.get(key) if key is not None else None
        if case is None:
            made = {"k": key, "t": row.received_at, "p": row.priority}
            case = int(conn.execute(NEW_CASE, made).scalar_one())
            if key is not None:
                cases[key] = case
        conn.execute(ADD_REPORT, {"n": row.files, "t": row.received_at, "p": row.priority,
                                  "c": case})  # fmt: skip
        conn.execute(sa.text("UPDATE triage_reports SET case_id = :c WHERE id = :r"),
                     {"c": case, "r": row.id})  # fmt: skip


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
