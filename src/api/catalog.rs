//! `GET /api/v1/catalog`: the public catalogue of services offered (available or coming
//! soon), for other Länder's intermediaries and anybody else.
//!
//! The catalogue is read far more often than it changes, so its JSON is kept and served
//! again while a cheap fingerprint of the services and organisations is unchanged (every
//! write bumps a row's `lock_version`, so their sums move with any change).

use std::sync::{Arc, Mutex};

use diesel::dsl::{count_star, sum};
use diesel::prelude::*;
use rocket::response::content::RawJson;
use rocket::{get, routes, Route, State};
use serde::Serialize;

use crate::app::AppState;
use crate::db::schema::{organisations, services};
use crate::db::DbConn;
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

/// (services, Σ services.lock_version, organisations, Σ organisations.lock_version)
type Fingerprint = (i64, Option<i64>, i64, Option<i64>);

/// The last rendered catalogue and the fingerprint it was rendered at.
#[derive(Default)]
pub struct CatalogCache(Mutex<Option<(Fingerprint, Arc<String>)>>);

fn fingerprint(conn: &mut DbConn) -> AppResult<Fingerprint> {
    let (s, sv): (i64, Option<i64>) = services::table
        .select((count_star(), sum(services::lock_version)))
        .first(conn)?;
    let (o, ov): (i64, Option<i64>) = organisations::table
        .select((count_star(), sum(organisations::lock_version)))
        .first(conn)?;
    Ok((s, sv, o, ov))
}

fn render(conn: &mut DbConn) -> AppResult<String> {
    let services = Service::list_with_operator(conn, true)?
        .iter()
        .map(|(s, op)| s.view(op.as_deref()))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(serde_json::to_string(&Catalog {
        kommunalvertreter: crate::seed::DNRW,
        services,
    })?)
}

impl CatalogCache {
    /// The catalogue JSON, rendered again only when the data changed.
    pub fn get(&self, conn: &mut DbConn) -> AppResult<Arc<String>> {
        let now = fingerprint(conn)?;
        if let Some((seen, json)) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if *seen == now {
                return Ok(json.clone());
            }
        }
        let json = Arc::new(render(conn)?);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, json.clone()));
        Ok(json)
    }
}

#[get("/api/v1/catalog")]
async fn catalog(state: &State<AppState>) -> AppResult<RawJson<String>> {
    let cache = state.inner().catalog.clone();
    let json = state.db.read(move |conn| cache.get(conn)).await?;
    Ok(RawJson(json.as_ref().clone()))
}
