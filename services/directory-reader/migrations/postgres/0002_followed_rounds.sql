-- Which users each committed round of the whole directory (the scope without
-- a pre-filter) changed or removed. Every round leaves a row ('' when it
-- changed nobody); a full read leaves '*'. Scopes with an OData pre-filter
-- follow these rounds instead of reading the delta themselves: Graph cannot
-- filter /users/delta, so one round serves every scope of the tenant.
CREATE TABLE directory_round_changes (
    tenant_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, version, user_id)
);

-- The whole-directory version a pre-filtered scope last followed (NULL for
-- the whole directory itself).
ALTER TABLE read_scopes ADD COLUMN base_version BIGINT;
