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

use super::{new_id, now, Page, Paged};
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
    let (waiting, failed) = unsent(conn)?;
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

/// Mail not sent yet (failed ones that are tried again included), and how much of it
/// failed at its last try: (unsent, failed), in one statement. For `/metrics`, the outbox
/// page and the clerk's start page.
pub fn unsent(conn: &mut DbConn) -> AppResult<(i64, i64)> {
    Ok(outbox::table
        .filter(outbox::sent_at.is_null())
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::count(outbox::last_error),
        ))
        .first(conn)?)
}

/// How many rows `query` matches, counted up to `cap`: `cap` + 1 means more than that.
/// First whether a row lies beyond the cap (one row comes back), only then the exact
/// count of at most `cap` rows.
fn counted_up_to(
    conn: &mut DbConn,
    query: impl Fn() -> outbox::BoxedQuery<'static, <DbConn as diesel::Connection>::Backend>,
    cap: i64,
) -> AppResult<i64> {
    let beyond = query()
        .select(outbox::id)
        .offset(cap)
        .limit(1)
        .load::<String>(conn)?;
    Ok(if beyond.is_empty() {
        query().count().get_result(conn)?
    } else {
        cap + 1
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

/// Where a mail stands, as the outbox page (`/post`) sorts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailState {
    /// Not sent, not tried yet or (after `Erneut senden`) due again without an error.
    Waiting,
    /// Not sent; the last try failed (the worker tries again after its back-off).
    Failed,
    Sent,
}

impl MailState {
    pub const ALL: [MailState; 3] = [MailState::Waiting, MailState::Failed, MailState::Sent];

    /// The word in the page's address (`/post?zustand=fehlgeschlagen`).
    pub fn key(self) -> &'static str {
        match self {
            MailState::Waiting => "wartend",
            MailState::Failed => "fehlgeschlagen",
            MailState::Sent => "versandt",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MailState::Waiting => "Wartend",
            MailState::Failed => "Fehlgeschlagen",
            MailState::Sent => "Versandt",
        }
    }

    pub fn parse(key: &str) -> Option<MailState> {
        MailState::ALL.into_iter().find(|s| s.key() == key)
    }

    fn of(row: &MailRow) -> MailState {
        match (&row.sent_at, &row.last_error) {
            (Some(_), _) => MailState::Sent,
            (None, Some(_)) => MailState::Failed,
            (None, None) => MailState::Waiting,
        }
    }
}

/// A mail as the outbox page lists it (no body: an invitation's body holds its one-time
/// link until it is sent).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = outbox)]
pub struct MailRow {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    pub attempts: i32,
    #[serde(with = "super::ts")]
    pub next_attempt_at: PrimitiveDateTime,
    #[serde(with = "super::ts::option")]
    pub locked_until: Option<PrimitiveDateTime>,
    #[serde(with = "super::ts::option")]
    pub sent_at: Option<PrimitiveDateTime>,
    pub last_error: Option<String>,
}

impl MailRow {
    pub fn state(&self) -> MailState {
        MailState::of(self)
    }

    /// Being sent right now: a worker holds its lease.
    pub fn in_delivery(&self) -> bool {
        self.sent_at.is_none() && self.locked_until.is_some_and(|t| t > now())
    }
}

/// Which mails the outbox page lists.
#[derive(Debug, Clone)]
pub struct MailFilter {
    pub state: MailState,
    /// One of [`mail::KINDS`], or all kinds.
    pub kind: Option<String>,
    /// Part of the recipient's address (addresses are kept in lower case).
    pub recipient: String,
}

/// One page of the mails that match: waiting ones in the order they are due, failed ones
/// oldest first (they wait longest), sent ones newest first.
/// The most the outbox page counts: the sent mail of a national installation runs into
/// millions, and counting them costs more than the page. Beyond it the page says "mehr
/// als 10.000" and its pages end there.
pub const COUNT_CAP: i64 = 10_000;

/// One page of the mails that match (see [`list_capped`]), counted up to [`COUNT_CAP`].
pub fn list(conn: &mut DbConn, filter: &MailFilter, page: Page) -> AppResult<Paged<MailRow>> {
    list_capped(conn, filter, page, COUNT_CAP)
}

/// One page of the mails that match, newest sent first etc.; `total` is exact up to `cap`
/// and `cap` + 1 beyond it ("more than `cap`").
pub fn list_capped(
    conn: &mut DbConn,
    filter: &MailFilter,
    page: Page,
    cap: i64,
) -> AppResult<Paged<MailRow>> {
    let query = || {
        let mut q = outbox::table.into_boxed();
        q = match filter.state {
            MailState::Waiting => q
                .filter(outbox::sent_at.is_null())
                .filter(outbox::last_error.is_null()),
            MailState::Failed => q
                .filter(outbox::sent_at.is_null())
                .filter(outbox::last_error.is_not_null()),
            MailState::Sent => q.filter(outbox::sent_at.is_not_null()),
        };
        if let Some(kind) = &filter.kind {
            q = q.filter(outbox::kind.eq(kind.clone()));
        }
        let recipient = filter.recipient.trim().to_lowercase();
        if !recipient.is_empty() {
            q = q.filter(
                outbox::recipient
                    .like(format!(
                        "%{}%",
                        super::municipality::escape_like(&recipient)
                    ))
                    .escape('\\'),
            );
        }
        q
    };
    let total = counted_up_to(conn, query, cap)?;
    let ordered = match filter.state {
        MailState::Waiting => query().order((outbox::next_attempt_at.asc(), outbox::id.asc())),
        MailState::Failed => query().order((outbox::created_at.asc(), outbox::id.asc())),
        MailState::Sent => query().order((outbox::sent_at.desc(), outbox::id.asc())),
    };
    let items = ordered
        .select(MailRow::as_select())
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    Ok(Paged {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// How many mails are in each state, in [`MailState::ALL`]'s order.
pub fn state_counts(conn: &mut DbConn) -> AppResult<[i64; 3]> {
    state_counts_capped(conn, COUNT_CAP)
}

/// [`state_counts`] with the sent mail counted up to `cap` (`cap` + 1: more than that).
/// The unsent ones are few (they are sent within minutes) and counted exactly.
pub fn state_counts_capped(conn: &mut DbConn, cap: i64) -> AppResult<[i64; 3]> {
    let (unsent, failed) = unsent(conn)?;
    let sent = counted_up_to(
        conn,
        || {
            outbox::table
                .filter(outbox::sent_at.is_not_null())
                .into_boxed()
        },
        cap,
    )?;
    Ok([unsent - failed, failed, sent])
}

/// One mail for the outbox page.
pub fn find(conn: &mut DbConn, id: &str) -> AppResult<MailRow> {
    outbox::table
        .find(id)
        .select(MailRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| crate::error::AppError::not_found("Diese E-Mail gibt es nicht."))
}
