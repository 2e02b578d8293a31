-- Login throttling as one counter row per account ("email:<address>") and per client IP
-- ("ip:<address>"). An attempt is counted under the row's lock *before* the password is
-- checked, so parallel attempts cannot all see "no failures yet" (the defect of counting
-- rows in login_failures). login_failures is no longer written; a later migration drops
-- it once no instance of the previous release runs (expand, then contract).
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    -- attempts that did not succeed since the last quiet period
    failures INTEGER NOT NULL,
    last_failure_at TIMESTAMP NOT NULL
);
