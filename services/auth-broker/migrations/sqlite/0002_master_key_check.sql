-- One row: a known value sealed under the master key, opened at every start
-- so a wrong or replaced key is refused before it seals anything.
CREATE TABLE master_key_check (
    id INTEGER PRIMARY KEY,
    sealed_canary TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
