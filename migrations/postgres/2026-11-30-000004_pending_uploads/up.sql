-- Files handed in with a form that was refused for another reason (the Einzelabruf's
-- coat of arms and DVDV certificate): kept for the same login session, so the form comes
-- back showing them with "ersetzen" instead of asking for them again
-- (store::pending_upload). Only files that passed their own check are kept; they go
-- when the form succeeds, when the session logs out, and after SESSION_HOURS at the latest.
CREATE TABLE pending_uploads (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    -- SHA-256 of the session's CSRF secret: binds the file to this one login
    session_key TEXT NOT NULL,
    field TEXT NOT NULL,
    file_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    content BYTEA NOT NULL
);
CREATE INDEX pending_uploads_session ON pending_uploads (session_key);
CREATE INDEX pending_uploads_created ON pending_uploads (created_at);
