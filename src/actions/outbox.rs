//! The outbox worker: claims one due mail at a time under a lease, sends it and marks
//! it; failed sends are retried with back-off. Several instances may run it together.

use diesel::prelude::*;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::outbox;
use crate::db::{Db, DbConn};
use crate::error::{AppError, AppResult};
use crate::mail::{Mailer, Outgoing};
use crate::store::now;
use crate::store::outbox::{MailRow, MailState, OutboxRow};

/// How long a claimed mail is reserved for the worker that claimed it. A worker claims
/// one mail at a time, and one send is bounded by the SMTP timeout of each of its round
/// trips (connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, message, QUIT: at most
/// ten), so a live worker always finishes a mail well within its lease and no other
/// instance takes it over.
pub const LEASE_SECS: i64 = 300;

/// A round stops after this many failed sends in a row (the server is down: wait for the
/// next round instead of walking the whole outbox).
pub const FAILURES_PER_ROUND: usize = 3;

const _: () = assert!(10 * crate::mail::SMTP_TIMEOUT_SECS < LEASE_SECS as u64);

/// Claims up to `limit` due mails for `worker` for `lease_secs` and returns them.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    limit: i64,
    lease_secs: i64,
) -> AppResult<Vec<OutboxRow>> {
    let t = now();
    let until = t + Duration::seconds(lease_secs);
    match conn {
        DbConn::Postgres(pg) => {
            use diesel::sql_types::{BigInt, Text, Timestamp};
            // Concurrent workers skip the rows another one has locked.
            Ok(diesel::sql_query(
                "UPDATE outbox SET locked_until = $1, locked_by = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $3 \
                   AND (locked_until IS NULL OR locked_until < $3) \
                   ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING *",
            )
            .bind::<Timestamp, _>(until)
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(t)
            .bind::<BigInt, _>(limit)
            .load::<OutboxRow>(pg)?)
        }
        DbConn::Sqlite(lite) => {
            use diesel::sql_types::{BigInt, Text, Timestamp};
            // The claim is the transaction's first statement and a write, so a second
            // process waits for the write lock (busy timeout) instead of failing on it.
            diesel::sql_query(
                "UPDATE outbox SET locked_until = ?, locked_by = ?, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ? \
                   AND (locked_until IS NULL OR locked_until < ?) ORDER BY created_at LIMIT ?)",
            )
            .bind::<Timestamp, _>(until)
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(t)
            .bind::<Timestamp, _>(t)
            .bind::<BigInt, _>(limit)
            .execute(lite)?;
            Ok(outbox::table
                .filter(outbox::locked_by.eq(worker))
                .filter(outbox::locked_until.eq(until))
                .filter(outbox::sent_at.is_null())
                .order(outbox::created_at)
                .select(OutboxRow::as_select())
                .load(conn)?)
        }
    }
}

/// Seconds until the next try after `attempts` failed ones: 30 s, doubling, at most 1 h.
pub fn backoff_secs(attempts: i32) -> i64 {
    let exp = attempts.clamp(1, 12) as u32 - 1;
    (30i64 << exp).min(3600)
}

/// What a sent mail with a one-time link keeps of its body.
pub const SENT_SECRET: &str = "(versandt; der einmalige Link wird nicht aufbewahrt)";

fn finish(db: &Db, worker: &str, row: &OutboxRow, result: Result<(), String>) -> AppResult<()> {
    let (id, worker) = (row.id.clone(), worker.to_string());
    let attempts = row.attempts;
    db.write_blocking(move |conn| {
        let mine = outbox::table
            .filter(outbox::id.eq(&id))
            .filter(outbox::locked_by.eq(&worker))
            .filter(outbox::sent_at.is_null());
        match result {
            Ok(()) => {
                let n = diesel::update(mine)
                    .set((
                        outbox::sent_at.eq(now()),
                        outbox::locked_until.eq(None::<PrimitiveDateTime>),
                        outbox::last_error.eq(None::<String>),
                    ))
                    .execute(conn)?;
                // A mail with a one-time link keeps no copy of the link once it is sent.
                diesel::update(
                    outbox::table
                        .filter(outbox::id.eq(&id))
                        .filter(outbox::kind.eq(crate::actions::invitation::MAIL_KIND)),
                )
                .set((
                    outbox::body_text.eq(SENT_SECRET),
                    outbox::body_html.eq(SENT_SECRET),
                ))
                .execute(conn)?;
                n
            }
            Err(e) => diesel::update(mine)
                .set((
                    outbox::next_attempt_at.eq(now() + Duration::seconds(backoff_secs(attempts))),
                    outbox::locked_until.eq(None::<PrimitiveDateTime>),
                    outbox::last_error.eq(e.chars().take(500).collect::<String>()),
                ))
                .execute(conn)?,
        };
        Ok(())
    })
}

