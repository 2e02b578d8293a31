//! What a d-NRW clerk has to do today, most urgent first: the start page's to-do list.
//! Each list is a bounded, indexed query (a count and the first few items), so the page
//! stays fast with a million Einzelabrufe.

use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::collections::HashMap;

use serde::Serialize;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::{agreement_versions, agreements, attachments, outbox, users};
use crate::db::DbConn;
use crate::domain::golive::TaskStatus;
use crate::domain::signing::SigningOrder;
use crate::domain::{AgreementKind, Direction, Status};
use crate::error::AppResult;
use crate::store::agreement::{Agreement, AgreementView};
use crate::store::task::{TaskFilter, TaskView};
use crate::store::{now, Scope};

/// How many items each list shows (the count says how many there are).
pub const SHOWN: i64 = 8;

/// Certificates that end within this many days are listed.
pub const CERTIFICATE_DAYS: i64 = 60;

/// Agreements waiting this many days for the other side are listed.
pub const WAITING_DAYS: i64 = 7;

/// One list: how many there are, and the first [`SHOWN`].
#[derive(Debug, Serialize)]
pub struct List<T> {
    /// How many there are, at most `COUNT_CAP` + 1 for the lists that can be long.
    pub total: i64,
    /// More than `COUNT_CAP`: the page says "mehr als 100".
    pub more: bool,
    pub items: Vec<T>,
}

/// The most a to-do list counts (at national scale 30,000 agreements can wait for
/// signatures; counting them all would cost more than the page, and beyond a hundred the
/// list behind the link, with its own count and filters, is where the work is planned).
pub const COUNT_CAP: i64 = 100;

impl<T> List<T> {
    fn new(total: i64, items: Vec<T>) -> List<T> {
        List {
            total: total.min(COUNT_CAP),
            more: total > COUNT_CAP,
            items,
        }
    }
}

/// A DVDV certificate that is about to end.
#[derive(Debug, Serialize)]
pub struct ExpiringCertificate {
    pub agreement: AgreementView,
    #[serde(with = "crate::store::ts")]
    pub expires_at: PrimitiveDateTime,
}

/// A mail that could not be sent (yet).
#[derive(Debug, Serialize, Queryable)]
pub struct FailedMail {
    pub recipient: String,
    pub subject: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[serde(with = "crate::store::ts")]
    pub created_at: PrimitiveDateTime,
}

/// The clerk's to-dos, in the order the page shows them.
#[derive(Debug, Serialize)]
pub struct ClerkTodos {
    pub overdue_tasks: List<TaskView>,
    pub signatures_due: List<AgreementView>,
    pub failed_mail: List<FailedMail>,
    pub certificates: List<ExpiringCertificate>,
    pub blocked_tasks: List<TaskView>,
    pub to_activate: List<AgreementView>,
    pub waiting_for_partner: List<AgreementView>,
    pub new_einzelabrufe: List<AgreementView>,
    /// Other Länder's requests to re-use an NRW service: outbound EKV drafts.
    pub ekv_requests: List<AgreementView>,
    /// Mail not sent yet and not failed (the outbox's "Wartend").
    pub waiting_mail: i64,
}

/// The ids of one list (at most `COUNT_CAP` + 1, in the order shown), before their views
/// are read: all lists' shown agreements are read together (`Agreement::views` once, not
/// a handful of statements per list).
struct Ids(Vec<String>);

impl Ids {
    fn shown(&self) -> &[String] {
        &self.0[..self.0.len().min(SHOWN as usize)]
    }

    /// The list: the number of ids and the first [`SHOWN`] views.
    fn list(self, views: &HashMap<String, AgreementView>) -> List<AgreementView> {
        let items = self
            .shown()
            .iter()
            .filter_map(|id| views.get(id).cloned())
            .collect();
        List::new(self.0.len() as i64, items)
    }
}

/// The views of the agreements the lists show, by id: one read for all lists.
fn views_of(conn: &mut DbConn, lists: &[&[String]]) -> AppResult<HashMap<String, AgreementView>> {
    let mut ids: Vec<String> = lists.iter().flat_map(|l| l.iter().cloned()).collect();
    ids.sort();
    ids.dedup();
    Ok(Agreement::views(conn, &ids)?
        .into_iter()
        .map(|v| (v.id.clone(), v))
        .collect())
}

