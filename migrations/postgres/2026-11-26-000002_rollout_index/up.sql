-- The roll-out matrix groups the Einzelabrufe by municipality and service and looks only
-- at their status and go-live date: this index covers that query (no table reads, no sort).
CREATE INDEX agreements_rollout ON agreements (kind, municipality_id, service_id, status, live_on);
