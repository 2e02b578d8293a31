//! Files of a refused form, kept for the same login session so the form can come back
//! showing them ("ersetzen") instead of asking for them again. Bound to the user and to
//! the session's secret (only its hash is stored): another session, even of the same
//! user, never sees them. They go when the form succeeds, at logout, and after
//! `KEEP_HOURS` at the latest.

use diesel::prelude::*;
use time::Duration;

use super::{new_id, now};
use crate::db::schema::pending_uploads;
use crate::db::DbConn;
use crate::error::AppResult;

/// How long a kept file waits at most: a login session's length.
pub const KEEP_HOURS: i64 = 8;

/// A kept file, as the form shows it and gets it back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Kept {
    pub id: String,
    pub field: String,
    pub file_name: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// The key of a session: the SHA-256 of its secret.
pub fn session_key(session_secret: &str) -> String {
    crate::store::user::token_hash(session_secret)
}

/// Keeps `bytes` for `field` of this session, in place of what it kept for that field
/// before; also drops every kept file older than `KEEP_HOURS`. Returns the kept file.
pub fn keep(
    conn: &mut DbConn,
    user_id: &str,
    session: &str,
    field: &str,
    file_name: &str,
    bytes: &[u8],
) -> AppResult<Kept> {
    let at = now();
    diesel::delete(
        pending_uploads::table
            .filter(pending_uploads::created_at.lt(at - Duration::hours(KEEP_HOURS))),
    )
    .execute(conn)?;
    diesel::delete(
        pending_uploads::table
            .filter(pending_uploads::session_key.eq(session))
            .filter(pending_uploads::field.eq(field)),
    )
    .execute(conn)?;
    let id = new_id();
    diesel::insert_into(pending_uploads::table)
        .values((
            pending_uploads::id.eq(&id),
            pending_uploads::user_id.eq(user_id),
            pending_uploads::session_key.eq(session),
            pending_uploads::field.eq(field),
            pending_uploads::file_name.eq(file_name),
            pending_uploads::created_at.eq(at),
            pending_uploads::content.eq(bytes),
        ))
        .execute(conn)?;
    Ok(Kept {
        id,
        field: field.to_string(),
        file_name: file_name.to_string(),
        bytes: bytes.to_vec(),
    })
}

/// The kept file `id` for `field`, if this user's session kept it and it has not expired;
/// anything else (another session's id, a guessed one, an old one) is `None`.
pub fn find(
    conn: &mut DbConn,
    user_id: &str,
    session: &str,
    field: &str,
    id: &str,
) -> AppResult<Option<Kept>> {
    let row = pending_uploads::table
        .filter(pending_uploads::id.eq(id))
        .filter(pending_uploads::user_id.eq(user_id))
        .filter(pending_uploads::session_key.eq(session))
        .filter(pending_uploads::field.eq(field))
        .filter(pending_uploads::created_at.ge(now() - Duration::hours(KEEP_HOURS)))
        .select((pending_uploads::file_name, pending_uploads::content))
        .first::<(String, Vec<u8>)>(conn)
        .optional()?;
    Ok(row.map(|(file_name, bytes)| Kept {
        id: id.to_string(),
        field: field.to_string(),
        file_name,
        bytes,
    }))
}

/// Drops everything this session kept (the form succeeded, or the user logged out).
pub fn discard(conn: &mut DbConn, session: &str) -> AppResult<usize> {
    Ok(
        diesel::delete(pending_uploads::table.filter(pending_uploads::session_key.eq(session)))
            .execute(conn)?,
    )
}
