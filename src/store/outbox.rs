//! The mail outbox. A mail is rendered and written here in the transaction of the event
//! that causes it (so it exists exactly when the event does), then sent by the worker
//! (`actions::outbox`):
//! claimed with a lease (`locked_until`; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so
//! several instances never take the same row), sent, and marked sent. A failed send is
//! retried with backoff (30 s doubling up to an hour), never dropped: SMTP down means
//! delayed, not lost. A worker that dies after sending but before marking leaves the row
//! to be sent again once its lease ends (the Message-ID stays the same).

use diesel::prelude::*;
use serde_json::Value;
use time::PrimitiveDateTime;

use super::{new_id, now};
use crate::db::schema::outbox;
use crate::db::DbConn;
use crate::error::AppResult;
use crate::mail;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub message_id: String,
    pub created_at: PrimitiveDateTime,
    pub attempts: i32,
    pub next_attempt_at: PrimitiveDateTime,
    pub locked_until: Option<PrimitiveDateTime>,
    pub locked_by: Option<String>,
    pub sent_at: Option<PrimitiveDateTime>,
    pub last_error: Option<String>,
}

/// Renders mail `kind` with `context` once and queues it for each recipient (duplicates
/// and empty addresses dropped). Call inside the event's transaction.
pub fn enqueue(
    conn: &mut DbConn,
    kind: &str,
    recipients: &[String],
    context: &Value,
) -> AppResult<usize> {
    let mut to: Vec<String> = recipients
        .iter()
        .map(|r| r.trim().to_lowercase())
        .filter(|r| r.contains('@'))
        .collect();
    to.sort();
    to.dedup();
    if to.is_empty() {
        return Ok(0);
    }
    let r = mail::render(kind, context)?;
    let t = now();
    let rows: Vec<OutboxRow> = to
        .into_iter()
        .map(|recipient| {
            let id = new_id();
            OutboxRow {
                message_id: format!("<{id}@nachnutzungsregister.d-nrw.de>"),
                id,
                kind: kind.to_string(),
                recipient,
                subject: r.subject.clone(),
                body_text: r.text.clone(),
                body_html: r.html.clone(),
                created_at: t,
                attempts: 0,
                next_attempt_at: t,
                locked_until: None,
                locked_by: None,
                sent_at: None,
                last_error: None,
            }
        })
        .collect();
    crate::insert_batch!(conn, outbox::table, &rows)?;
    Ok(rows.len())
}

/// How the outbox stands, for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Health {
    /// Not sent yet (failed ones that are tried again included).
    pub waiting: i64,
    /// Not sent, and the last try failed.
    pub failed: i64,
    /// Seconds since the oldest waiting mail was written (0 when none waits).
    pub oldest_age_seconds: i64,
}

pub fn health(conn: &mut DbConn) -> AppResult<Health> {
    let waiting = outbox::table
        .filter(outbox::sent_at.is_null())
        .count()
        .get_result(conn)?;
    let failed = outbox::table
        .filter(outbox::sent_at.is_null())
        .filter(outbox::last_error.is_not_null())
        .count()
        .get_result(conn)?;
    let oldest: Option<PrimitiveDateTime> = outbox::table
        .filter(outbox::sent_at.is_null())
        .select(diesel::dsl::min(outbox::created_at))
        .first(conn)?;
    Ok(Health {
        waiting,
        failed,
        oldest_age_seconds: oldest.map_or(0, |t| (now() - t).whole_seconds().max(0)),
    })
}

/// Counts of the outbox: (waiting, sent).
pub fn counts(conn: &mut DbConn) -> AppResult<(i64, i64)> {
    let waiting = outbox::table
        .filter(outbox::sent_at.is_null())
        .count()
        .get_result(conn)?;
    let sent = outbox::table
        .filter(outbox::sent_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok((waiting, sent))
}
