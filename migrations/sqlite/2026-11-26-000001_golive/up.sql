-- Go-live issue: the tasks between an Einzelabruf in force and a service citizens can use,
-- the mail outbox, the reminders sent, and each user's calendar feed.

-- Days from an EA coming into force to the default due date of its go-live tasks.
ALTER TABLE services ADD COLUMN golive_days INTEGER NOT NULL DEFAULT 28 CHECK (golive_days BETWEEN 1 AND 365);
-- The day the last go-live task of an EA was done: the service is live there.
ALTER TABLE agreements ADD COLUMN live_on DATE;
-- SHA-256 of the secret in the user's iCalendar feed URL (unset: no feed).
ALTER TABLE users ADD COLUMN calendar_token_hash TEXT;
CREATE UNIQUE INDEX users_calendar_token ON users (calendar_token_hash);

CREATE TABLE golive_tasks (
    id TEXT PRIMARY KEY NOT NULL,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    kind TEXT NOT NULL CHECK (kind IN ('vsm', 'dvdv', 'parameters', 'receiving', 'provider')),
    position INTEGER NOT NULL,
    -- the party that does it: a municipality, or an organisation (d-NRW, an intermediary)
    owner_municipality_id TEXT REFERENCES municipalities (id),
    owner_organisation_id TEXT REFERENCES organisations (id),
    contact_id TEXT REFERENCES contacts (id),
    due_on DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'blocked')),
    blocked_reason TEXT,
    -- JSON: what was recorded when it was done (Leika keys, DVDV key, certificate, …)
    evidence TEXT NOT NULL,
    completed_on DATE,
    completed_by TEXT,
    lock_version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((owner_municipality_id IS NULL) <> (owner_organisation_id IS NULL)),
    UNIQUE (agreement_id, kind)
);
CREATE INDEX golive_tasks_due ON golive_tasks (status, due_on);
CREATE INDEX golive_tasks_owner_m ON golive_tasks (owner_municipality_id, status);
CREATE INDEX golive_tasks_owner_o ON golive_tasks (owner_organisation_id, status);

-- Mails are written here in the transaction of the event that causes them and sent by a
-- background worker; a row is claimed with a lease (locked_until) before it is sent.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    locked_by TEXT,
    sent_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);

-- One row per reminder occasion ("task overdue: task X, due D"): a reminder is sent once,
-- whichever instance finds it first.
CREATE TABLE reminders (
    occasion TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL
);
