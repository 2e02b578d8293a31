//! What a d-NRW clerk has to do today, most urgent first: the start page's to-do list.
//! Each list is a bounded, indexed query (a count and the first few items), so the page
//! stays fast with a million Einzelabrufe.

use diesel::dsl::{exists, not};
use diesel::prelude::*;
use serde::Serialize;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::{agreements, attachments, outbox, signatures};
use crate::db::DbConn;
use crate::domain::golive::TaskStatus;
use crate::domain::signing::SigningOrder;
use crate::domain::{AgreementKind, Status};
use crate::error::AppResult;
use crate::store::agreement::{Agreement, AgreementView};
use crate::store::task::{TaskFilter, TaskView};
use crate::store::{now, Page, Scope};

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
    /// More than `COUNT_CAP`: the page says "über 1.000".
    pub more: bool,
    pub items: Vec<T>,
}

/// The most a to-do list counts (at national scale 30,000 agreements can wait for
/// signatures; counting them all would cost more than the page).
pub const COUNT_CAP: i64 = 1000;

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
}

fn views(conn: &mut DbConn, rows: Vec<Agreement>) -> AppResult<Vec<AgreementView>> {
    rows.iter().map(|a| a.view(conn, false)).collect()
}

/// Everything on a clerk's start page.
pub fn clerk(conn: &mut DbConn, order: SigningOrder) -> AppResult<ClerkTodos> {
    let page = Page::new(Some(1), Some(SHOWN))?;
    let tasks = |conn: &mut DbConn, filter: TaskFilter| -> AppResult<List<TaskView>> {
        let p = crate::store::task::list(conn, &Scope::All, &filter, page)?;
        Ok(List::new(p.total, p.items))
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

    // Waiting for d-NRW's signature now: not signed by d-NRW, and (partner first) signed
    // by the partner. Oldest submission first.
    let signed_by = |party: &'static str| {
        signatures::table
            .filter(signatures::agreement_id.eq(agreements::id))
            .filter(signatures::version_no.eq(agreements::current_version))
            .filter(signatures::party.eq(party))
    };
    let awaiting = agreements::status.eq(Status::AwaitingSignatures.as_str());
    let partner_first = order == SigningOrder::PartnerFirst;
    // One pass: the oldest COUNT_CAP + 1 ids give the count and the first rows (with
    // partner-first signing, every awaiting agreement is probed for both signatures).
    let base = agreements::table
        .filter(awaiting)
        .filter(not(exists(signed_by("dnrw"))))
        .into_boxed();
    let base = if partner_first {
        base.filter(exists(signed_by("partner")))
    } else {
        base
    };
    let due_ids: Vec<String> = base
        .order(agreements::submitted_at.asc())
        .select(agreements::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?;
    let due_rows = due_ids
        .iter()
        .take(SHOWN as usize)
        .map(|id| Agreement::find(conn, id))
        .collect::<AppResult<Vec<_>>>()?;
    let signatures_due = List::new(due_ids.len() as i64, views(conn, due_rows)?);

    // Waiting for the other side for more than WAITING_DAYS days.
    let before = now() - Duration::days(WAITING_DAYS);
    let waiting = || {
        agreements::table
            .filter(awaiting)
            .filter(agreements::submitted_at.lt(before))
            .filter(not(exists(signed_by("partner"))))
    };
    let waiting_total = waiting()
        .select(agreements::id)
        .limit(COUNT_CAP + 1)
        .load::<String>(conn)?
        .len() as i64;
    let waiting_rows = waiting()
        .order(agreements::submitted_at.asc())
        .limit(SHOWN)
        .select(Agreement::as_select())
        .load(conn)?;
    let waiting_for_partner = List::new(waiting_total, views(conn, waiting_rows)?);

    // Signed, not in force (a precondition failed, or a later day was set).
    let signed = || agreements::table.filter(agreements::status.eq(Status::Signed.as_str()));
    let to_activate_total = signed()
        .select(agreements::id)
        .limit(COUNT_CAP + 1)
        .load::<String>(conn)?
        .len() as i64;
    let to_activate_rows = signed()
        .order(agreements::signed_on.asc())
        .limit(SHOWN)
        .select(Agreement::as_select())
        .load(conn)?;
    let to_activate = List::new(to_activate_total, views(conn, to_activate_rows)?);

    // Einzelabrufe filed in the last two weeks that still wait for signatures.
    let since = now() - Duration::days(14);
    let filed = || {
        agreements::table
            .filter(agreements::kind.eq(AgreementKind::Ea))
            .filter(awaiting)
            .filter(agreements::submitted_at.ge(since))
    };
    let new_total = filed()
        .select(agreements::id)
        .limit(COUNT_CAP + 1)
        .load::<String>(conn)?
        .len() as i64;
    let new_rows = filed()
        .order(agreements::submitted_at.desc())
        .limit(SHOWN)
        .select(Agreement::as_select())
        .load(conn)?;
    let new_einzelabrufe = List::new(new_total, views(conn, new_rows)?);

    // The newest DVDV certificate of a running Einzelabruf ending within 60 days.
    let limit = now() + Duration::days(CERTIFICATE_DAYS);
    let newer = diesel::alias!(attachments as newer);
    let expiring = || {
        attachments::table
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
    };
    let cert_total = expiring().count().get_result(conn)?;
    let cert_rows: Vec<(String, Option<PrimitiveDateTime>)> = expiring()
        .order(attachments::expires_at.asc())
        .limit(SHOWN)
        .select((attachments::agreement_id, attachments::expires_at))
        .load(conn)?;
    let mut certificates = Vec::new();
    for (id, expires) in cert_rows {
        if let Some(expires_at) = expires {
            let a = Agreement::find(conn, &id)?;
            certificates.push(ExpiringCertificate {
                agreement: a.view(conn, false)?,
                expires_at,
            });
        }
    }

    // Mail that could not be sent: not sent, with an error.
    let failed = || {
        outbox::table
            .filter(outbox::sent_at.is_null())
            .filter(outbox::last_error.is_not_null())
    };
    let failed_total = failed().count().get_result(conn)?;
    let failed_rows = failed()
        .order(outbox::created_at.asc())
        .limit(SHOWN)
        .select((
            outbox::recipient,
            outbox::subject,
            outbox::attempts,
            outbox::last_error,
            outbox::created_at,
        ))
        .load::<FailedMail>(conn)?;

    Ok(ClerkTodos {
        overdue_tasks,
        signatures_due,
        failed_mail: List::new(failed_total, failed_rows),
        certificates: List::new(cert_total, certificates),
        blocked_tasks,
        to_activate,
        waiting_for_partner,
        new_einzelabrufe,
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
