-- Invitations: an admin adds a user, who gets a mail with a one-time link to set their
-- password (actions::accounts::invite). Only the SHA-256 of the link's secret is stored;
-- a link works once and until it expires, and a new invitation ends the older ones.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE UNIQUE INDEX invitations_hash ON invitations (token_hash);
CREATE INDEX invitations_user ON invitations (user_id);
