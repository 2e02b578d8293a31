ALTER TABLE agreement_versions DROP COLUMN text_templates;
ALTER TABLE agreement_versions DROP COLUMN text_sha256;
ALTER TABLE agreement_versions DROP COLUMN text;
