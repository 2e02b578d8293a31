-- The contract text of a version is fixed when it goes to signature (or is first
-- signed): what the parties read, sign and what is sealed is this text, whatever changes
-- in the registry afterwards (a party's name, its Trägerschaft, a date).
ALTER TABLE agreement_versions ADD COLUMN text TEXT;
ALTER TABLE agreement_versions ADD COLUMN text_sha256 TEXT;
ALTER TABLE agreement_versions ADD COLUMN text_templates TEXT;