/// Everything on a clerk's start page.
pub fn clerk(conn: &mut DbConn, order: SigningOrder) -> AppResult<ClerkTodos> {
    let tasks = |conn: &mut DbConn, filter: TaskFilter| -> AppResult<List<TaskView>> {
        let (total, items) =
            crate::store::task::first(conn, &Scope::All, &filter, SHOWN, COUNT_CAP)?;
        Ok(List::new(total, items))
    };
    let overdue_tasks = tasks(
        conn,
        TaskFilter {
            overdue: true,
            ..TaskFilter::default()
        },
    )?;
    let blocked_tasks = tasks(
        conn,
        TaskFilter {
            status: Some(TaskStatus::Blocked),
            ..TaskFilter::default()
        },
    )?;

    // Waiting for d-NRW's signature now: d-NRW has not signed the version at signature,
    // and (partner first) the partner has. Oldest submission first. Who signed a version
    // is kept on its row (`actions::sign`): partner first, the few versions the partner
    // signed and d-NRW not are read from their index; otherwise the awaiting agreements
    // in order until COUNT_CAP + 1 are found (nearly all of them match).
    let awaiting = agreements::status.eq(Status::AwaitingSignatures.as_str());
    let current = agreements::table.inner_join(
        agreement_versions::table.on(agreement_versions::agreement_id
            .eq(agreements::id)
            .and(agreement_versions::version_no.eq(agreements::current_version))),
    );
    let due = current
        .filter(awaiting)
        .filter(agreement_versions::dnrw_signed.eq(false))
        .into_boxed();
    let due = if order == SigningOrder::PartnerFirst {
        due.filter(agreement_versions::partner_signed.eq(true))
    } else {
        due
    };
    let signatures_due = Ids(due
        .order(agreements::submitted_at.asc())
        .select(agreements::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?);

    // Waiting for the other side for more than WAITING_DAYS days.
    let before = now() - Duration::days(WAITING_DAYS);
    let waiting_for_partner = Ids(current
        .filter(awaiting)
        .filter(agreements::submitted_at.lt(before))
        .filter(agreement_versions::partner_signed.eq(false))
        .order(agreements::submitted_at.asc())
        .select(agreements::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?);

    // Signed, not in force (a precondition failed, or a later day was set).
    let to_activate = Ids(agreements::table
        .filter(agreements::status.eq(Status::Signed.as_str()))
        .order(agreements::signed_on.asc())
        .select(agreements::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?);

    // Einzelabrufe filed in the last two weeks that still wait for signatures.
    let since = now() - Duration::days(14);
    let new_einzelabrufe = Ids(agreements::table
        .filter(agreements::kind.eq(AgreementKind::Ea))
        .filter(awaiting)
        .filter(agreements::submitted_at.ge(since))
        .order(agreements::submitted_at.desc())
        .select(agreements::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?);

    // Other Länder's requests to re-use NRW services (`actions::reuse`): outbound EKV
    // drafts an intermediary's user made, oldest first, until d-NRW puts them to
    // signature (d-NRW's own drafts are its own work, not a request).
    // (`'user:' || email` with the prefix bound, not as literal SQL, so that the statement
    // is prepared once per connection.)
    let intermediaries = users::table
        .filter(users::role.eq("intermediary"))
        .select("user:".into_sql::<Text>().concat(users::email));
    let ekv_requests = Ids(agreements::table
        .filter(agreements::kind.eq(AgreementKind::Ekv))
        .filter(agreements::status.eq(Status::Draft.as_str()))
        .filter(agreements::direction.eq(Direction::Outbound.as_str()))
        .filter(agreements::created_by.eq_any(intermediaries))
        .order(agreements::created_at.asc())
        .select(agreements::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?);

    // The newest DVDV certificate of a running Einzelabruf ending within 60 days.
    let limit = now() + Duration::days(CERTIFICATE_DAYS);
    let newer = diesel::alias!(attachments as newer);
    let mut cert_rows: Vec<(String, Option<PrimitiveDateTime>)> = attachments::table
        .inner_join(agreements::table)
        .filter(attachments::kind.eq("dvdv_certificate"))
        .filter(attachments::expires_at.le(limit))
        .filter(agreements::status.eq_any([Status::Signed.as_str(), Status::InForce.as_str()]))
        .filter(not(exists(
            newer
                .filter(
                    newer
                        .field(attachments::agreement_id)
                        .eq(attachments::agreement_id),
                )
                .filter(newer.field(attachments::kind).eq("dvdv_certificate"))
                .filter(
                    newer
                        .field(attachments::created_at)
                        .gt(attachments::created_at),
                ),
        )))
        .order(attachments::expires_at.asc())
        .limit(COUNT_CAP + 1)
        .select((attachments::agreement_id, attachments::expires_at))
        .load(conn)?;
    let cert_total = cert_rows.len() as i64;
    cert_rows.truncate(SHOWN as usize);
    let cert_ids: Vec<String> = cert_rows.iter().map(|(id, _)| id.clone()).collect();
    let views = views_of(
        conn,
        &[
            signatures_due.shown(),
            waiting_for_partner.shown(),
            to_activate.shown(),
            new_einzelabrufe.shown(),
            ekv_requests.shown(),
            &cert_ids,
        ],
    )?;
    let certificates = cert_rows
        .into_iter()
        .filter_map(|(id, expires_at)| {
            Some(ExpiringCertificate {
                agreement: views.get(&id)?.clone(),
                expires_at: expires_at?,
            })
        })
        .collect();

    // Mail not sent yet, and how much of it failed at its last try (one statement); the
    // failed ones, oldest first.
    let (unsent, failed_total) = crate::store::outbox::unsent(conn)?;
    let waiting_mail = unsent - failed_total;
    let failed_rows = if failed_total == 0 {
        Vec::new()
    } else {
        outbox::table
            .filter(outbox::sent_at.is_null())
            .filter(outbox::last_error.is_not_null())
            .order(outbox::created_at.asc())
            .limit(SHOWN)
            .select((
                outbox::recipient,
                outbox::subject,
                outbox::attempts,
                outbox::last_error,
                outbox::created_at,
            ))
            .load::<FailedMail>(conn)?
    };

    Ok(ClerkTodos {
        overdue_tasks,
        signatures_due: signatures_due.list(&views),
        failed_mail: List::new(failed_total, failed_rows),
        certificates: List::new(cert_total, certificates),
        blocked_tasks,
        to_activate: to_activate.list(&views),
        waiting_for_partner: waiting_for_partner.list(&views),
        new_einzelabrufe: new_einzelabrufe.list(&views),
        ekv_requests: ekv_requests.list(&views),
        waiting_mail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_says_more_than_the_cap_instead_of_counting_on() {
        let short = List::new(7, vec![1, 2, 3]);
        assert_eq!((short.total, short.more), (7, false));
        let exact = List::new(COUNT_CAP, Vec::<u8>::new());
        assert_eq!((exact.total, exact.more), (COUNT_CAP, false));
        let long = List::new(COUNT_CAP + 1, Vec::<u8>::new());
        assert_eq!((long.total, long.more), (COUNT_CAP, true));
    }
}
