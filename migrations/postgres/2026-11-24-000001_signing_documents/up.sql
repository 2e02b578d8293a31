-- Signing workflow and sealed documents (contract-documents issue).

-- Who may sign for a municipality or an organisation (Zeichnungsbefugnis).
ALTER TABLE contacts ADD COLUMN may_sign BOOLEAN NOT NULL DEFAULT FALSE;

-- One signature per party and version of an agreement.
CREATE TABLE signatures (
    id TEXT PRIMARY KEY NOT NULL,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    version_no INTEGER NOT NULL,
    -- 'partner': the municipality (RV, EA) or the counterparty (IÖV, EKV); 'dnrw': d-NRW.
    party TEXT NOT NULL CHECK (party IN ('partner', 'dnrw')),
    position INTEGER NOT NULL,
    -- who signed: a contact person (recorded by staff) or a user (signing as themselves,
    -- user_id is added with the users table)
    contact_id TEXT REFERENCES contacts (id),
    signer_name TEXT NOT NULL,
    signer_function TEXT,
    organisation_name TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE UNIQUE INDEX signatures_once ON signatures (agreement_id, version_no, party);

-- The sealed PDF of a version: written once, never changed.
CREATE TABLE documents (
    id TEXT PRIMARY KEY NOT NULL,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    version_no INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    templates TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    seal_subject TEXT NOT NULL,
    sealed_at TIMESTAMP NOT NULL,
    pdf BYTEA NOT NULL
);
CREATE UNIQUE INDEX documents_version ON documents (agreement_id, version_no);
CREATE INDEX documents_sha256 ON documents (sha256);

CREATE FUNCTION never_changed() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are never changed', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER signatures_no_change BEFORE UPDATE OR DELETE ON signatures
FOR EACH ROW EXECUTE FUNCTION never_changed();
CREATE TRIGGER documents_no_change BEFORE UPDATE OR DELETE ON documents
FOR EACH ROW EXECUTE FUNCTION never_changed();
