//! One file per table: the row struct, its insert form, and plain query functions that
//! take `&mut DbConn` and return `AppResult`. No HTTP here.

pub mod agreement;
pub mod attachment;
pub mod audit;
pub mod contact;
pub mod data_version;
pub mod document;
pub mod membership;
pub mod municipality;
pub mod organisation;
pub mod outbox;
pub mod pending_upload;
pub mod qes;
pub mod reference;
pub mod service;
pub mod signature;
pub mod task;
pub mod test_seal;
pub mod user;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

pub use crate::domain::policy::Scope;

/// Current UTC time as stored (timestamps are UTC without offset in both backends).
pub fn now() -> PrimitiveDateTime {
    let now = OffsetDateTime::now_utc();
    // Microsecond precision: what both backends store.
    let micros = now.microsecond();
    let now = now.replace_microsecond(micros).unwrap_or(now);
    PrimitiveDateTime::new(now.date(), now.time())
}

/// Today in Europe/Berlin: the calendar day of signatures, due dates and "in Kraft seit"
/// (at 00:30 in Berlin it is already the next day, while UTC is not).
pub fn today() -> time::Date {
    crate::domain::berlin::local_date(now())
}

/// A row that a foreign key promises: missing means the database is broken (a 500 that
/// names the table), never an empty name shown to users.
pub fn looked_up<T: Clone>(
    map: &std::collections::HashMap<String, T>,
    id: &str,
    table: &str,
) -> crate::error::AppResult<T> {
    map.get(id).cloned().ok_or_else(|| {
        crate::error::AppError::internal(format!("{table} {id} is referenced but missing"))
    })
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `bytes` random bytes as lower-case hex: tokens, CSRF tokens, generated keys.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// `2026-11-23T10:15:00.123456Z`
pub fn timestamp(t: PrimitiveDateTime) -> String {
    t.assume_utc().format(&Rfc3339).unwrap_or_default()
}

/// Serde helper: timestamps as RFC 3339 UTC strings.
pub mod ts {
    use serde::Serializer;
    use time::PrimitiveDateTime;

    pub fn serialize<S: Serializer>(t: &PrimitiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::timestamp(*t))
    }

    pub mod option {
        use serde::Serializer;
        use time::PrimitiveDateTime;

        pub fn serialize<S: Serializer>(
            t: &Option<PrimitiveDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::timestamp(*t)),
                None => s.serialize_none(),
            }
        }
    }
}

/// Pagination of list endpoints: 1-based page, at most 500 per page.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    pub const MAX_PER_PAGE: i64 = 500;
    /// Far beyond any real list; keeps the offset arithmetic from overflowing.
    pub const MAX_PAGE: i64 = 1_000_000;

    pub fn new(page: Option<i64>, per_page: Option<i64>) -> crate::error::AppResult<Page> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(50);
        let mut problems = Vec::new();
        if !(1..=Page::MAX_PAGE).contains(&page) {
            problems.push(crate::error::FieldError {
                field: "page".into(),
                message: format!("Die Seite liegt zwischen 1 und {}.", Page::MAX_PAGE),
            });
        }
        if !(1..=Page::MAX_PER_PAGE).contains(&per_page) {
            problems.push(crate::error::FieldError {
                field: "per_page".into(),
                message: format!("per_page liegt zwischen 1 und {}.", Page::MAX_PER_PAGE),
            });
        }
        if !problems.is_empty() {
            return Err(crate::error::AppError::validation(problems));
        }
        Ok(Page { page, per_page })
    }

    pub fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

/// One page of results.
#[derive(Debug, serde::Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// For PATCH fields that may be cleared: absent → `None`, `null` → `Some(None)`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}
