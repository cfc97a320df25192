-- The reader's current view of a tenant's directory per read scope (the
-- Graph query: tenant + OData pre-filter), and where its next delta round starts.
CREATE TABLE read_scopes (
    tenant_id TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    prefilter TEXT NOT NULL,
    delta_link TEXT NOT NULL,
    -- Bumped by every committed round; a round commits only over the version it read.
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope_key)
);

-- The users of a read scope, as JSON (the fields galsync maps or filters on).
CREATE TABLE scope_users (
    tenant_id TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    user_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope_key, user_id)
);

-- Immutable, content-addressed snapshots: entries are one protobuf blob
-- (DirectoryEntry messages sorted by source object id).
CREATE TABLE snapshots (
    snapshot_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    entry_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_taken_at BIGINT NOT NULL,
    read_stats BLOB NOT NULL,
    entries BLOB NOT NULL
);
CREATE INDEX snapshots_by_tenant ON snapshots (tenant_id, last_taken_at);

-- Photos by content hash (hex SHA-256 of the bytes).
CREATE TABLE photos (
    photo_hash TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- The photo each user had at the last check, by Graph's media ETag.
CREATE TABLE user_photos (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    etag TEXT NOT NULL,
    photo_hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
