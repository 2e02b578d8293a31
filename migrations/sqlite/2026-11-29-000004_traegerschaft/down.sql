ALTER TABLE agreements DROP COLUMN non_member_reason;
ALTER TABLE municipalities ADD COLUMN traeger_since DATE;
ALTER TABLE municipalities ADD COLUMN capital_contribution_cents BIGINT;
UPDATE municipalities SET
    traeger_since = (SELECT accession_declared_on FROM memberships m
                     WHERE m.municipality_id = municipalities.id AND m.is_member),
    capital_contribution_cents = (SELECT capital_cents FROM memberships m
                                  WHERE m.municipality_id = municipalities.id AND m.is_member);
DROP TABLE memberships;
