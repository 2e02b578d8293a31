//! `/api/v1/municipalities`: NRW municipalities and Kreise, their Träger status and contacts.

use rocket::serde::json::Json;
use rocket::{get, patch, post, routes, Route, State};
use serde::{Deserialize, Serialize};
use time::Date;

use super::{body, Body, Staff};
use crate::app::AppState;
use crate::domain::{party, MunicipalityKind, Problems};
use crate::error::{AppError, AppResult};
use crate::models::audit::{self, Change};
use crate::models::contact::Contact;
use crate::models::municipality::{Filter, Municipality};
use crate::models::{new_id, now, Paged};

pub fn routes() -> Vec<Route> {
    routes![list, show, update, add_contact]
}

#[get("/api/v1/municipalities?<ags>&<q>&<kind>&<regierungsbezirk>&<page>&<per_page>")]
#[expect(
    clippy::too_many_arguments,
    reason = "one parameter per documented query field"
)]
async fn list(
    _staff: Staff,
    state: &State<AppState>,
    ags: Option<&str>,
    q: Option<&str>,
    kind: Option<&str>,
    regierungsbezirk: Option<&str>,
    page: Option<&str>,
    per_page: Option<&str>,
) -> AppResult<Json<Paged<Municipality>>> {
    let page = super::page(page, per_page)?;
    if let Some(a) = ags {
        if a.is_empty() || a.len() > 8 || !a.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::field(
                "ags",
                format!("„{a}“ ist kein AGS und kein Anfang eines AGS (bis zu 8 Ziffern)."),
            ));
        }
    }
    if let Some(k) = kind {
        if MunicipalityKind::parse(k).is_none() {
            return Err(AppError::field(
                "kind",
                format!("„{k}“ ist keine Art (gemeinde, stadt, kreisfreie_stadt, kreis)."),
            ));
        }
    }
    let filter = Filter {
        ags: ags.map(str::to_string),
        q: q.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        kind: kind.map(str::to_string),
        regierungsbezirk: regierungsbezirk.map(str::to_string),
        ..Filter::default()
    };
    Ok(Json(
        state
            .db
            .read(move |conn| Municipality::list(conn, &filter, page))
            .await?,
    ))
}

#[derive(Serialize)]
struct MunicipalityDetail {
    #[serde(flatten)]
    municipality: Municipality,
    kind_label: &'static str,
    is_traeger: bool,
    contacts: Vec<Contact>,
}

fn detail(conn: &mut crate::db::DbConn, m: Municipality) -> AppResult<MunicipalityDetail> {
    let contacts = Contact::of_municipality(conn, &m.id)?;
    Ok(MunicipalityDetail {
        kind_label: MunicipalityKind::parse(&m.kind)
            .map(|k| k.label())
            .unwrap_or(""),
        is_traeger: m.traeger_since.is_some(),
        contacts,
        municipality: m,
    })
}

#[get("/api/v1/municipalities/<id>")]
async fn show(
    _staff: Staff,
    state: &State<AppState>,
    id: &str,
) -> AppResult<Json<MunicipalityDetail>> {
    let id = super::id(id)?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                let m = Municipality::find(conn, &id)?;
                detail(conn, m)
            })
            .await?,
    ))
}

/// What staff may change about a municipality (its keys come from Destatis).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MunicipalityPatch {
    lock_version: i32,
    #[serde(default, deserialize_with = "super::nullable")]
    traeger_since: Option<Option<Date>>,
    #[serde(default, deserialize_with = "super::nullable")]
    capital_contribution_cents: Option<Option<i64>>,
    #[serde(default, deserialize_with = "super::nullable")]
    address: Option<Option<String>>,
    #[serde(default)]
    population: Option<i64>,
}

#[patch("/api/v1/municipalities/<id>", data = "<input>")]
async fn update(
    staff: Staff,
    state: &State<AppState>,
    id: &str,
    input: Body<'_, MunicipalityPatch>,
) -> AppResult<Json<MunicipalityDetail>> {
    let id = super::id(id)?;
    let input = body(input)?;
    Ok(Json(
        state
            .db
            .write(move |conn| {
                let mut m = Municipality::find(conn, &id)?;
                if m.lock_version != input.lock_version {
                    return Err(AppError::stale());
                }
                let before = serde_json::to_value(&m)?;
                if let Some(t) = input.traeger_since {
                    m.traeger_since = t;
                }
                if let Some(c) = input.capital_contribution_cents {
                    m.capital_contribution_cents = c;
                }
                if let Some(a) = input.address {
                    m.address = a.map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
                }
                if let Some(p) = input.population {
                    m.population = Some(p);
                }
                let mut problems = Problems::new();
                party::check_municipality(
                    &mut problems,
                    &m.ags,
                    &m.ars,
                    &m.name,
                    m.population,
                    m.capital_contribution_cents,
                );
                if m.traeger_since.is_some_and(|d| d > crate::models::today()) {
                    problems.add(
                        "traeger_since",
                        "Der Trägerbeschluss kann nicht in der Zukunft liegen.",
                    );
                }
                problems.into_result()?;
                m.update(conn, input.lock_version)?;
                audit::record(
                    conn,
                    Change {
                        actor: &staff.actor,
                        action: "update",
                        entity_type: "municipality",
                        entity_id: &m.id,
                        before: Some(before),
                        after: Some(serde_json::to_value(&m)?),
                        note: None,
                    },
                )?;
                detail(conn, m)
            })
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    #[serde(default)]
    pub function: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Authorised to sign agreements for the municipality or organisation.
    #[serde(default)]
    pub may_sign: bool,
}

impl ContactInput {
    /// The contact, checked, for a municipality or an organisation.
    pub fn into_contact(
        self,
        municipality_id: Option<String>,
        organisation_id: Option<String>,
    ) -> AppResult<Contact> {
        let mut problems = Problems::new();
        party::check_contact(&mut problems, &self.name, self.email.as_deref());
        problems.into_result()?;
        Ok(Contact {
            id: new_id(),
            organisation_id,
            municipality_id,
            name: self.name.trim().to_string(),
            function: self.function,
            email: self.email,
            phone: self.phone,
            created_at: now(),
            may_sign: self.may_sign,
        })
    }
}

#[post("/api/v1/municipalities/<id>/contacts", data = "<input>")]
async fn add_contact(
    staff: Staff,
    state: &State<AppState>,
    id: &str,
    input: Body<'_, ContactInput>,
) -> AppResult<(rocket::http::Status, Json<Contact>)> {
    let id = super::id(id)?;
    let input = body(input)?;
    let contact = state
        .db
        .write(move |conn| {
            let m = Municipality::find(conn, &id)?;
            let contact = input.into_contact(Some(m.id.clone()), None)?;
            contact.insert(conn)?;
            audit::record(
                conn,
                Change {
                    actor: &staff.actor,
                    action: "add_contact",
                    entity_type: "municipality",
                    entity_id: &m.id,
                    before: None,
                    after: Some(serde_json::to_value(&contact)?),
                    note: None,
                },
            )?;
            Ok(contact)
        })
        .await?;
    Ok((rocket::http::Status::Created, Json(contact)))
}
