DROP INDEX agreements_service_ids;
