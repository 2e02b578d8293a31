//! The public catalogue of services offered (available or coming soon), for other
//! Länder's intermediaries and anybody else: `GET /api/v1/catalog` and `/katalog`.
//!
//! The catalogue is read far more often than it changes, so its JSON (and the public HTML
//! page) is kept in memory and served without touching the database:
//!
//! - a write to services or organisations in this process makes the next request look
//!   again (`CatalogCache::changed`, called by the handlers that write);
//! - otherwise the database is asked at most once per `RECHECK` whether anything changed
//!   (another instance may have written): the change counters of services and
//!   organisations (`store::data_version`, bumped by triggers on every write). Only a
//!   changed counter renders the catalogue again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::db::DbConn;
use crate::error::AppResult;
use crate::store::service::{Service, ServiceView};

#[derive(Serialize)]
pub struct Catalog {
    pub kommunalvertreter: &'static str,
    pub services: Vec<ServiceView>,
}

/// The change counters of services and organisations.
type Fingerprint = [i64; 2];

/// The last rendered catalogue and the fingerprint it was rendered at: the JSON, and the
/// public HTML page (`web::katalog`).
#[derive(Default)]
pub struct CatalogCache {
    json: Slot,
    page: Slot,
    /// Writes to services or organisations this instance made (`changed`).
    writes: AtomicU64,
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
    fn fresh(&self, writes: u64) -> Option<Arc<String>> {
        let slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref()
            .filter(|c| c.checked.elapsed() < RECHECK && c.writes == writes)
            .map(|c| c.text.clone())
    }

    fn get(
        &self,
        conn: &mut DbConn,
        writes: u64,
        render: impl FnOnce(&mut DbConn) -> AppResult<String>,
    ) -> AppResult<Arc<String>> {
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
    use crate::store::data_version::{current, ORGANISATIONS, SERVICES};
    current(conn, [SERVICES, ORGANISATIONS])
}

/// The catalogue: services available or coming soon, with their operators.
pub fn catalog(conn: &mut DbConn) -> AppResult<Catalog> {
    let services = Service::list_with_operator(conn, true)?
        .iter()
        .map(|(s, op)| {
            // Where d-NRW's knowledge comes from is for staff (the services API), not
            // for the public catalogue.
            s.view(op.as_deref()).map(|mut v| {
                v.source = None;
                v
            })
        })
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
        self.json.get(conn, self.writes(), render)
    }

    /// Notes a write to services or organisations by this instance (call after it is
    /// committed), so the next request looks at the database again.
    pub fn changed(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// The catalogue JSON if it can be served without asking the database.
    pub fn fresh(&self) -> Option<Arc<String>> {
        self.json.fresh(self.writes())
    }

    /// The public page if it can be served without asking the database.
    pub fn fresh_page(&self) -> Option<Arc<String>> {
        self.page.fresh(self.writes())
    }

    /// The public catalogue page, rendered by `render` only when the data changed.
    pub fn page(
        &self,
        conn: &mut DbConn,
        render: impl FnOnce(&mut DbConn) -> AppResult<String>,
    ) -> AppResult<Arc<String>> {
        self.page.get(conn, self.writes(), render)
    }
}
