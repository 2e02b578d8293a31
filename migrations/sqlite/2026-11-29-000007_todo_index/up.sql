-- The clerk's to-do list asks for agreements by status, oldest submission or signature
-- first (actions::todo).
CREATE INDEX agreements_status_submitted ON agreements (status, submitted_at);
CREATE INDEX outbox_failed ON outbox (sent_at, last_error);
