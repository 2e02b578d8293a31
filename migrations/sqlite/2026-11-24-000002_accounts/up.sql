-- Accounts and API tokens (web-application issue, step 1).

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    -- lower-case; the login name
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'clerk', 'municipality', 'intermediary')),
    -- the tenant of a municipality or intermediary user
    municipality_id TEXT REFERENCES municipalities (id),
    organisation_id TEXT REFERENCES organisations (id),
    -- authorised signatory of its municipality (municipality users)
    may_sign BOOLEAN NOT NULL DEFAULT FALSE,
    -- argon2id in PHC format
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT TRUE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    lock_version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((role = 'municipality') = (municipality_id IS NOT NULL)),
    CHECK ((role = 'intermediary') = (organisation_id IS NOT NULL))
);
CREATE UNIQUE INDEX users_email ON users (email);

-- Personal API tokens: only the SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- A user who signs as themselves (signatures.contact_id is then empty).
ALTER TABLE signatures ADD COLUMN user_id TEXT REFERENCES users (id);
