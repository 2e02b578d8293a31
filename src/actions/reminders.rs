//! The reminder job: overdue go-live tasks, DVDV certificates about to expire, signatures
//! waiting too long. Each occasion is recorded in `reminders` (its primary key) in the
//! same transaction as its mails, so a reminder is sent once per occasion, however often
//! the job runs and on however many instances.

use diesel::prelude::*;
use time::{Date, Duration, PrimitiveDateTime};

use crate::actions::notify;
use crate::db::schema::{agreements, attachments, golive_tasks, reminders, signatures};
use crate::db::DbConn;
use crate::domain::golive::TaskStatus;
use crate::domain::signing::{Party, SigningOrder};
use crate::domain::Status;
use crate::error::AppResult;
use crate::store::agreement::Agreement;
use crate::store::task::Task;
use crate::store::{now, today};

#[derive(Debug, Clone, Copy)]
pub struct ReminderSettings {
    pub signature_days: i64,
    pub certificate_days: i64,
    pub order: SigningOrder,
}

/// Records `occasion`; false if it was recorded before (then nothing is sent).
fn first_time(conn: &mut DbConn, occasion: &str) -> AppResult<bool> {
    let row = (
        reminders::occasion.eq(occasion),
        reminders::created_at.eq(now()),
    );
    let n = match conn {
        DbConn::Sqlite(c) => diesel::insert_into(reminders::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConn::Postgres(c) => diesel::insert_into(reminders::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(n == 1)
}

/// Sends the reminder for `occasion` unless it was sent before. An occasion with nobody
/// to tell (no user on that side yet) is not recorded, so it is reminded of once somebody
/// is there. True if mails were queued.
fn remind(
    conn: &mut DbConn,
    occasion: &str,
    send: impl FnOnce(&mut DbConn) -> AppResult<usize>,
) -> AppResult<bool> {
    if !first_time(conn, occasion)? {
        return Ok(false);
    }
    if send(conn)? > 0 {
        return Ok(true);
    }
    diesel::delete(reminders::table.find(occasion)).execute(conn)?;
    Ok(false)
}

/// What one run queued.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reminded {
    pub overdue_tasks: usize,
    pub certificates: usize,
    pub signatures: usize,
    /// Agreements that came into force on their date, and that expired.
    pub due: crate::actions::lifecycle::Due,
}

impl Reminded {
    pub fn total(&self) -> usize {
        self.overdue_tasks + self.certificates + self.signatures
    }
}

/// One run of the job as of `day`. Call inside a write transaction.
pub fn run(conn: &mut DbConn, s: ReminderSettings, day: Date) -> AppResult<Reminded> {
    let mut done = Reminded {
        due: crate::actions::lifecycle::run_due(conn, day, s.order)?,
        ..Reminded::default()
    };

    // Go-live tasks past their due date, of Einzelabrufe in force.
    let overdue: Vec<Task> = golive_tasks::table
        .inner_join(agreements::table)
        .filter(agreements::status.eq(Status::InForce.as_str()))
        .filter(golive_tasks::status.ne(TaskStatus::Done.as_str()))
        .filter(golive_tasks::due_on.lt(day))
        .select(Task::as_select())
        .load(conn)?;
    for t in overdue {
        let occasion = format!("task_overdue:{}:{}", t.id, t.due_on);
        let sent = remind(conn, &occasion, |conn| {
            let a = Agreement::find(conn, &t.agreement_id)?;
            notify::task_overdue(conn, &a, &t)
        })?;
        done.overdue_tasks += usize::from(sent);
    }

    // The newest DVDV certificate of each running EA, when it ends within the warning time.
    let limit = PrimitiveDateTime::new(
        day + Duration::days(s.certificate_days),
        time::Time::MIDNIGHT,
    );
    let certs: Vec<(String, String, String, Option<PrimitiveDateTime>)> = attachments::table
        .inner_join(agreements::table)
        .filter(attachments::kind.eq("dvdv_certificate"))
        .filter(agreements::status.eq_any([Status::Signed.as_str(), Status::InForce.as_str()]))
        .order((attachments::agreement_id, attachments::created_at.desc()))
        .select((
            attachments::id,
            attachments::agreement_id,
            attachments::details,
            attachments::expires_at,
        ))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    for (id, agreement_id, details, expires) in certs {
        if !seen.insert(agreement_id.clone()) {
            continue; // an older certificate of the same EA
        }
        let Some(expires) = expires.filter(|e| *e <= limit) else {
            continue;
        };
        let sent = remind(conn, &format!("certificate_expiring:{id}"), |conn| {
            let a = Agreement::find(conn, &agreement_id)?;
            let details: serde_json::Value = serde_json::from_str(&details)?;
            notify::certificate_expiring(
                conn,
                &a,
                &details,
                crate::domain::berlin::local_date(expires),
            )
        })?;
        done.certificates += usize::from(sent);
    }

    // Signatures waiting longer than the configured days.
    let before = now() - Duration::days(s.signature_days);
    let waiting: Vec<Agreement> = agreements::table
        .filter(agreements::status.eq(Status::AwaitingSignatures.as_str()))
        .filter(agreements::submitted_at.lt(before))
        .select(Agreement::as_select())
        .load(conn)?;
    for a in waiting {
        let signed: Vec<String> = signatures::table
            .filter(signatures::agreement_id.eq(&a.id))
            .filter(signatures::version_no.eq(a.current_version))
            .select(signatures::party)
            .load(conn)?;
        let next: Vec<Party> = s
            .order
            .parties()
            .into_iter()
            .filter(|p| !signed.iter().any(|x| x == p.as_str()))
            .take(if s.order == SigningOrder::Any { 2 } else { 1 })
            .collect();
        let days = a
            .submitted_at
            .map(|t| (now() - t).whole_days())
            .unwrap_or(s.signature_days);
        for party in next {
            let occasion = format!(
                "signature_waiting:{}:{}:{}",
                a.id,
                a.current_version,
                party.as_str()
            );
            let sent = remind(conn, &occasion, |conn| {
                notify::signature_waiting(conn, &a, party, Some(days))
            })?;
            done.signatures += usize::from(sent);
        }
    }
    Ok(done)
}

/// The job as of today.
pub fn run_today(conn: &mut DbConn, s: ReminderSettings) -> AppResult<Reminded> {
    run(conn, s, today())
}
