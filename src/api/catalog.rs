//! `GET /api/v1/catalog`: the public catalogue (`actions::catalog`), served from its
//! cache without touching the database.

use rocket::http::ContentType;
use rocket::{get, routes, Route, State};

use crate::error::AppResult;
use crate::http::respond::CachedText;
use crate::http::state::AppState;

pub fn routes() -> Vec<Route> {
    routes![catalog_json]
}

#[get("/api/v1/catalog")]
async fn catalog_json(state: &State<AppState>) -> AppResult<CachedText> {
    if let Some(json) = state.catalog.fresh() {
        return Ok(CachedText(json, ContentType::JSON));
    }
    let cache = state.inner().catalog.clone();
    let json = state.db.read(move |conn| cache.get(conn)).await?;
    Ok(CachedText(json, ContentType::JSON))
}
