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
    routes![catalog_json]
}

#[derive(Serialize)]
pub struct Catalog {
    pub kommunalvertreter: &'static str,
    pub services: Vec<ServiceView>,
}

/// (services, Σ services.lock_version, organisations, Σ organisations.lock_version)
type Fingerprint = (i64, Option<i64>, i64, Option<i64>);

/// The last rendered catalogue and the fingerprint it was rendered at: the JSON, and the
/// public HTML page (`web::catalog`).
#[derive(Default)]
pub struct CatalogCache {
    json: Slot,
    page: Slot,
}

#[derive(Default)]
struct Slot(Mutex<Option<(Fingerprint, Arc<String>)>>);

impl Slot {
    fn get(
        &self,
        conn: &mut DbConn,
        render: impl FnOnce(&mut DbConn) -> AppResult<String>,
    ) -> AppResult<Arc<String>> {
        let now = fingerprint(conn)?;
        if let Some((seen, text)) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if *seen == now {
                return Ok(text.clone());
            }
        }
        let text = Arc::new(render(conn)?);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, text.clone()));
        Ok(text)
    }
}

fn fingerprint(conn: &mut DbConn) -> AppResult<Fingerprint> {
    let (s, sv): (i64, Option<i64>) = services::table
        .select((count_star(), sum(services::lock_version)))
        .first(conn)?;
    let (o, ov): (i64, Option<i64>) = organisations::table
        .select((count_star(), sum(organisations::lock_version)))
        .first(conn)?;
    Ok((s, sv, o, ov))
}

/// The catalogue: services available or coming soon, with their operators.
pub fn catalog(conn: &mut DbConn) -> AppResult<Catalog> {
    let services = Service::list_with_operator(conn, true)?
        .iter()
        .map(|(s, op)| s.view(op.as_deref()))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Catalog {
        kommunalvertreter: crate::seed::DNRW,
        services,
    })
}

fn render(conn: &mut DbConn) -> AppResult<String> {
    Ok(serde_json::to_string(&catalog(conn)?)?)
}

impl CatalogCache {
    /// The catalogue JSON, rendered again only when the data changed.
    pub fn get(&self, conn: &mut DbConn) -> AppResult<Arc<String>> {
        self.json.get(conn, render)
    }

    /// The public catalogue page, rendered by `render` only when the data changed.
    pub fn page(
        &self,
        conn: &mut DbConn,
        render: impl FnOnce(&mut DbConn) -> AppResult<String>,
    ) -> AppResult<Arc<String>> {
        self.page.get(conn, render)
    }
}

#[get("/api/v1/catalog")]
async fn catalog_json(state: &State<AppState>) -> AppResult<RawJson<String>> {
    let cache = state.inner().catalog.clone();
    let json = state.db.read(move |conn| cache.get(conn)).await?;
    Ok(RawJson(json.as_ref().clone()))
}
