-- A change counter per small table that caches depend on (store::data_version): the
-- roll-out snapshot (municipalities, services), the catalogue (services, organisations)
-- and the municipality filters. Statement triggers bump it on every insert, update,
-- delete and truncate, so a cache checks one row instead of scanning the table (11,000
-- municipalities at national scale), and every writer counts: this process, another
-- instance, the CLI.
CREATE TABLE data_versions (
    name TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO data_versions (name, version) VALUES ('municipalities', 1), ('services', 1), ('organisations', 1);

CREATE FUNCTION bump_data_version() RETURNS trigger AS $$
BEGIN
    UPDATE data_versions SET version = version + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER municipalities_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON municipalities
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('municipalities');
CREATE TRIGGER services_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('services');
CREATE TRIGGER organisations_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON organisations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('organisations');
