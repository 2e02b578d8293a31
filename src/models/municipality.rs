//! NRW municipalities and Kreise, with their Träger status at d-NRW.

use diesel::prelude::*;
use serde::Serialize;
use time::{Date, PrimitiveDateTime};

use super::{Page, Paged};
use crate::db::schema::municipalities;
use crate::db::DbConn;
use crate::domain::search_key;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable, Serialize)]
#[diesel(table_name = municipalities)]
pub struct Municipality {
    pub id: String,
    pub ags: String,
    pub ars: String,
    pub name: String,
    #[serde(skip)]
    pub search_name: String,
    pub kind: String,
    pub kreis_ags: Option<String>,
    pub kreis_name: Option<String>,
    pub regierungsbezirk: String,
    pub population: Option<i64>,
    pub postcode: Option<String>,
    pub address: Option<String>,
    /// Date of the decision that made the municipality a Träger of d-NRW.
    pub traeger_since: Option<Date>,
    /// Capital contribution to d-NRW, in euro cents.
    pub capital_contribution_cents: Option<i64>,
    pub lock_version: i32,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    #[serde(with = "super::ts")]
    pub updated_at: PrimitiveDateTime,
}

/// Filters of the municipality list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Exact AGS, or a prefix (e.g. a Kreis `05334`).
    pub ags: Option<String>,
    /// Part of the name, case- and umlaut-insensitive.
    pub q: Option<String>,
    pub kind: Option<String>,
    pub regierungsbezirk: Option<String>,
}

impl Municipality {
    pub fn find(conn: &mut DbConn, id: &str) -> AppResult<Municipality> {
        municipalities::table
            .find(id)
            .select(Municipality::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found(format!("Es gibt keine Kommune mit der Id {id}.")))
    }

    pub fn find_by_ags(conn: &mut DbConn, ags: &str) -> AppResult<Option<Municipality>> {
        Ok(municipalities::table
            .filter(municipalities::ags.eq(ags))
            .select(Municipality::as_select())
            .first(conn)
            .optional()?)
    }

    pub fn list(conn: &mut DbConn, filter: &Filter, page: Page) -> AppResult<Paged<Municipality>> {
        let build = || {
            let mut q = municipalities::table.into_boxed();
            if let Some(ags) = &filter.ags {
                q = q.filter(
                    municipalities::ags
                        .like(format!("{}%", escape_like(ags)))
                        .escape('\\'),
                );
            }
            if let Some(text) = &filter.q {
                let pattern = format!("%{}%", escape_like(&search_key(text)));
                q = q.filter(municipalities::search_name.like(pattern).escape('\\'));
            }
            if let Some(kind) = &filter.kind {
                q = q.filter(municipalities::kind.eq(kind.clone()));
            }
            if let Some(rb) = &filter.regierungsbezirk {
                q = q.filter(municipalities::regierungsbezirk.eq(rb.clone()));
            }
            q
        };
        let total = build().count().get_result(conn)?;
        let items = build()
            .select(Municipality::as_select())
            .order(municipalities::ags)
            .limit(page.per_page)
            .offset(page.offset())
            .load(conn)?;
        Ok(Paged {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
        })
    }

    pub fn insert(&self, conn: &mut DbConn) -> AppResult<()> {
        diesel::insert_into(municipalities::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn insert_many(conn: &mut DbConn, rows: &[Municipality]) -> AppResult<()> {
        crate::insert_batch!(conn, municipalities::table, rows)?;
        Ok(())
    }

    /// Writes the changeable fields if nobody changed the row since `expected`.
    pub fn update(&mut self, conn: &mut DbConn, expected: i32) -> AppResult<()> {
        let next = expected + 1;
        self.updated_at = super::now();
        let n = diesel::update(
            municipalities::table
                .filter(municipalities::id.eq(&self.id))
                .filter(municipalities::lock_version.eq(expected)),
        )
        .set((
            municipalities::address.eq(&self.address),
            municipalities::population.eq(self.population),
            municipalities::traeger_since.eq(self.traeger_since),
            municipalities::capital_contribution_cents.eq(self.capital_contribution_cents),
            municipalities::lock_version.eq(next),
            municipalities::updated_at.eq(self.updated_at),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::stale());
        }
        self.lock_version = next;
        Ok(())
    }

    /// "Dortmund, Stadt" → "Stadt Dortmund" for use in sentences.
    pub fn display_name(&self) -> String {
        match self.name.split_once(", ") {
            Some((name, kind)) => format!("{kind} {name}"),
            None if self.kind == "kreis"
                && !self.name.contains("Kreis")
                && !self.name.contains("region") =>
            {
                format!("Kreis {}", self.name)
            }
            None => self.name.clone(),
        }
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as escape character.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