/// What one round of the worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    pub failed: usize,
}

/// One round of the worker: claims one due mail at a time (lease `lease_secs`, normally
/// [`LEASE_SECS`]), sends it and marks it, until none is due or [`FAILURES_PER_ROUND`]
/// sends in a row failed.
pub fn deliver_due(
    db: &Db,
    mailer: &Mailer,
    from: &str,
    worker: &str,
    lease_secs: i64,
) -> AppResult<Delivery> {
    deliver_due_until(db, mailer, from, worker, lease_secs, &|| false)
}

/// [`deliver_due`], claiming no further mail once `stop` says so (the instance shuts
/// down: the mail being sent is finished and marked).
pub fn deliver_due_until(
    db: &Db,
    mailer: &Mailer,
    from: &str,
    worker: &str,
    lease_secs: i64,
    stop: &dyn Fn() -> bool,
) -> AppResult<Delivery> {
    let mut total = Delivery::default();
    let mut failed_in_a_row = 0;
    while failed_in_a_row < FAILURES_PER_ROUND && !stop() {
        let rows = db.write_blocking(|conn| claim(conn, worker, 1, lease_secs))?;
        let Some(row) = rows.first() else {
            break;
        };
        let result = mailer.send(
            from,
            &Outgoing {
                recipient: &row.recipient,
                subject: &row.subject,
                text: &row.body_text,
                html: &row.body_html,
                message_id: &row.message_id,
            },
        );
        if result.is_ok() {
            total.sent += 1;
            failed_in_a_row = 0;
        } else {
            total.failed += 1;
            failed_in_a_row += 1;
            log::warn!(
                "mail {} to {} not sent: {:?}",
                row.id,
                row.recipient,
                result
            );
        }
        finish(db, worker, row, result)?;
    }
    Ok(total)
}

/// Gives back the leases `worker` holds on mails it has not sent (at shutdown): another
/// instance's worker may claim them at once. Their attempts stay counted.
pub fn release(conn: &mut DbConn, worker: &str) -> AppResult<usize> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::locked_by.eq(worker))
            .filter(outbox::sent_at.is_null()),
    )
    .set((
        outbox::locked_until.eq(None::<PrimitiveDateTime>),
        outbox::locked_by.eq(None::<String>),
    ))
    .execute(conn)?)
}

/// "Erneut senden": a failed mail is due again now (its attempts and last error stay
/// until the next try, which the worker makes on its next round), recorded in the audit
/// log with who asked. Refused for a mail that was sent, has not failed, or is being sent
/// right now.
pub fn retry(conn: &mut DbConn, id: &str, actor: &str) -> AppResult<MailRow> {
    conn.transaction(|conn| {
        let before = crate::store::outbox::find(conn, id)?;
        match before.state() {
            MailState::Sent => {
                return Err(AppError::conflict("Diese E-Mail wurde bereits versandt."))
            }
            MailState::Waiting => {
                return Err(AppError::conflict(
                    "Diese E-Mail ist nicht fehlgeschlagen; sie wartet auf den Versand.",
                ))
            }
            MailState::Failed if before.in_delivery() => {
                return Err(AppError::conflict(
                    "Diese E-Mail wird gerade versandt; bitte laden Sie die Seite gleich neu.",
                ))
            }
            MailState::Failed => {}
        }
        let t = now();
        let changed = diesel::update(
            outbox::table
                .filter(outbox::id.eq(id))
                .filter(outbox::sent_at.is_null())
                .filter(
                    outbox::locked_until
                        .is_null()
                        .or(outbox::locked_until.le(t)),
                ),
        )
        .set(outbox::next_attempt_at.eq(t))
        .execute(conn)?;
        if changed == 0 {
            return Err(AppError::conflict(
                "Diese E-Mail wurde inzwischen versandt oder wird gerade versandt.",
            ));
        }
        crate::store::audit::record(
            conn,
            crate::store::audit::Change {
                actor,
                action: "mail_retry",
                entity_type: "outbox",
                entity_id: id,
                before: Some(serde_json::json!({
                    "next_attempt_at": crate::store::timestamp(before.next_attempt_at),
                    "attempts": before.attempts,
                    "last_error": before.last_error,
                })),
                after: Some(serde_json::json!({
                    "next_attempt_at": crate::store::timestamp(t),
                })),
                note: Some(format!("„{}“ an {}", before.subject, before.recipient)),
            },
        )?;
        crate::store::outbox::find(conn, id)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_from_thirty_seconds_to_an_hour() {
        let b: Vec<i64> = (1..=9).map(super::backoff_secs).collect();
        assert_eq!(b, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
