//! `GET /api/v1/catalog`: the public catalogue of services offered (available or coming
//! soon), for other Länder's intermediaries and anybody else.

use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppResult;
use crate::models::service::{Service, ServiceView};

pub fn routes() -> Vec<Route> {
    routes![catalog]
}

#[derive(Serialize)]
pub struct Catalog {
    pub kommunalvertreter: &'static str,
    pub services: Vec<ServiceView>,
}

#[get("/api/v1/catalog")]
async fn catalog(state: &State<AppState>) -> AppResult<Json<Catalog>> {
    let services = state
        .db
        .read(|conn| {
            Service::list_with_operator(conn, true)?
                .iter()
                .map(|(s, op)| s.view(op.as_deref()))
                .collect::<AppResult<Vec<_>>>()
        })
        .await?;
    Ok(Json(Catalog {
        kommunalvertreter: crate::seed::DNRW,
        services,
    }))
}
