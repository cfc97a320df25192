-- API keys an integrator manages: an optional tenant scope (empty: every
-- tenant), who made the key, and revocation (a revoked key stays listed and
-- is refused).
ALTER TABLE api_keys ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN revoked_at BIGINT;
