CREATE TABLE profiles (
    profile_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    spec BLOB NOT NULL,
    version BIGINT NOT NULL,
    enabled BOOLEAN NOT NULL,
    next_run_at BIGINT,
    last_run_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX profiles_due ON profiles (enabled, next_run_at);

CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL,
    state TEXT NOT NULL,
    run_trigger TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    full_read BOOLEAN NOT NULL,
    snapshot_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    mailboxes_total BIGINT NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    read_stats BLOB,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX runs_by_profile ON runs (profile_id, created_at);
CREATE INDEX runs_by_state ON runs (state);

CREATE TABLE run_events (
    run_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    at BIGINT NOT NULL,
    event BLOB NOT NULL,
    PRIMARY KEY (run_id, sequence)
);

CREATE TABLE work_items (
    work_item_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    mailbox_id TEXT NOT NULL,
    request BLOB NOT NULL,
    dry_run BOOLEAN NOT NULL,
    state TEXT NOT NULL,
    attempt BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    available_at BIGINT NOT NULL,
    lease_token TEXT,
    lease_expires_at BIGINT,
    worker_id TEXT NOT NULL DEFAULT '',
    result BLOB,
    outcome TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT '',
    progress BLOB
);
CREATE INDEX work_items_ready ON work_items (state, available_at);
CREATE INDEX work_items_by_run ON work_items (run_id);
CREATE UNIQUE INDEX work_items_by_lease ON work_items (lease_token);

CREATE TABLE run_locks (
    profile_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
