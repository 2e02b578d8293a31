//! The background work of an instance: the outbox worker and the reminder loop.

use crate::config::JobSettings;
use crate::db::Db;
use crate::domain::signing::SigningOrder;

/// The application's background work: the outbox worker (every
/// `mail_worker_interval_secs`) and the reminder job (every `reminder_interval_secs`),
/// each on the blocking pool. Several instances may run them against one database: the
/// outbox claims with a lease and reminders are recorded once per occasion.
pub struct Background {
    pub db: Db,
    pub mailer: crate::mail::Mailer,
    /// The sender of the mails.
    pub from: String,
    pub settings: JobSettings,
    pub order: SigningOrder,
}

/// What the shutdown needs of the running background loop.
#[derive(Clone, Default)]
pub struct Stopper {
    inner: std::sync::Arc<StopperInner>,
}

#[derive(Default)]
struct StopperInner {
    stop: std::sync::atomic::AtomicBool,
    wake: rocket::tokio::sync::Notify,
    /// The loop's task, once started.
    task: std::sync::Mutex<Option<rocket::tokio::task::JoinHandle<()>>>,
    /// The outbox worker's name (its leases carry it), once started.
    worker: std::sync::Mutex<Option<String>>,
}

impl Stopper {
    /// Whether the instance is shutting down.
    pub fn stopping(&self) -> bool {
        self.inner.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops the loop: no new round, and no further mail claimed in the running one (the
    /// mail being sent is finished); waits for the round at most `bound`, then gives back
    /// the leases this instance's worker still holds, so another instance sends those
    /// mails without waiting for the lease to run out. A send still running after
    /// `bound` may then be repeated by another instance (same Message-ID).
    pub async fn stop(&self, db: &Db, bound: std::time::Duration) -> StopReport {
        self.inner
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // One waiter (the loop); a permit is kept if it is in the middle of a round, so its
        // next wait ends at once instead of after the interval.
        self.inner.wake.notify_one();
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let finished = match task {
            Some(task) => rocket::tokio::time::timeout(bound, task).await.is_ok(),
            None => true,
        };
        let worker = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let released = match worker {
            Some(worker) => {
                let db = db.clone();
                rocket::tokio::task::spawn_blocking(move || {
                    db.write_blocking(|conn| crate::actions::outbox::release(conn, &worker))
                })
                .await
                .unwrap_or_else(|e| {
                    Err(crate::error::AppError::internal(format!(
                        "release task failed: {e}"
                    )))
                })
            }
            None => Ok(0),
        };
        StopReport { finished, released }
    }
}

/// How the background work ended.
#[derive(Debug)]
pub struct StopReport {
    /// The running round ended within the bound.
    pub finished: bool,
    /// Leases given back (mails claimed and not sent).
    pub released: crate::error::AppResult<usize>,
}

impl Background {
    /// Starts the loop on the async runtime (nothing when both intervals are 0); `stopper`
    /// ends it (`Stopper::stop`, at shutdown).
    pub fn spawn(self, stopper: Stopper) {
        let every = self.settings.mail_worker_interval_secs;
        let remind_every = self.settings.reminder_interval_secs;
        if every == 0 && remind_every == 0 {
            return;
        }
        let worker = format!("{}-{}", std::process::id(), crate::store::random_hex(4));
        *stopper
            .inner
            .worker
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(worker.clone());
        // The shorter of the two intervals that are on (with reminders off, the loop ran
        // every second whatever the mail interval said).
        let tick = std::time::Duration::from_secs(match (every, remind_every) {
            (0, r) => r,
            (e, 0) => e,
            (e, r) => e.min(r),
        });
        let stop = stopper.clone();
        let task = rocket::tokio::spawn(async move {
            let mut last_reminders: Option<std::time::Instant> = None;
            while !stop.stopping() {
                let due_reminders = remind_every > 0
                    && last_reminders.is_none_or(|t| t.elapsed().as_secs() >= remind_every);
                if due_reminders {
                    last_reminders = Some(std::time::Instant::now());
                    let (db, s, order) = (self.db.clone(), self.settings.clone(), self.order);
                    let run = rocket::tokio::task::spawn_blocking(move || {
                        db.write_blocking(|conn| {
                            crate::actions::reminders::run_today(
                                conn,
                                crate::actions::reminders::ReminderSettings {
                                    signature_days: s.signature_reminder_days,
                                    certificate_days: s.certificate_warning_days,
                                    order,
                                },
                            )
                        })
                    })
                    .await;
                    crate::metrics::METRICS.reminder_runs.inc();
                    if !matches!(run, Ok(Ok(_))) {
                        crate::metrics::METRICS.reminder_errors.inc();
                    }
                    if let Ok(Err(e)) = run {
                        log::error!("reminder job: {}", e.message);
                    }
                }
                if every > 0 && !stop.stopping() {
                    let (db, mailer) = (self.db.clone(), self.mailer.clone());
                    let (from, me) = (self.from.clone(), worker.clone());
                    let halt = stop.clone();
                    let run = rocket::tokio::task::spawn_blocking(move || {
                        crate::actions::outbox::deliver_due_until(
                            &db,
                            &mailer,
                            &from,
                            &me,
                            crate::actions::outbox::LEASE_SECS,
                            &|| halt.stopping(),
                        )
                    })
                    .await;
                    if let Ok(Err(e)) = run {
                        log::error!("outbox worker: {}", e.message);
                    }
                }
                rocket::tokio::select! {
                    _ = rocket::tokio::time::sleep(tick) => {}
                    _ = stop.inner.wake.notified() => {}
                }
            }
        });
        *stopper.inner.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }
}
