//! Change counters of the small tables that caches depend on (table `data_versions`,
//! bumped by database triggers on every write to `municipalities`, `services` and
//! `organisations`, whoever writes). A cache remembers the versions it was built at and
//! compares them with one indexed read instead of scanning the table.

use diesel::prelude::*;

use crate::db::schema::data_versions;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};

pub const MUNICIPALITIES: &str = "municipalities";
pub const SERVICES: &str = "services";
pub const ORGANISATIONS: &str = "organisations";

/// The current versions of `names`, in that order.
pub fn current<const N: usize>(conn: &mut DbConn, names: [&str; N]) -> AppResult<[i64; N]> {
    let rows: Vec<(String, i64)> = data_versions::table
        .filter(data_versions::name.eq_any(names))
        .select((data_versions::name, data_versions::version))
        .load(conn)?;
    let mut out = [0; N];
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = rows
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| AppError::internal(format!("data_versions has no row {name}")))?;
    }
    Ok(out)
}

/// A value built from some tables, kept until one of their versions changes.
pub struct Versioned<T, const N: usize> {
    names: [&'static str; N],
    slot: std::sync::Mutex<Option<([i64; N], std::sync::Arc<T>)>>,
}

impl<T, const N: usize> Versioned<T, N> {
    pub const fn new(names: [&'static str; N]) -> Self {
        Versioned {
            names,
            slot: std::sync::Mutex::new(None),
        }
    }

    /// The value as of the tables' current versions: the kept one, or `build` again
    /// (the versions are read first, so a change during the build shows next time).
    pub fn get(
        &self,
        conn: &mut DbConn,
        build: impl FnOnce(&mut DbConn) -> AppResult<T>,
    ) -> AppResult<std::sync::Arc<T>> {
        let now = current(conn, self.names)?;
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, value)) = slot.as_ref() {
            if *at == now {
                return Ok(value.clone());
            }
        }
        let value = std::sync::Arc::new(build(conn)?);
        *slot = Some((now, value.clone()));
        Ok(value)
    }
}
