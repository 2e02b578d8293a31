//! Coming into force and ending as the contract text says. The texts say an agreement
//! "tritt mit Unterzeichnung in Kraft" (or on a date d-NRW sets later): so the last
//! signature puts it into force, a date in the future is kept and the daily job puts it
//! into force on that day, and an agreement whose end date has passed expires by itself.
//! Every party is told by mail (`notify::in_force`, from the transition).

use diesel::prelude::*;
use time::Date;

use crate::actions::agreement::TransitionInput;
use crate::db::schema::agreements;
use crate::db::DbConn;
use crate::domain::signing::SigningOrder;
use crate::domain::text::Checked;
use crate::domain::Status;
use crate::error::AppResult;
use crate::store::agreement::Agreement;

/// The actor of what the registry does by itself.
pub const SYSTEM: &str = "system:lifecycle";

/// One step in its own savepoint: a step refused half-way leaves nothing behind, and
/// the caller's transaction goes on.
fn step(
    conn: &mut DbConn,
    actor: &str,
    a: &Agreement,
    action: &str,
    on: Option<Date>,
    order: SigningOrder,
    as_of: Date,
) -> AppResult<Agreement> {
    conn.transaction(|conn| {
        Checked::new(TransitionInput {
            action: action.into(),
            effective_from: on,
            cascade: true,
            as_of: Some(as_of),
            ..TransitionInput::default()
        })?
        .apply(conn, actor, &a.id, order)
    })
}

/// After the last signature of an agreement's text: in force today, or on the date set
/// for it. `None` when it could not come into force (what it rests on is no longer in
/// force): it stays signed for d-NRW to look at, and the page says so.
pub fn at_last_signature(
    conn: &mut DbConn,
    actor: &str,
    a: &Agreement,
    order: SigningOrder,
    today: Date,
) -> AppResult<Option<Agreement>> {
    let on = a.effective_from.unwrap_or(today);
    match step(conn, actor, a, "activate", Some(on), order, today) {
        Ok(a) => Ok(Some(a)),
        Err(e) if e.http_status() < 500 => Ok(None),
        Err(e) => Err(e),
    }
}

/// What one run of the daily job did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub activated: usize,
    pub expired: usize,
}

/// As of `day`: signed agreements whose date has come into force, agreements past their
/// end date expire (with what rests on them). One that cannot move stays as it is.
pub fn run_due(conn: &mut DbConn, day: Date, order: SigningOrder) -> AppResult<Due> {
    let mut due = Due::default();
    let starting: Vec<Agreement> = agreements::table
        .filter(agreements::status.eq(Status::Signed.as_str()))
        .filter(agreements::effective_from.le(day))
        .select(Agreement::as_select())
        .load(conn)?;
    for a in starting {
        if let Ok(a) = step(conn, SYSTEM, &a, "activate", a.effective_from, order, day) {
            due.activated += usize::from(a.status == Status::InForce);
        }
    }
    let ending: Vec<Agreement> = agreements::table
        .filter(agreements::status.eq(Status::InForce.as_str()))
        .filter(agreements::ends_on.lt(day))
        .select(Agreement::as_select())
        .load(conn)?;
    for a in ending {
        // Another one's cascade may have ended it already in this run.
        if Agreement::find(conn, &a.id)?.status != Status::InForce {
            continue;
        }
        if step(conn, SYSTEM, &a, "expire", None, order, day).is_ok() {
            due.expired += 1;
        }
    }
    Ok(due)
}
