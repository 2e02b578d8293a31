//! `/api/v1/municipalities`: NRW municipalities and Kreise, their Träger status and contacts.

use rocket::serde::json::Json;
use rocket::{get, patch, post, routes, FromForm, Route, State};
use serde::Serialize;

use super::{body, Body, Staff};
use crate::domain::text::Checked;
use crate::domain::MunicipalityKind;
use crate::error::{AppError, AppResult};
use crate::http::params::MunicipalityId;
use crate::http::state::AppState;
use crate::store::contact::{Contact, ContactInput};
use crate::store::municipality::{Filter, Municipality, MunicipalityPatch};
use crate::store::{Page, Paged};

pub fn routes() -> Vec<Route> {
    routes![list, show, update, add_contact]
}

#[get("/api/v1/municipalities?<query..>")]
async fn list(
    _staff: Staff,
    state: &State<AppState>,
    query: MunicipalitiesQuery<'_>,
) -> AppResult<Json<Paged<Municipality>>> {
    let (filter, page) = query.filter()?;
    Ok(Json(
        state
            .db
            .read(move |conn| Municipality::list(conn, &filter, page))
            .await?,
    ))
}

/// The query of the municipality list, as documented.
#[derive(FromForm)]
struct MunicipalitiesQuery<'r> {
    ags: Option<&'r str>,
    q: Option<&'r str>,
    kind: Option<&'r str>,
    regierungsbezirk: Option<&'r str>,
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
        let filter = Checked::new(Filter {
            ags: self.ags.map(str::to_string),
            q: self
                .q
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            kind: self.kind.map(str::to_string),
            regierungsbezirk: self.regierungsbezirk.map(str::to_string),
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
    is_traeger: bool,
    contacts: Vec<Contact>,
}

fn detail(conn: &mut crate::db::DbConn, m: Municipality) -> AppResult<MunicipalityDetail> {
    let contacts = Contact::of_municipality(conn, &m.id)?;
    Ok(MunicipalityDetail {
        kind_label: m.kind.label(),
        is_traeger: m.traeger_since.is_some(),
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
