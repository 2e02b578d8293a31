DROP TABLE reminders;
DROP TABLE outbox;
DROP TABLE golive_tasks;
DROP INDEX users_calendar_token;
ALTER TABLE users DROP COLUMN calendar_token_hash;
ALTER TABLE agreements DROP COLUMN live_on;
ALTER TABLE services DROP COLUMN golive_days;
