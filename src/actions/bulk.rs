//! `nachnutzung documents render --service <id>`: seals the documents of every signed or
//! in-force Einzelabruf of one service that has none yet, on all cores. Each worker
//! reads (prepare), renders and seals (produce) and stores on its own; storing is
//! idempotent, so a second run (or one that was interrupted) only does what is missing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use diesel::prelude::*;

use crate::db::schema::{agreements, documents};
use crate::db::{Db, DbConn};
use crate::domain::signing::SigningOrder;
use crate::domain::{AgreementKind, Status};
use crate::error::{AppError, AppResult};
use crate::seal::Sealer;
use crate::store::agreement::Agreement;
use crate::store::service::Service;

/// What a bulk run did.
#[derive(Debug, Clone, Default)]
pub struct BulkReport {
    pub service: String,
    /// EAs of the service that are signed or in force.
    pub eligible: usize,
    /// Documents sealed in this run.
    pub sealed: usize,
    /// Already had a document.
    pub skipped: usize,
    pub seconds: f64,
    pub threads: usize,
}

/// The service named by id or by (a unique part of) its name.
pub fn find_service(conn: &mut DbConn, key: &str) -> AppResult<Service> {
    if let Ok(s) = Service::find(conn, key) {
        return Ok(s);
    }
    let needle = key.to_lowercase();
    let matches: Vec<Service> = Service::list_with_operator(conn, false)?
        .into_iter()
        .map(|(s, _)| s)
        .filter(|s| s.name.to_lowercase().contains(&needle))
        .collect();
    match matches.len() {
        0 => Err(AppError::not_found(format!(
            "Keinen Dienst „{key}“ gefunden."
        ))),
        1 => Ok(matches.into_iter().next().expect("one match")),
        n => Err(AppError::bad_request(format!(
            "„{key}“ passt auf {n} Dienste: {}. Bitte genauer oder mit Id.",
            matches
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}

/// Seals the missing EA documents of `service_id` with `threads` workers. `progress`
/// is called after each document with (done, total).
pub fn render_service(
    db: &Db,
    sealer: &Sealer,
    order: SigningOrder,
    service_key: &str,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> AppResult<BulkReport> {
    let started = Instant::now();
    let (service, eligible, todo) = db.read_blocking(|conn| {
        let service = find_service(conn, service_key)?;
        let ids: Vec<(String, i32)> = agreements::table
            .filter(agreements::kind.eq(AgreementKind::Ea))
            .filter(agreements::service_id.eq(&service.id))
            .filter(agreements::status.eq_any([Status::Signed, Status::InForce]))
            .select((agreements::id, agreements::current_version))
            .order(agreements::reference)
            .load(conn)?;
        let sealed: Vec<(String, i32)> = documents::table
            .inner_join(agreements::table)
            .filter(agreements::service_id.eq(&service.id))
            .select((documents::agreement_id, documents::version_no))
            .load(conn)?;
        let eligible = ids.len();
        let todo: Vec<String> = ids
            .into_iter()
            .filter(|k| !sealed.contains(k))
            .map(|(id, _)| id)
            .collect();
        Ok((service, eligible, todo))
    })?;
    let total = todo.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let first_error: Mutex<Option<AppError>> = Mutex::new(None);
    let threads = threads.clamp(1, 64).min(total.max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = todo.get(i) else { break };
                let result = db
                    .read_blocking(|conn| {
                        let a = Agreement::find(conn, id)?;
                        let no = a.current_version;
                        crate::actions::documents::prepare(conn, order, &a, no)
                    })
                    .and_then(|prepared| crate::actions::documents::produce(prepared, sealer))
                    .and_then(|doc| {
                        db.write_blocking(|conn| {
                            crate::actions::documents::store(conn, "bulk", doc)
                        })
                    });
                if let Err(e) = result {
                    let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert(e);
                    // Stop handing out work; the others finish what they hold.
                    next.store(todo.len(), Ordering::Relaxed);
                    break;
                }
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(BulkReport {
        service: service.name,
        eligible,
        sealed: done.into_inner(),
        skipped: eligible - total,
        seconds: started.elapsed().as_secs_f64(),
        threads,
    })
}
