DROP INDEX agreements_kind_status;
CREATE INDEX agreements_kind_status ON agreements (kind, status);
DROP INDEX agreements_status_recent;
DROP INDEX agreements_kind_recent;
DROP INDEX agreements_recent;
DROP INDEX agreements_changed;
