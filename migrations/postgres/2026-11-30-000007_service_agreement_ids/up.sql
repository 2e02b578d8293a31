-- A service's agreements by id from the index alone: the service page's slowest go-live
-- task type (actions::rollout::lead::slowest_task) joins a service's Einzelabrufe to
-- their tasks; without it each of a service's ~1,700 Einzelabrufe at national scale was
-- read from the table for its id (4 ms per service instead of 0.1 ms).
CREATE INDEX agreements_service_ids ON agreements (service_id, id);
