-- The TEST seal that every instance on this database uses when no seal_pkcs12 is
-- configured: created once by the first instance, its PKCS#12 protected with a password
-- derived from the instances' shared secret key (never stored).
CREATE TABLE test_seal (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pkcs12 BLOB NOT NULL,
    ca_pem TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
