-- A change counter per small table that caches depend on (store::data_version): the
-- roll-out snapshot (municipalities, services), the catalogue (services, organisations)
-- and the municipality filters. Triggers bump it on every insert, update and delete, so
-- a cache checks one row instead of scanning the table (11,000 municipalities at
-- national scale), and every writer counts: this process, another instance, the CLI.
CREATE TABLE data_versions (
    name TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO data_versions (name, version) VALUES ('municipalities', 1), ('services', 1), ('organisations', 1);

CREATE TRIGGER municipalities_version_insert AFTER INSERT ON municipalities
BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'municipalities'; END;
CREATE TRIGGER municipalities_version_update AFTER UPDATE ON municipalities
BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'municipalities'; END;
CREATE TRIGGER municipalities_version_delete AFTER DELETE ON municipalities
BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'municipalities'; END;

CREATE TRIGGER services_version_insert AFTER INSERT ON services
BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'services'; END;
CREATE TRIGGER services_version_update AFTER UPDATE ON services
BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'services'; END;
CREATE TRIGGER services_version_delete AFTER DELETE ON services
BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'services'; END;

CREATE TRIGGER organisations_version_insert AFTER INSERT ON organisations
BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'organisations'; END;
CREATE TRIGGER organisations_version_update AFTER UPDATE ON organisations
BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'organisations'; END;
CREATE TRIGGER organisations_version_delete AFTER DELETE ON organisations
BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'organisations'; END;
