"""Signal ids are never handed out twice. SQLite gives a new row the largest id plus one, so
deleting the newest signal and adding another reused its id, which the indexes (tombstones)
and the service's cache of entry descriptions take to mean the old signal. The signals table
is rebuilt with AUTOINCREMENT, its counter starting above every id the change log has seen.
(PostgreSQL sequences never reuse a number: nothing to do there.)

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SIGNALS = """CREATE TABLE signals (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    entry_id INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    list_id INTEGER NOT NULL,
    type VARCHAR(40) NOT NULL,
    value VARCHAR(600) NOT NULL
)"""
FRAME_SETS = """CREATE TABLE frame_sets (
    signal_id INTEGER NOT NULL PRIMARY KEY REFERENCES signals (id) ON DELETE CASCADE,
    frames TEXT NOT NULL
)"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # frame_sets refers to signals (dropping signals would cascade into it): set it aside
    op.execute("CREATE TABLE frame_sets_kept AS SELECT signal_id, frames FROM frame_sets")
    op.execute("DROP TABLE frame_sets")
    op.execute(SIGNALS.replace("TABLE signals", "TABLE signals_new"))
    op.execute("INSERT INTO signals_new SELECT id, entry_id, list_id, type, value FROM signals")
    op.execute("DROP TABLE signals")
    op.execute("ALTER TABLE signals_new RENAME TO signals")
    op.execute("CREATE INDEX ix_signals_type_value ON signals (type, value)")
    op.execute("CREATE INDEX ix_signals_entry ON signals (entry_id)")
    op.execute(FRAME_SETS)
    op.execute("INSERT INTO frame_sets SELECT signal_id, frames FROM frame_sets_kept")
    op.execute("DROP TABLE frame_sets_kept")
    op.execute("DELETE FROM sqlite_sequence WHERE name = 'signals'")
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'signals', max(coalesce(max(s), 0), "
        "coalesce((SELECT max(signal_id) FROM changes), 0)) FROM (SELECT max(id) AS s FROM "
        "signals)"
    )


def downgrade() -> None:
    pass  # the AUTOINCREMENT table serves the older schema as well
