-- Files a municipality hands in with an Einzelabruf (web-application issue): the coat of
-- arms shown in the online service and the DVDV encryption certificate. Checked before
-- they are stored (src/domain/upload.rs); written once, never changed.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY NOT NULL,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    kind TEXT NOT NULL CHECK (kind IN ('coat_of_arms', 'dvdv_certificate')),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    -- JSON: image size, or the certificate's subject, issuer, fingerprint, key usage
    details TEXT NOT NULL,
    -- certificates: end of validity (for the expiry reminders of the go-live issue)
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    content BLOB NOT NULL
);
CREATE INDEX attachments_agreement ON attachments (agreement_id, kind);
