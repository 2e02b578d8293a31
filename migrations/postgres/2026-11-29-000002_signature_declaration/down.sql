ALTER TABLE signatures DROP COLUMN declaration;
