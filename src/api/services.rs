//! `/api/v1/services`: the EfA catalogue as staff maintain it (withdrawn services included).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, patch, post, routes, Route, State};

use super::{body, Body, Staff};
use crate::error::AppError;
use crate::error::AppResult;
use crate::http::params::ServiceId;
use crate::http::state::AppState;
use crate::store::service::{Service, ServiceInput, ServiceStatus, ServiceView};

pub fn routes() -> Vec<Route> {
    routes![list, show, status, create, update]
}

#[get("/api/v1/services")]
async fn list(_staff: Staff, state: &State<AppState>) -> AppResult<Json<Vec<ServiceView>>> {
    Ok(Json(
        state
            .db
            .read(|conn| {
                Service::list_with_operator(conn, false)?
                    .iter()
                    .map(|(s, op)| s.view(op.as_deref()))
                    .collect()
            })
            .await?,
    ))
}

#[get("/api/v1/services/<id>")]
async fn show(
    _staff: Staff,
    state: &State<AppState>,
    id: Result<ServiceId, AppError>,
) -> AppResult<Json<ServiceView>> {
    let id = id?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                let s = Service::find(conn, &id)?;
                s.view_in(conn)
            })
            .await?,
    ))
}

#[get("/api/v1/services/<id>/status")]
async fn status(
    _staff: Staff,
    state: &State<AppState>,
    id: Result<ServiceId, AppError>,
) -> AppResult<Json<ServiceStatus>> {
    let id = id?;
    Ok(Json(
        state
            .db
            .read(move |conn| Service::find(conn, &id)?.status(conn))
            .await?,
    ))
}

#[post("/api/v1/services", data = "<input>")]
async fn create(
    staff: Staff,
    state: &State<AppState>,
    input: Body<'_, ServiceInput>,
) -> AppResult<(Status, Json<ServiceView>)> {
    let input = body(input)?;
    let v = state
        .db
        .write(move |conn| input.create(conn, &staff.actor))
        .await?;
    state.catalog.changed();
    Ok((Status::Created, Json(v)))
}

#[patch("/api/v1/services/<id>", data = "<input>")]
async fn update(
    staff: Staff,
    state: &State<AppState>,
    id: Result<ServiceId, AppError>,
    input: Body<'_, ServiceInput>,
) -> AppResult<Json<ServiceView>> {
    let id = id?;
    let input = body(input)?;
    let v = state
        .db
        .write(move |conn| input.update(conn, &staff.actor, &id))
        .await?;
    state.catalog.changed();
    Ok(Json(v))
}
