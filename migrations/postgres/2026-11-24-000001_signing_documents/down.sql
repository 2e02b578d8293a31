DROP TABLE documents;
DROP TABLE signatures;
DROP FUNCTION never_changed();
ALTER TABLE contacts DROP COLUMN may_sign;
