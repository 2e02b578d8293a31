DROP INDEX agreement_versions_countersign;
ALTER TABLE agreement_versions DROP COLUMN partner_signed;
ALTER TABLE agreement_versions DROP COLUMN dnrw_signed;
