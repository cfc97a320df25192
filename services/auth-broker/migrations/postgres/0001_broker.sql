CREATE TABLE tenants (
    tenant_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    login_base_url TEXT NOT NULL,
    graph_base_url TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE apps (
    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    auth_mode TEXT NOT NULL,
    purposes TEXT NOT NULL,
    sealed_client_secret TEXT,
    client_secret_expires_at BIGINT,
    sealed_refresh_token TEXT,
    refresh_token_used_at BIGINT,
    PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE certificates (
    certificate_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    der BYTEA NOT NULL,
    sealed_private_key TEXT NOT NULL,
    subject TEXT NOT NULL,
    thumbprint_sha1 TEXT NOT NULL,
    thumbprint_sha256 TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    key_bits BIGINT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_probe_at BIGINT,
    FOREIGN KEY (tenant_id, client_id) REFERENCES apps (tenant_id, client_id) ON DELETE CASCADE
);
CREATE INDEX certificates_by_app ON certificates (tenant_id, client_id);

CREATE TABLE consent_states (
    state_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE consent_outcomes (
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    error TEXT NOT NULL,
    error_description TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE device_sign_ins (
    sign_in_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sealed_device_code TEXT NOT NULL,
    user_code TEXT NOT NULL,
    verification_uri TEXT NOT NULL,
    message TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    state TEXT NOT NULL,
    error_description TEXT NOT NULL
);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    caller TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    detail TEXT NOT NULL,
    token_expires_at BIGINT
);
CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, id);
