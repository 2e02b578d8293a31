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

impl Background {
    /// Starts the loop on the async runtime (nothing when both intervals are 0).
    pub fn spawn(self) {
        let every = self.settings.mail_worker_interval_secs;
        let remind_every = self.settings.reminder_interval_secs;
        if every == 0 && remind_every == 0 {
            return;
        }
        let worker = format!("{}-{}", std::process::id(), crate::store::random_hex(4));
        let tick = std::time::Duration::from_secs(if every == 0 {
            remind_every
        } else {
            every.min(remind_every.max(1))
        });
        rocket::tokio::spawn(async move {
            let mut last_reminders: Option<std::time::Instant> = None;
            loop {
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
                if every > 0 {
                    let (db, mailer) = (self.db.clone(), self.mailer.clone());
                    let (from, me) = (self.from.clone(), worker.clone());
                    let run = rocket::tokio::task::spawn_blocking(move || {
                        crate::actions::outbox::deliver_due(
                            &db,
                            &mailer,
                            &from,
                            &me,
                            crate::actions::outbox::LEASE_SECS,
                        )
                    })
                    .await;
                    if let Ok(Err(e)) = run {
                        log::error!("outbox worker: {}", e.message);
                    }
                }
                rocket::tokio::time::sleep(tick).await;
            }
        });
    }
}
