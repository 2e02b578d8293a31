DROP INDEX outbox_failed;
DROP INDEX agreements_status_submitted;
