-- The store's tables. `{schema}` is replaced by the configured schema (quoted).
-- Times are milliseconds since the Unix epoch, as the layer passes them.

CREATE TABLE {schema}.users (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    is_anonymous BOOLEAN NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    password_hash TEXT,
    -- NULL for registered users: they never expire.
    expires_at BIGINT
);
-- One holder per email in a collection; an expired holder is removed before a new one is
-- written, in the same transaction.
CREATE UNIQUE INDEX users_email ON {schema}.users (collection, email);
CREATE INDEX users_expiry ON {schema}.users (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE {schema}.sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON {schema}.sessions (user_id);
CREATE INDEX sessions_expiry ON {schema}.sessions (expires_at);

CREATE TABLE {schema}.owners (
    resource TEXT PRIMARY KEY,
    owner TEXT NOT NULL
);
CREATE INDEX owners_owner ON {schema}.owners (owner);

CREATE TABLE {schema}.identities (
    collection TEXT NOT NULL,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL,
    email TEXT,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (collection, provider, subject)
);
CREATE INDEX identities_user ON {schema}.identities (user_id);

CREATE TABLE {schema}.email_codes (
    key TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    code_proof TEXT NOT NULL,
    link_proof TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts_left INTEGER NOT NULL
);
CREATE INDEX email_codes_expiry ON {schema}.email_codes (expires_at);

-- Rate limits: the GCRA theoretical arrival time of each key; full again once it passed.
CREATE TABLE {schema}.rate_limits (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
CREATE INDEX rate_limits_tat ON {schema}.rate_limits (tat);

CREATE TABLE {schema}.leases (
    key TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until BIGINT NOT NULL
);
