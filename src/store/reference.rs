//! Human reference numbers (`EA-2026-00042`), counted per kind and year.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use crate::db::schema::reference_counters as rc;
use crate::db::DbConn;
use crate::domain::agreement::{reference, AgreementKind};
use crate::error::AppResult;

/// The next reference number for `kind` in `year`. Call inside the write transaction that
/// stores the agreement: the UPDATE locks the counter row on PostgreSQL, and SQLite has a
/// single writer, so two agreements never get the same number.
pub fn next(conn: &mut DbConn, kind: AgreementKind, year: i32) -> AppResult<String> {
    // Both backends understand this statement (SQLite since 3.24).
    diesel::sql_query(
        "INSERT INTO reference_counters (prefix, year, last_value) VALUES ($1, $2, 0) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<Text, _>(kind.prefix())
    .bind::<Integer, _>(year)
    .execute(conn)?;
    diesel::update(
        rc::table
            .filter(rc::prefix.eq(kind.prefix()))
            .filter(rc::year.eq(year)),
    )
    .set(rc::last_value.eq(rc::last_value + 1))
    .execute(conn)?;
    let n: i64 = rc::table
        .filter(rc::prefix.eq(kind.prefix()))
        .filter(rc::year.eq(year))
        .select(rc::last_value)
        .first(conn)?;
    Ok(reference(kind, year, n))
}
