-- Trägerschaft at d-NRW is its own record (store::membership): the council's decision,
-- the declaration of accession, the capital contribution (paid, refunded) and a leaving.
-- No row means "nicht erfasst"; a row says "Träger" (is_member) or explicitly "kein Träger".
CREATE TABLE memberships (
    municipality_id TEXT PRIMARY KEY NOT NULL REFERENCES municipalities (id),
    is_member BOOLEAN NOT NULL,
    council_decision_on DATE,
    accession_declared_on DATE,
    capital_cents BIGINT CHECK (capital_cents IS NULL OR capital_cents >= 0),
    capital_paid_on DATE,
    left_on DATE,
    capital_refunded_on DATE,
    note TEXT,
    recorded_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (NOT is_member OR (accession_declared_on IS NOT NULL AND left_on IS NULL))
);
CREATE INDEX memberships_is_member ON memberships (is_member);

-- The former "Träger seit" date was the day the Trägerschaft began.
INSERT INTO memberships (municipality_id, is_member, accession_declared_on, capital_cents,
                         note, recorded_by, created_at, updated_at)
SELECT id, TRUE, traeger_since, capital_contribution_cents,
       'Aus dem früheren Feld „Träger seit“ übernommen.', 'migration', updated_at, updated_at
FROM municipalities WHERE traeger_since IS NOT NULL;

ALTER TABLE municipalities DROP COLUMN traeger_since;
ALTER TABLE municipalities DROP COLUMN capital_contribution_cents;

-- An RV or inbound EA for a municipality that is not Träger states why it may re-use
-- the service anyway (the procurement-law basis); shown on the agreement and in lists.
ALTER TABLE agreements ADD COLUMN non_member_reason TEXT;
