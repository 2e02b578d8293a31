DROP TABLE documents;
DROP TABLE signatures;
ALTER TABLE contacts DROP COLUMN may_sign;
