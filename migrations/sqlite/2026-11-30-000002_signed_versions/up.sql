-- Who has signed each version, kept on the version row when a signature is recorded
-- (actions::sign), so the clerk's to-do list ("Gegenzeichnung fällig") reads the few
-- versions the partner signed and d-NRW not from an index, instead of probing the
-- signatures of each of the 30,000 agreements awaiting signatures at national scale.
-- Signatures are never changed or deleted, so a flag once set stays set.
ALTER TABLE agreement_versions ADD COLUMN dnrw_signed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE agreement_versions ADD COLUMN partner_signed BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE agreement_versions SET
  dnrw_signed = EXISTS (SELECT 1 FROM signatures s
                        WHERE s.agreement_id = agreement_versions.agreement_id
                          AND s.version_no = agreement_versions.version_no
                          AND s.party = 'dnrw'),
  partner_signed = EXISTS (SELECT 1 FROM signatures s
                           WHERE s.agreement_id = agreement_versions.agreement_id
                             AND s.version_no = agreement_versions.version_no
                             AND s.party = 'partner')
WHERE EXISTS (SELECT 1 FROM signatures s
              WHERE s.agreement_id = agreement_versions.agreement_id
                AND s.version_no = agreement_versions.version_no);
CREATE INDEX agreement_versions_countersign ON agreement_versions (partner_signed, dnrw_signed, agreement_id);
