//! The Trägerschaft record of a municipality (`domain::membership`): one row per
//! municipality, or none ("nicht erfasst"). A change is guarded by the municipality's
//! `lock_version` and audited like any change of the municipality.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::{Date, PrimitiveDateTime};

use crate::db::schema::{memberships, municipalities};
use crate::db::DbConn;
use crate::domain::membership::{self, Facts, Standing};
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::error::{AppError, AppResult};

use super::municipality::Municipality;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = memberships)]
pub struct Membership {
    pub municipality_id: String,
    pub is_member: bool,
    pub council_decision_on: Option<Date>,
    pub accession_declared_on: Option<Date>,
    pub capital_cents: Option<i64>,
    pub capital_paid_on: Option<Date>,
    pub left_on: Option<Date>,
    pub capital_refunded_on: Option<Date>,
    pub note: Option<String>,
    #[serde(skip)]
    pub recorded_by: String,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    #[serde(with = "super::ts")]
    pub updated_at: PrimitiveDateTime,
}

impl Membership {
    pub fn facts(&self) -> Facts {
        Facts {
            is_member: self.is_member,
            council_decision_on: self.council_decision_on,
            accession_declared_on: self.accession_declared_on,
            capital_cents: self.capital_cents,
            capital_paid_on: self.capital_paid_on,
            left_on: self.left_on,
            capital_refunded_on: self.capital_refunded_on,
        }
    }

    /// The record of one municipality, if any.
    pub fn of(conn: &mut DbConn, municipality_id: &str) -> AppResult<Option<Membership>> {
        Ok(memberships::table
            .find(municipality_id)
            .select(Membership::as_select())
            .first(conn)
            .optional()?)
    }

    /// The standing a record (or its absence) gives.
    pub fn standing_of(record: Option<&Membership>) -> Standing {
        Standing::of(record.map(Membership::facts).as_ref())
    }

    /// The standing of one municipality.
    pub fn standing(conn: &mut DbConn, municipality_id: &str) -> AppResult<Standing> {
        Ok(Membership::standing_of(
            Membership::of(conn, municipality_id)?.as_ref(),
        ))
    }

    /// The standing of each of `ids` (those without a record are `Unknown`).
    pub fn standings(conn: &mut DbConn, ids: &[String]) -> AppResult<HashMap<String, Standing>> {
        let mut out: HashMap<String, Standing> = ids
            .iter()
            .map(|id| (id.clone(), Standing::Unknown))
            .collect();
        for chunk in ids.chunks(500) {
            let rows: Vec<Membership> = memberships::table
                .filter(memberships::municipality_id.eq_any(chunk))
                .select(Membership::as_select())
                .load(conn)?;
            for m in rows {
                out.insert(m.municipality_id.clone(), Membership::standing_of(Some(&m)));
            }
        }
        Ok(out)
    }
}

/// `PUT /api/v1/municipalities/{id}/membership` and the municipality page's form: what
/// staff record about a municipality's Trägerschaft.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipInput {
    /// The municipality's `lock_version`.
    pub lock_version: i32,
    /// `traeger`, `kein_traeger` or `nicht_erfasst` (removes the record).
    pub status: String,
    #[serde(default)]
    pub council_decision_on: Option<Date>,
    #[serde(default)]
    pub accession_declared_on: Option<Date>,
    /// Euro cents; a Träger without an amount is recorded with the standard 1.000 €.
    #[serde(default)]
    pub capital_cents: Option<i64>,
    #[serde(default)]
    pub capital_paid_on: Option<Date>,
    #[serde(default)]
    pub left_on: Option<Date>,
    #[serde(default)]
    pub capital_refunded_on: Option<Date>,
    /// Where the information comes from, staff-only.
    #[serde(default)]
    pub note: Option<String>,
}

impl Inspect for MembershipInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("status", Kind::Code, &mut self.status);
        t.opt("note", Kind::Note, &mut self.note);
    }
}

impl Checked<MembershipInput> {
    /// Records (or removes) the Trägerschaft, bumps the municipality's `lock_version`
    /// (409 if it was stale) and audits the change. Returns the municipality.
    pub fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Municipality> {
        self.into_inner().apply(conn, actor, id)
    }
}

impl MembershipInput {
    fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Municipality> {
        let mut m = Municipality::find(conn, id)?;
        if m.lock_version != self.lock_version {
            return Err(AppError::stale());
        }
        let before = Membership::of(conn, id)?;
        let is_member = match self.status.as_str() {
            "traeger" => Some(true),
            "kein_traeger" => Some(false),
            "nicht_erfasst" => None,
            other => {
                return Err(AppError::field(
                    "status",
                    format!("„{other}“ ist kein Stand (traeger, kein_traeger, nicht_erfasst)."),
                ))
            }
        };
        let after = match is_member {
            None => {
                let given = [
                    self.council_decision_on,
                    self.accession_declared_on,
                    self.capital_paid_on,
                    self.left_on,
                    self.capital_refunded_on,
                ];
                if given.iter().any(Option::is_some) || self.capital_cents.is_some() {
                    return Err(AppError::field(
                        "status",
                        "„Nicht erfasst“ heißt: nichts ist bekannt. Daten zur Trägerschaft \
                         gehören zu „Träger“ oder „kein Träger“.",
                    ));
                }
                diesel::delete(memberships::table.find(id)).execute(conn)?;
                None
            }
            Some(is_member) => {
                let now = super::now();
                let capital_cents = match (self.capital_cents, is_member) {
                    (None, true) => Some(membership::CAPITAL_CENTS),
                    (c, _) => c,
                };
                let row = Membership {
                    municipality_id: id.to_string(),
                    is_member,
                    council_decision_on: self.council_decision_on,
                    accession_declared_on: self.accession_declared_on,
                    capital_cents,
                    capital_paid_on: self.capital_paid_on,
                    left_on: self.left_on,
                    capital_refunded_on: self.capital_refunded_on,
                    note: self
                        .note
                        .map(|n| n.trim().to_string())
                        .filter(|n| !n.is_empty()),
                    recorded_by: actor.to_string(),
                    created_at: before.as_ref().map(|b| b.created_at).unwrap_or(now),
                    updated_at: now,
                };
                membership::check(&row.facts(), super::today())?;
                diesel::delete(memberships::table.find(id)).execute(conn)?;
                diesel::insert_into(memberships::table)
                    .values(&row)
                    .execute(conn)?;
                Some(row)
            }
        };
        let next = m.lock_version + 1;
        let now = super::now();
        let n = diesel::update(
            municipalities::table
                .filter(municipalities::id.eq(id))
                .filter(municipalities::lock_version.eq(m.lock_version)),
        )
        .set((
            municipalities::lock_version.eq(next),
            municipalities::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(AppError::stale());
        }
        m.lock_version = next;
        m.updated_at = now;
        super::audit::record(
            conn,
            super::audit::Change {
                actor,
                action: "membership",
                entity_type: "municipality",
                entity_id: id,
                before: Some(serde_json::to_value(&before)?),
                after: Some(serde_json::to_value(&after)?),
                note: None,
            },
        )?;
        Ok(m)
    }
}
