//! The TEST seal shared by the instances on one PostgreSQL database (table `test_seal`,
//! one row): created by the first instance that needs it, read by the others. Its PKCS#12
//! is protected by a password derived from the instances' shared secret key, which is
//! never stored; a database copied without the key holds no usable seal key.
//! (On SQLite the TEST seal stays in the data folder; the table exists on both backends,
//! one schema.)

use diesel::prelude::*;

use crate::db::schema::test_seal;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};

/// The PKCS#12 password for the shared TEST seal: derived from the configured secret key
/// (as configured: the same text or bytes on every instance give the same password).
pub fn password(secret: &[u8]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"nachnutzung: shared TEST seal\0");
    h.update(secret);
    hex::encode(h.finalize())
}

/// The shared TEST seal's PKCS#12 (under [`password`]), created now if there is none.
/// Call inside a write transaction: on PostgreSQL a transaction-scoped advisory lock (per
/// schema) lets instances starting together create it once, the later ones finding it.
pub fn ensure(conn: &mut DbConn, password: &str) -> AppResult<Vec<u8>> {
    if let DbConn::Postgres(pg) = conn {
        use diesel::connection::SimpleConnection;
        pg.batch_execute("SELECT pg_advisory_xact_lock(1852731764, hashtext(current_schema()))")?;
    }
    let stored = test_seal::table
        .filter(test_seal::id.eq(1))
        .select(test_seal::pkcs12)
        .first::<Vec<u8>>(conn)
        .optional()?;
    if let Some(p12) = stored {
        return Ok(p12);
    }
    let built = crate::seal::testca::build(password)
        .map_err(|e| AppError::internal(format!("TEST seal: {e}")))?;
    diesel::insert_into(test_seal::table)
        .values((
            test_seal::id.eq(1),
            test_seal::pkcs12.eq(&built.pkcs12),
            test_seal::ca_pem.eq(&built.ca_pem),
            test_seal::created_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(built.pkcs12)
}
