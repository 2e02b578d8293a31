-- A party's own qualified electronic signature on an issued document (the written-form
-- path, seal::qes): the uploaded file, checked to be the issued document plus signatures
-- only, and the signer's certificate as found in it. Never changed once recorded.
CREATE TABLE qes_signatures (
    id TEXT PRIMARY KEY NOT NULL,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    document_id TEXT NOT NULL REFERENCES documents (id),
    party TEXT NOT NULL CHECK (party IN ('dnrw', 'partner')),
    signer_name TEXT NOT NULL,
    signer_subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    cert_not_before TIMESTAMP NOT NULL,
    cert_not_after TIMESTAMP NOT NULL,
    cert_sha256 TEXT NOT NULL,
    qualified BOOLEAN NOT NULL,
    chain TEXT NOT NULL CHECK (chain IN ('trusted', 'not_checked')),
    signing_time TEXT,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    pdf BYTEA NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX qes_signatures_once ON qes_signatures (document_id, cert_sha256);
CREATE INDEX qes_signatures_agreement ON qes_signatures (agreement_id);
CREATE TRIGGER qes_signatures_no_change BEFORE UPDATE OR DELETE ON qes_signatures
FOR EACH ROW EXECUTE FUNCTION never_changed();
