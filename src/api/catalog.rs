//! `GET /api/v1/catalog`: the public catalogue of services offered (available or coming
//! soon), for other Länder's intermediaries and anybody else.
//!
//! The catalogue is read far more often than it changes, so its JSON (and the public HTML
//! page) is kept in memory and served without touching the database:
//!
//! - a write to services or organisations in this process makes the next request look
//!   again (`models::catalog_changed`);
//! - otherwise the database is asked at most once per `RECHECK` whether anything changed
//!   (another instance may have written): a cheap fingerprint of services and
//!   organisations (counts and sums of `lock_version`, which every write bumps). Only a
//!   changed fingerprint renders the catalogue again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::dsl::{count_star, sum};
use diesel::prelude::*;
use rocket::http::ContentType;
use rocket::response::Responder;
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

/// How long a checked catalogue is served before the database is asked again; the
/// longest a change made by another instance takes to show.
pub const RECHECK: Duration = Duration::from_secs(1);

/// One cached text: the fingerprint it was rendered at, when that was last confirmed,
/// and this process's write count then.
struct Cached {
    fingerprint: Fingerprint,
    checked: Instant,
    writes: u64,
    text: Arc<String>,
}

#[derive(Default)]
struct Slot(Mutex<Option<Cached>>);

impl Slot {
    /// The text, if it was confirmed recently and nothing was written since.
    fn fresh(&self) -> Option<Arc<String>> {
        let slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref()
            .filter(|c| {
                c.checked.elapsed() < RECHECK && c.writes == crate::models::catalog_writes()
            })
            .map(|c| c.text.clone())
    }

    fn get(
        &self,
        conn: &mut DbConn,
        render: impl FnOnce(&mut DbConn) -> AppResult<String>,
    ) -> AppResult<Arc<String>> {
        let writes = crate::models::catalog_writes();
        let now = fingerprint(conn)?;
        {
            let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = slot.as_mut().filter(|c| c.fingerprint == now) {
                c.checked = Instant::now();
                c.writes = writes;
                return Ok(c.text.clone());
            }
        }
        let text = Arc::new(render(conn)?);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
            fingerprint: now,
            checked: Instant::now(),
            writes,
            text: text.clone(),
        });
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

    /// The catalogue JSON if it can be served without asking the database.
    pub fn fresh(&self) -> Option<Arc<String>> {
        self.json.fresh()
    }

    /// The public page if it can be served without asking the database.
    pub fn fresh_page(&self) -> Option<Arc<String>> {
        self.page.fresh()
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

/// A cached text as a response: no copy, written in one piece (Rocket's default would
/// write it in 4 KiB chunks).
pub struct CachedText(pub Arc<String>, pub ContentType);

struct Shared(Arc<String>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl<'r> Responder<'r, 'static> for CachedText {
    fn respond_to(self, _req: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        let len = self.0.len();
        rocket::Response::build()
            .header(self.1)
            .sized_body(len, std::io::Cursor::new(Shared(self.0)))
            .max_chunk_size(len.max(4096))
            .ok()
    }
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
