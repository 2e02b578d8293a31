//! `/api/v1/intermediaries` and `/api/v1/providers`: the Länder's intermediaries and the
//! providers/operators of services. One table underneath (an organisation can be both).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, patch, post, routes, Route, State};
use serde::Serialize;

use super::{body, Body, Staff};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::http::params::OrganisationId;
use crate::http::state::AppState;
use crate::store::contact::Contact;
use crate::store::contact::ContactInput;
use crate::store::organisation::{Organisation, OrganisationInput, OrganisationView, Role};

pub fn routes() -> Vec<Route> {
    routes![
        list_intermediaries,
        list_providers,
        show_intermediary,
        show_provider,
        create_intermediary,
        create_provider,
        update_intermediary,
        update_provider,
        show_kommunalvertreter,
        add_contact
    ]
}

#[derive(Serialize)]
struct Detail {
    #[serde(flatten)]
    organisation: OrganisationView,
    contacts: Vec<Contact>,
}

fn list(conn: &mut DbConn, role: Role) -> AppResult<Vec<OrganisationView>> {
    Organisation::list(conn, role)?
        .iter()
        .map(Organisation::view)
        .collect()
}

fn has_role(o: &Organisation, role: Role) -> bool {
    match role {
        Role::Intermediary => o.is_intermediary,
        Role::Provider => o.is_provider,
    }
}

fn find(conn: &mut DbConn, id: &str, role: Role) -> AppResult<Organisation> {
    let o = Organisation::find(conn, id)?;
    if !has_role(&o, role) {
        return Err(AppError::not_found(format!(
            "{} ist kein{}.",
            o.name,
            if role == Role::Intermediary {
                " Kommunalvertreter"
            } else {
                " Anbieter"
            }
        )));
    }
    Ok(o)
}

async fn show(
    state: &AppState,
    id: Result<OrganisationId, AppError>,
    role: Role,
) -> AppResult<Json<Detail>> {
    let id = id?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                let o = find(conn, &id, role)?;
                Ok(Detail {
                    contacts: Contact::of_organisation(conn, &o.id)?,
                    organisation: o.view()?,
                })
            })
            .await?,
    ))
}

#[get("/api/v1/intermediaries")]
async fn list_intermediaries(
    _staff: Staff,
    state: &State<AppState>,
) -> AppResult<Json<Vec<OrganisationView>>> {
    Ok(Json(
        state.db.read(|conn| list(conn, Role::Intermediary)).await?,
    ))
}

#[get("/api/v1/providers")]
async fn list_providers(
    _staff: Staff,
    state: &State<AppState>,
) -> AppResult<Json<Vec<OrganisationView>>> {
    Ok(Json(
        state.db.read(|conn| list(conn, Role::Provider)).await?,
    ))
}

/// d-NRW itself, with its contacts (the d-NRW signatories among them).
#[get("/api/v1/kommunalvertreter")]
async fn show_kommunalvertreter(_staff: Staff, state: &State<AppState>) -> AppResult<Json<Detail>> {
    Ok(Json(
        state
            .db
            .read(|conn| {
                let o = Organisation::kommunalvertreter(conn)?;
                Ok(Detail {
                    contacts: Contact::of_organisation(conn, &o.id)?,
                    organisation: o.view()?,
                })
            })
            .await?,
    ))
}

#[get("/api/v1/intermediaries/<id>")]
async fn show_intermediary(
    _staff: Staff,
    state: &State<AppState>,
    id: Result<OrganisationId, AppError>,
) -> AppResult<Json<Detail>> {
    show(state, id, Role::Intermediary).await
}

#[get("/api/v1/providers/<id>")]
async fn show_provider(
    _staff: Staff,
    state: &State<AppState>,
    id: Result<OrganisationId, AppError>,
) -> AppResult<Json<Detail>> {
    show(state, id, Role::Provider).await
}

async fn create(
    staff: Staff,
    state: &AppState,
    input: Body<'_, OrganisationInput>,
    role: Role,
) -> AppResult<(Status, Json<Detail>)> {
    let input = body(input)?;
    let detail = state
        .db
        .write(move |conn| {
            let o = input.create(conn, &staff.actor, role)?;
            Ok(Detail {
                organisation: o.view()?,
                contacts: Vec::new(),
            })
        })
        .await?;
    state.catalog.changed();
    Ok((Status::Created, Json(detail)))
}

async fn update(
    staff: Staff,
    state: &AppState,
    id: Result<OrganisationId, AppError>,
    input: Body<'_, OrganisationInput>,
    role: Role,
) -> AppResult<Json<Detail>> {
    let id = id?;
    let input = body(input)?;
    let detail = state
        .db
        .write(move |conn| {
            find(conn, &id, role)?;
            let o = input.update(conn, &staff.actor, &id)?;
            Ok(Detail {
                contacts: Contact::of_organisation(conn, &o.id)?,
                organisation: o.view()?,
            })
        })
        .await?;
    state.catalog.changed();
    Ok(Json(detail))
}

#[post("/api/v1/intermediaries", data = "<input>")]
async fn create_intermediary(
    staff: Staff,
    state: &State<AppState>,
    input: Body<'_, OrganisationInput>,
) -> AppResult<(Status, Json<Detail>)> {
    create(staff, state, input, Role::Intermediary).await
}

#[post("/api/v1/providers", data = "<input>")]
async fn create_provider(
    staff: Staff,
    state: &State<AppState>,
    input: Body<'_, OrganisationInput>,
) -> AppResult<(Status, Json<Detail>)> {
    create(staff, state, input, Role::Provider).await
}

#[patch("/api/v1/intermediaries/<id>", data = "<input>")]
async fn update_intermediary(
    staff: Staff,
    state: &State<AppState>,
    id: Result<OrganisationId, AppError>,
    input: Body<'_, OrganisationInput>,
) -> AppResult<Json<Detail>> {
    update(staff, state, id, input, Role::Intermediary).await
}

#[patch("/api/v1/providers/<id>", data = "<input>")]
async fn update_provider(
    staff: Staff,
    state: &State<AppState>,
    id: Result<OrganisationId, AppError>,
    input: Body<'_, OrganisationInput>,
) -> AppResult<Json<Detail>> {
    update(staff, state, id, input, Role::Provider).await
}

#[post("/api/v1/organisations/<id>/contacts", data = "<input>")]
async fn add_contact(
    staff: Staff,
    state: &State<AppState>,
    id: Result<OrganisationId, AppError>,
    input: Body<'_, ContactInput>,
) -> AppResult<(Status, Json<Contact>)> {
    let id = id?;
    let input = body(input)?;
    let contact = state
        .db
        .write(move |conn| input.add_to_organisation(conn, &staff.actor, &id))
        .await?;
    Ok((Status::Created, Json(contact)))
}
