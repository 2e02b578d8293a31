//! `/api/v1/municipalities`: NRW municipalities and Kreise, their Träger status and contacts.

use rocket::serde::json::Json;
use rocket::{get, patch, post, put, routes, FromForm, Route, State};
use serde::Serialize;

use super::{body, Body, Staff};
use crate::domain::membership::Standing;
use crate::domain::text::Checked;
use crate::domain::MunicipalityKind;
use crate::error::{AppError, AppResult};
use crate::http::params::MunicipalityId;
use crate::http::state::AppState;
use crate::store::contact::{Contact, ContactInput};
use crate::store::membership::{Membership, MembershipInput};
use crate::store::municipality::{Filter, Municipality, MunicipalityPatch, TraegerFilter};
use crate::store::{Page, Paged};

pub fn routes() -> Vec<Route> {
    routes![list, show, update, record_membership, add_contact]
}

#[get("/api/v1/municipalities?<query..>")]
async fn list(
    _staff: Staff,
    state: &State<AppState>,
    query: MunicipalitiesQuery<'_>,
) -> AppResult<Json<Paged<ListItem>>> {
    let (filter, page) = query.filter()?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                let listed = Municipality::list(conn, &filter, page)?;
                let ids: Vec<String> = listed.items.iter().map(|m| m.id.clone()).collect();
                let standings = Membership::standings(conn, &ids)?;
                Ok(Paged {
                    page: listed.page,
                    per_page: listed.per_page,
                    total: listed.total,
                    items: listed
                        .items
                        .into_iter()
                        .map(|m| ListItem {
                            traegerschaft: standings
                                .get(&m.id)
                                .copied()
                                .unwrap_or(Standing::Unknown)
                                .code(),
                            municipality: m,
                        })
                        .collect(),
                })
            })
            .await?,
    ))
}

/// A municipality in the list, with its Trägerschaft as a code.
#[derive(Serialize)]
struct ListItem {
    #[serde(flatten)]
    municipality: Municipality,
    /// `traeger`, `kein_traeger` or `nicht_erfasst`.
    traegerschaft: &'static str,
}

/// The query of the municipality list, as documented.
#[derive(FromForm)]
struct MunicipalitiesQuery<'r> {
    ags: Option<&'r str>,
    q: Option<&'r str>,
    kind: Option<&'r str>,
    regierungsbezirk: Option<&'r str>,
    traeger: Option<&'r str>,
    page: Option<&'r str>,
    per_page: Option<&'r str>,
}

impl MunicipalitiesQuery<'_> {
    /// The list's filter and page; a value that is none a 422 naming its field.
    fn filter(&self) -> AppResult<(Checked<Filter>, Page)> {
        if let Some(a) = self.ags {
            if a.is_empty() || a.len() > 8 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(AppError::field(
                    "ags",
                    format!("„{a}“ ist kein AGS und kein Anfang eines AGS (bis zu 8 Ziffern)."),
                ));
            }
        }
        if let Some(k) = self.kind {
            if MunicipalityKind::parse(k).is_none() {
                return Err(AppError::field(
                    "kind",
                    format!("„{k}“ ist keine Art (gemeinde, stadt, kreisfreie_stadt, kreis)."),
                ));
            }
        }
        let traeger = match self.traeger {
            None => None,
            Some(t) => Some(TraegerFilter::parse(t).ok_or_else(|| {
                AppError::field(
                    "traeger",
                    format!("„{t}“ ist kein Stand der Trägerschaft (traeger, kein_traeger, nicht_erfasst)."),
                )
            })?),
        };
        let filter = Checked::new(Filter {
            ags: self.ags.map(str::to_string),
            q: self
                .q
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            kind: self.kind.map(str::to_string),
            regierungsbezirk: self.regierungsbezirk.map(str::to_string),
            traeger,
            ..Filter::default()
        })?;
        Ok((filter, super::page(self.page, self.per_page)?))
    }
}

#[derive(Serialize)]
struct MunicipalityDetail {
    #[serde(flatten)]
    municipality: Municipality,
    kind_label: &'static str,
    /// Träger of d-NRW now.
    is_traeger: bool,
    /// `traeger`, `kein_traeger` or `nicht_erfasst` (no record).
    traegerschaft: &'static str,
    /// In words: "Träger seit 01.04.2021", "kein Träger", "nicht erfasst".
    traegerschaft_label: String,
    /// The record (council decision, accession, capital), if any.
    membership: Option<Membership>,
    contacts: Vec<Contact>,
}

fn detail(conn: &mut crate::db::DbConn, m: Municipality) -> AppResult<MunicipalityDetail> {
    let contacts = Contact::of_municipality(conn, &m.id)?;
    let membership = Membership::of(conn, &m.id)?;
    let standing = Membership::standing_of(membership.as_ref());
    Ok(MunicipalityDetail {
        kind_label: m.kind.label(),
        is_traeger: standing.is_member(),
        traegerschaft: standing.code(),
        traegerschaft_label: standing.label(),
        membership,
        contacts,
        municipality: m,
    })
}

#[get("/api/v1/municipalities/<id>")]
async fn show(
    _staff: Staff,
    state: &State<AppState>,
    id: Result<MunicipalityId, AppError>,
) -> AppResult<Json<MunicipalityDetail>> {
    let id = id?;
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

#[patch("/api/v1/municipalities/<id>", data = "<input>")]
async fn update(
    staff: Staff,
    state: &State<AppState>,
    id: Result<MunicipalityId, AppError>,
    input: Body<'_, MunicipalityPatch>,
) -> AppResult<Json<MunicipalityDetail>> {
    let id = id?;
    let input = body(input)?;
    Ok(Json(
        state
            .db
            .write(move |conn| {
                let m = input.apply(conn, &staff.actor, &id)?;
                detail(conn, m)
            })
            .await?,
    ))
}

/// Records the municipality's Trägerschaft (or removes the record: "nicht erfasst").
#[put("/api/v1/municipalities/<id>/membership", data = "<input>")]
async fn record_membership(
    staff: Staff,
    state: &State<AppState>,
    id: Result<MunicipalityId, AppError>,
    input: Body<'_, MembershipInput>,
) -> AppResult<Json<MunicipalityDetail>> {
    let id = id?;
    let input = body(input)?;
    Ok(Json(
        state
            .db
            .write(move |conn| {
                let m = input.apply(conn, &staff.actor, &id)?;
                detail(conn, m)
            })
            .await?,
    ))
}

#[post("/api/v1/municipalities/<id>/contacts", data = "<input>")]
async fn add_contact(
    staff: Staff,
    state: &State<AppState>,
    id: Result<MunicipalityId, AppError>,
    input: Body<'_, ContactInput>,
) -> AppResult<(rocket::http::Status, Json<Contact>)> {
    let id = id?;
    let input = body(input)?;
    let contact = state
        .db
        .write(move |conn| input.add_to_municipality(conn, &staff.actor, &id))
        .await?;
    Ok((rocket::http::Status::Created, Json(contact)))
}
