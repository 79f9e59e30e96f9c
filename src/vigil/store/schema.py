"""The relational schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` create it;
this module describes it for queries. The same tables serve SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

__all__ = [
    "api_keys",
    "audit_log",
    "changes",
    "deliveries",
    "entries",
    "frame_sets",
    "kept_content",
    "list_actions",
    "lists",
    "metadata",
    "quarantine",
    "review_accounts",
    "review_decisions",
    "review_items",
    "review_sessions",
    "review_settings",
    "signals",
    "submissions",
    "tipline_reports",
    "triage_cases",
    "triage_clusters",
    "triage_files",
    "triage_reports",
    "triage_series",
]

metadata = MetaData()
_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite rowids are 64-bit already

lists = Table(
    "lists",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("pdq_threshold", Integer, nullable=True),
    Column("category_labels", Text, nullable=False, default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # the share of HMA lookups the list takes part in (HMA's enabled_ratio; 0: off)
    Column("enabled_ratio", Float, nullable=False, default=1.0, server_default="1.0"),
    # hashes known to be benign: a match here suppresses the item's other matches
    Column("negative", Boolean, nullable=False, default=False, server_default=false()),
)

entries = Table(
    "entries",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("list_id", _ID, ForeignKey("lists.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(300), nullable=False),
    Column("category", Integer, nullable=True),
    Column("series", Text, nullable=True),
    Column("victim_identified", Boolean, nullable=True),
    Column("source", Text, nullable=True),
    Column("tags", Text, nullable=False, default="[]"),
    Column("comments", Text, nullable=True),
    Column("extra", Text, nullable=False, default="{}"),
    Column("digest", String(40), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("list_id", "key", name="uq_entries_list_key"),
)

signals = Table(
    "signals",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("entry_id", _ID, ForeignKey("entries.id", ondelete="CASCADE"), nullable=False),
    Column("list_id", _ID, nullable=False),
    Column("type", String(40), nullable=False),
    Column("value", String(600), nullable=False),
    Index("ix_signals_type_value", "type", "value"),
    Index("ix_signals_entry", "entry_id"),
    sqlite_autoincrement=True,  # an id is never reused (migration 0005)
)

# The frames of a video signal (vPDQ JSON); the signal row holds their SHA-256 as its value.
frame_sets = Table(
    "frame_sets",
    metadata,
    Column("signal_id", _ID, ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True),
    Column("frames", Text, nullable=False),
)

# Every add/remove of a signal, in order: the Hamming indexes replay it to catch up.
changes = Table(
    "changes",
    metadata,
    Column("seq", _ID, primary_key=True, autoincrement=True),
    Column("signal_id", _ID, nullable=False),
    Column("type", String(40), nullable=False),
    Column("value", String(600), nullable=False),
    Column("op", String(1), nullable=False),  # "+" added, "-" removed
)

# The service's API keys: the SHA-256 of each secret (never the secret), its role.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Every curator and admin action of the service, appended, never updated.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_audit_log_actor", "actor", "action", "at"),  # a reviewer's exposure (migration 0014)
)

# What a match on a list means (block, review, report, allow) and where to post it.
list_actions = Table(
    "list_actions",
    metadata,
    Column("list_name", String(200), primary_key=True),
    Column("outcome", String(20), nullable=False),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret", Text, nullable=True),
    Column("keep_days", Float, nullable=True),  # keep a matching upload (encrypted) this long
)

# Webhook posts, kept until delivered; those that keep failing stay as dead letters.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("list_name", String(200), nullable=False),
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Index("ix_deliveries_status", "status"),
)

# Uploads kept by a list rule for review: sealed with AES-256-GCM, deleted at expires_at.
kept_content = Table(
    "kept_content",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("name", String(300), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("lists", Text, nullable=False),
    Column("matches", Text, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Index("ix_kept_content_expires_at", "expires_at"),
)

# Exchanges: a list kept current from an upstream source, its settings (no secrets), checkpoint
# and the outcome of its last sync.
exchanges = Table(
    "exchanges",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("list_name", String(200), nullable=False),
    Column("settings", Text, nullable=False),
    Column("checkpoint", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("synced_at", DateTime(timezone=True), nullable=True),
    Column("status", Text, nullable=False),
)

# Who may fetch an exchange now: one holder at a time, until expires_at (renewed while it runs).
exchange_leases = Table(
    "exchange_leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Upstream hashes that matched more than their exchange's share of uploads: kept in the list,
# their matches reported but not actioned, until a curator releases them (released_at set:
# not quarantined again).
quarantine = Table(
    "quarantine",
    metadata,
    Column("list_name", String(200), primary_key=True),
    Column("entry_key", String(300), primary_key=True),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=True),
    Column("released_by", String(200), nullable=True),
)

# CyberTipline reports to file and filed: each kept with what was sent (report id, file ids,
# the XML documents); a failed delivery is retried with backoff for 30 days, a refusal kept
# as it was answered.
tipline_reports = Table(
    "tipline_reports",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("state", String(20), nullable=False),  # queued, filed, refused, expired
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("report", Text, nullable=False),  # the report as JSON (vigil.triage intake shape)
    Column("report_id", BigInteger, nullable=True),  # NCMEC's, once filed
    Column("file_ids", Text, nullable=False, default="{}"),
    Column("documents", Text, nullable=False, default="[]"),  # the XML sent, in order
    Column("last_error", Text, nullable=True),
    Index("ix_tipline_reports_due", "state", "next_at"),
)

# Triage: reports taken in (each once: ``key`` is the SHA-256 of its canonical JSON), their
# files (hashes only) with what they matched, and the clusters that gather the same image
# across reports, so each distinct image is reviewed once.
triage_reports = Table(
    "triage_reports",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("case_id", _ID, nullable=True),  # (migration 0013; every report since has one)
    Column("hints", Text, nullable=True),  # geolocation hints (JSON)
    Column("jurisdiction", String(2), nullable=True),
    Index("ix_triage_reports_case", "case_id"),
)

# A case: the reports about one reported user (``key``: platform and user), or one report
# that names no user (``key`` NULL). Its priority is its most urgent report's; ``weights`` the
# confidence its reports' geolocation hints give each country (JSON), ``jurisdiction`` the
# strongest. The queue: most urgent first, then the longest waiting.
triage_cases = Table(
    "triage_cases",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("reports", Integer, nullable=False),
    Column("files", Integer, nullable=False),
    Column("weights", Text, nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    Column("filed", Text, nullable=True),  # the CyberTipline queue ids, once review filed it
    Index("ix_triage_cases_queue", "priority", "created_at", "id"),
)

triage_clusters = Table(
    "triage_clusters",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("pdq", String(64), nullable=True),  # the first file's: what near copies are near
    Column("files", Integer, nullable=False),
    Column("reports", Integer, nullable=False, server_default="0"),  # distinct reports holding it
    Column("vlocal", Text, nullable=True),  # the first file's robust record, where it was at hand
    Column("related_id", _ID, nullable=True),  # a shared scene: the cluster whose scene it shares
    Column("relation", String(20), nullable=True),  # "shared_scene"
)

# Clusters whose files matched list entries of a known series.
triage_series = Table(
    "triage_series",
    metadata,
    Column("series", String(300), primary_key=True),
    Column("cluster_id", _ID, primary_key=True),
    Index("ix_triage_series_cluster", "cluster_id"),
)

triage_files = Table(
    "triage_files",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("report_id", _ID, ForeignKey("triage_reports.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("md5", String(32), nullable=True),
    Column("sha1", String(40), nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("pdq", String(64), nullable=True),
    Column("cluster_id", _ID, ForeignKey("triage_clusters.id"), nullable=False),
    Column("how", String(20), nullable=False),  # new, exact, near_duplicate, altered_copy
    Column("matches", Text, nullable=False),  # what the file matched on the lists
    Column("evidence", String(20), nullable=True),  # its evidence summary, where inspected
    Column("region", Text, nullable=True),  # an altered copy: where it matched (JSON)
    Column("kept", _ID, nullable=True),  # its content, where a list rule kept it (kept_content)
    Index("ix_triage_files_md5", "md5"),
    Index("ix_triage_files_sha1", "sha1"),
    Index("ix_triage_files_sha256", "sha256"),
    Index("ix_triage_files_cluster", "cluster_id"),
    Index("ix_triage_files_report", "report_id"),
)

# The review console (issue 20). People who review (``role``: reviewer, lead, auditor), with a
# scrypt password hash (NULL: they sign in through the operator's proxy only) and their own
# wellness settings (JSON, over the organisation's).
review_accounts = Table(
    "review_accounts",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("password", String(300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("settings", Text, nullable=False),
)

# Signed-in sessions: the SHA-256 of the cookie's token, never the token; the CSRF token.
review_sessions = Table(
    "review_sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("account", String(200), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# One item per cluster (each distinct image reviewed once): its priority (its most urgent
# report's), state (open, held, second, dispute, decided), who holds it until when, what the
# filters read (lists, kinds and series of its matches, space-separated; its evidence), and
# the final verdict and grade.
review_items = Table(
    "review_items",
    metadata,
    Column("cluster_id", _ID, primary_key=True),
    Column("priority", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("holder", String(200), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("lists", Text, nullable=False),
    Column("kinds", Text, nullable=False),
    Column("series", Text, nullable=False),
    Column("evidence", String(20), nullable=False),
    Column("verdict", String(20), nullable=True),
    Column("grade", String(2), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_review_items_queue", "state", "priority", "cluster_id"),
    Index("ix_review_items_holder", "holder"),
)

review_decisions = Table(
    "review_decisions",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("cluster_id", _ID, nullable=False),
    Column("account", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("verdict", String(20), nullable=False),
    Column("grade", String(2), nullable=True),
    Column("incident_type", String(40), nullable=True),
    Column("annotations", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("final", Boolean, nullable=False),
    Index("ix_review_decisions_cluster", "cluster_id"),
    Index("ix_review_decisions_account", "account", "at"),
)

# The organisation's defaults (one row, ``name`` "organisation").
review_settings = Table(
    "review_settings",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("settings", Text, nullable=False),
)

# Survivors' submissions (issue 21): hashes sent from the hashing page, kept as entries of a
# list; the receipt that checks and withdraws them is stored only as its SHA-256. Nothing about
# the person is stored.
submissions = Table(
    "submissions",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("list_name", String(200), nullable=False),
    Column("label", String(200), nullable=False),
    Column("entries", Text, nullable=False),  # the entry keys (JSON)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
)
