//! `GET /api/v1/audit?entity_id=`: the audit log (staff only).

use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};

use super::Staff;
use crate::error::AppResult;
use crate::http::state::AppState;
use crate::store::audit::{AuditEvent, AuditView};
use crate::store::Paged;

pub fn routes() -> Vec<Route> {
    routes![list]
}

#[get("/api/v1/audit?<entity_id>&<page>&<per_page>")]
async fn list(
    _staff: Staff,
    state: &State<AppState>,
    entity_id: Option<String>,
    page: Option<&str>,
    per_page: Option<&str>,
) -> AppResult<Json<Paged<AuditView>>> {
    let page = super::page(page, per_page)?;
    let entity_id = super::query_id("entity_id", entity_id.as_deref())?;
    Ok(Json(
        state
            .db
            .read(move |conn| AuditEvent::list(conn, entity_id.as_deref(), page))
            .await?,
    ))
}
