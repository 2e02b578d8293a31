ALTER TABLE services DROP COLUMN data_protection;
