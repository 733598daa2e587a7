"""Tables and indexes of the central store (same schema on SQLite and PostgreSQL).

Indexes follow the reviewer's searches: every filter leads with its own column and
ends with (captured_at_us, id) so a filtered, newest-first, keyset-paged search reads
only the rows of the page, also at millions of events.
"""

from __future__ import annotations

from edge.store.sql import Dialect

#: 2: audit_subjects (which events each audit entry names), backfilled on open
#: 3: blob_data (evidence bytes in the database; `store migrate-blobs` moves a blob folder)
SCHEMA_VERSION = 3

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gateways (
    id TEXT PRIMARY KEY,
    public_key {blob} NOT NULL,
    registered_at_us BIGINT NOT NULL,
    last_heartbeat_us BIGINT,
    health_json TEXT NOT NULL DEFAULT '{{}}',
    last_sequence BIGINT NOT NULL DEFAULT 0,
    last_hash TEXT NOT NULL,
    problems_json TEXT NOT NULL DEFAULT '[]',
    face_model_id TEXT,
    cert_fingerprint TEXT,
    revoked INTEGER NOT NULL DEFAULT 0,
    last_seen_us BIGINT
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    gateway_id TEXT NOT NULL REFERENCES gateways(id),
    camera_id TEXT NOT NULL,
    captured_at_us BIGINT NOT NULL,
    sequence BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    event_hash TEXT NOT NULL,
    canonical TEXT NOT NULL,
    signature {blob} NOT NULL,
    integrity TEXT NOT NULL,
    integrity_note TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    plate_text TEXT,
    subject_id TEXT,
    similarity {real},
    verdict TEXT,
    verdict_note TEXT,
    verdict_by TEXT,
    verdict_at_us BIGINT,
    case_open INTEGER NOT NULL DEFAULT 0,
    received_at_us BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_subjects (
    event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    subject_id TEXT NOT NULL,
    captured_at_us BIGINT NOT NULL,
    PRIMARY KEY (event_id, subject_id)
);
CREATE TABLE IF NOT EXISTS event_plates (
    event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    skeleton TEXT NOT NULL,
    captured_at_us BIGINT NOT NULL,
    PRIMARY KEY (event_id, text)
);
CREATE TABLE IF NOT EXISTS verdicts (
    event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    at_us BIGINT NOT NULL,
    verdict TEXT NOT NULL,
    note TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    PRIMARY KEY (event_id, at_us, reviewer)
);
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blob_data (
    sha256 TEXT PRIMARY KEY,
    data {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS event_blobs (
    event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    PRIMARY KEY (event_id, name)
);
CREATE TABLE IF NOT EXISTS subjects (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    created_at_us BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS subject_plates (
    subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    PRIMARY KEY (subject_id, text)
);
CREATE TABLE IF NOT EXISTS face_templates (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    vector {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS watchlist_changes (
    version BIGINT PRIMARY KEY,
    op TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    at_us BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at_us BIGINT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY,
    at_us BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail_json TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_subjects (
    event_id TEXT NOT NULL,
    audit_seq BIGINT NOT NULL REFERENCES audit_log(seq),
    PRIMARY KEY (event_id, audit_seq)
)
"""

_SESSIONS = """
CREATE TABLE IF NOT EXISTS web_sessions (
    sid_sha256 TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    last_us BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_web_sessions_user ON web_sessions (user_name);
CREATE TABLE IF NOT EXISTS web_session_events (
    sid_sha256 TEXT NOT NULL REFERENCES web_sessions(sid_sha256) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    PRIMARY KEY (sid_sha256, event_id)
)
"""

_INDEXES = """
CREATE INDEX IF NOT EXISTS ix_events_time ON events (captured_at_us, id);
CREATE INDEX IF NOT EXISTS ix_events_camera ON events (camera_id, captured_at_us, id);
CREATE INDEX IF NOT EXISTS ix_events_gateway ON events (gateway_id, captured_at_us, id);
CREATE UNIQUE INDEX IF NOT EXISTS ix_events_chain ON events (gateway_id, sequence, id);
CREATE INDEX IF NOT EXISTS ix_event_plates_text
    ON event_plates (text, captured_at_us, event_id);
CREATE INDEX IF NOT EXISTS ix_event_plates_skel
    ON event_plates (skeleton, captured_at_us, event_id);
CREATE INDEX IF NOT EXISTS ix_events_verdict ON events (verdict, captured_at_us, id);
CREATE INDEX IF NOT EXISTS ix_events_integrity ON events (integrity, captured_at_us, id);
CREATE INDEX IF NOT EXISTS ix_event_subjects
    ON event_subjects (subject_id, captured_at_us, event_id);
CREATE INDEX IF NOT EXISTS ix_event_blobs_sha ON event_blobs (sha256);
CREATE INDEX IF NOT EXISTS ix_templates_model ON face_templates (model_id, subject_id);
CREATE INDEX IF NOT EXISTS ix_subject_plates_text ON subject_plates (text);
CREATE INDEX IF NOT EXISTS ix_watchlist_changes_subject ON watchlist_changes (subject_id, version)
"""

#: chain heads and version counters exist from the start, so appenders only lock them
_SEEDS = f"""
INSERT INTO counters (name, value, hash) VALUES ('audit', 0, '{"0" * 64}')
    ON CONFLICT (name) DO NOTHING;
INSERT INTO counters (name, value, hash) VALUES ('watchlist', 0, '')
    ON CONFLICT (name) DO NOTHING;
INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}')
    ON CONFLICT (key) DO NOTHING
"""


#: JPEGs do not compress: PostgreSQL keeps them out of line (TOAST) without trying to
_POSTGRES_ONLY = "ALTER TABLE blob_data ALTER COLUMN data SET STORAGE EXTERNAL"


def schema_statements(dialect: Dialect) -> list[str]:
    tables = _TABLES.format(blob=dialect.blob, real=dialect.real)
    parts = [tables, _SESSIONS, _INDEXES, _SEEDS]
    if dialect.name == "postgresql":
        parts.append(_POSTGRES_ONLY)
    statements = [s.strip() for s in ";".join(parts).split(";")]
    return [s for s in statements if s]
