DROP TRIGGER municipalities_version ON municipalities;
DROP TRIGGER services_version ON services;
DROP TRIGGER organisations_version ON organisations;
DROP FUNCTION bump_data_version();
DROP TABLE data_versions;
