-- The pages at national scale (1,000,000 Einzelabrufe).
-- The roll-out snapshot asks for the Einzelabrufe written since its last look.
CREATE INDEX agreements_changed ON agreements (kind, updated_at);
-- /vereinbarungen, newest first, with and without the kind and status filters: read in
-- order from an index instead of sorting every agreement.
CREATE INDEX agreements_recent ON agreements (created_at, reference);
CREATE INDEX agreements_kind_recent ON agreements (kind, created_at, reference);
CREATE INDEX agreements_status_recent ON agreements (status, created_at, reference);
DROP INDEX agreements_kind_status;
CREATE INDEX agreements_kind_status ON agreements (kind, status, created_at, reference);
