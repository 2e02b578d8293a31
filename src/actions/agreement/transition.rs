//! Lifecycle steps: submit, sign, activate, terminate, expire, cancel.

use serde::Deserialize;
use time::Date;

use crate::db::DbConn;
use crate::domain::agreement::{check_termination, german_date};
use crate::domain::rules;
use crate::domain::signing::SigningOrder;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{service, Action, AgreementKind, DomainError, Status, VersionStatus};
use crate::error::{AppError, AppResult};
use crate::store::agreement::{check_lock, Agreement};
use crate::store::audit::{self, Change};
use crate::store::{now, today, Scope};

/// `POST /api/v1/agreements/{id}/transitions`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    pub action: String,
    /// The version the caller saw; a stale one is refused (409).
    #[serde(default)]
    pub lock_version: Option<i32>,
    /// activate: first day in force (default today, not before `signed_on`).
    #[serde(default)]
    pub effective_from: Option<Date>,
    /// terminate: the day notice was given (default today).
    #[serde(default)]
    pub notice_given_on: Option<Date>,
    /// terminate: last day in force (default: notice date plus notice period).
    #[serde(default)]
    pub ends_on: Option<Date>,
    #[serde(default)]
    pub reason: Option<String>,
    /// terminate/expire: also end the agreements that rest on this one.
    #[serde(default)]
    pub cascade: bool,
    /// The day the step is taken as of (the daily job's day; never input): today.
    #[serde(skip)]
    pub as_of: Option<Date>,
}

/// The signatures of a version are complete: when the last was given, and who signed
/// (from the signing workflow or a record of a signature given elsewhere; never input).
pub(crate) struct Signed {
    pub on: Date,
    pub by: String,
}

/// Signatures are given one by one, by authorised signatories, not as a lifecycle step.
pub fn sign_elsewhere(id: &str) -> AppError {
    AppError::field(
        "action",
        format!("Unterschriften werden einzeln geleistet: POST /api/v1/agreements/{id}/signatures mit der zeichnungsberechtigten Ansprechperson; die letzte Unterschrift unterzeichnet und siegelt."),
    )
}

fn parse_action(s: &str, id: &str) -> AppResult<Action> {
    Ok(match s {
        "submit" => Action::Submit,
        "sign" => return Err(sign_elsewhere(id)),
        "activate" => Action::Activate,
        "terminate" => Action::Terminate,
        "expire" => Action::Expire,
        "cancel" => Action::Cancel,
        other => {
            return Err(AppError::field(
                "action",
                format!(
                    "„{other}“ ist kein Schritt (submit, activate, terminate, expire, cancel)."
                ),
            ))
        }
    })
}

impl Inspect for TransitionInput {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("action", Kind::Code, &mut self.action);
        t.opt("reason", Kind::Note, &mut self.reason);
    }
}

impl Checked<TransitionInput> {
    /// Applies the step, or says why it is not allowed. Returns the agreement as it now is.
    /// `order`: who is asked to sign first after `submit` (the deployment's setting).
    pub fn apply(
        self,
        conn: &mut DbConn,
        actor: &str,
        id: &str,
        order: SigningOrder,
    ) -> AppResult<Agreement> {
        let action = parse_action(&self.action, id)?;
        self.into_inner().run(conn, actor, id, action, order, None)
    }

    /// The step for a caller with `scope` (`domain::policy::step_agreement`): d-NRW any,
    /// a municipality submits or discards its own RV or EA draft. A municipality's
    /// submitted Einzelabruf is announced to d-NRW's staff.
    pub fn apply_as(
        self,
        conn: &mut DbConn,
        scope: &Scope,
        actor: &str,
        id: &str,
        order: SigningOrder,
    ) -> AppResult<Agreement> {
        let a = Agreement::find_in(conn, scope, id)?;
        crate::domain::policy::step_agreement(
            scope,
            &self.action,
            a.kind,
            a.municipality_id.as_deref(),
            a.status == Status::Draft,
        )
        .map_err(AppError::forbidden)?;
        let by_municipality = matches!(scope, Scope::Municipality(_));
        let submit = self.action == "submit";
        let a = self.apply(conn, actor, id, order)?;
        if by_municipality && submit && a.kind == AgreementKind::Ea {
            crate::actions::notify::ea_filed(conn, &a)?;
        }
        Ok(a)
    }
}

/// Marks the current version of `id` signed (the signing workflow, when the last
/// signature is given, and records of signatures given elsewhere).
pub(crate) fn sign(
    conn: &mut DbConn,
    actor: &str,
    id: &str,
    signed: Signed,
) -> AppResult<Agreement> {
    TransitionInput::default().run(
        conn,
        actor,
        id,
        Action::Sign,
        SigningOrder::default(),
        Some(signed),
    )
}

impl TransitionInput {
    fn run(
        self,
        conn: &mut DbConn,
        actor: &str,
        id: &str,
        action: Action,
        order: SigningOrder,
        signed: Option<Signed>,
    ) -> AppResult<Agreement> {
        let mut a = Agreement::find(conn, id)?;
        check_lock(&a, self.lock_version)?;
        let before = a.snapshot();
        let expected = a.lock_version;
        let from = a.status;
        let mut to = action.apply(from)?;
        let kind = a.kind;
        let mut note = None;
        match action {
            Action::Submit => {
                let version = a.version(conn, a.current_version)?;
                let terms = version.terms()?;
                terms.check(kind, true)?;
                if kind == AgreementKind::Ea {
                    let s = a.service(conn)?;
                    service::check_parameter_values(&s.parameter_defs()?, &terms.parameters, true)?;
                }
                recheck_preconditions(conn, &mut a)?;
                crate::actions::agreement::basis::recheck_membership(conn, &a)?;
                a.submitted_at = Some(now());
                a.submitted_by = Some(actor.to_string());
                // What goes to signature is this text, whatever changes afterwards.
                crate::store::agreement::contract::freeze(conn, &a, a.current_version)?;
            }
            Action::Sign => {
                let (on, by) = match signed {
                    Some(s) => (s.on, s.by),
                    None => (today(), actor.to_string()),
                };
                if on > today() {
                    return Err(AppError::field(
                        "signed_on",
                        "Das Unterschriftsdatum darf nicht in der Zukunft liegen.",
                    ));
                }
                a.signed_on = Some(on);
                a.signed_by = Some(by);
                set_version_status(conn, &a, VersionStatus::Signed, Some(on), None)?;
            }
            Action::Activate => {
                let from_date = self.effective_from.unwrap_or_else(today);
                if let Some(signed) = a.signed_on {
                    if from_date < signed {
                        return Err(AppError::field(
                            "effective_from",
                            format!("Eine Vereinbarung kann nicht vor ihrer Unterzeichnung ({}) in Kraft treten.", german_date(signed)),
                        ));
                    }
                }
                recheck_preconditions(conn, &mut a)?;
                a.effective_from = Some(from_date);
                a.activated_by = Some(actor.to_string());
                if from_date > self.as_of.unwrap_or_else(today) {
                    // "wirksam ab" a later day: it stays signed until then, and the
                    // daily job brings it into force on that day.
                    to = Status::Signed;
                    note = Some(format!(
                        "{} tritt am {} in Kraft",
                        a.reference,
                        german_date(from_date)
                    ));
                } else {
                    set_version_status(conn, &a, VersionStatus::InForce, None, Some(from_date))?;
                }
            }
            Action::Terminate => {
                let given = self.notice_given_on.unwrap_or_else(today);
                let ends = self.ends_on.unwrap_or_else(|| {
                    crate::domain::agreement::add_months(given, a.notice_period_months.unwrap_or(0))
                });
                check_termination(given, ends, a.notice_period_months)?;
                note = end_dependants(conn, actor, &a, self.cascade, given, ends, "terminate")?;
                a.notice_given_on = Some(given);
                a.ends_on = Some(ends);
                a.terminated_by = Some(actor.to_string());
                a.termination_reason = self.reason.clone();
                a.active_key = None;
            }
            Action::Expire => {
                match a.ends_on {
                    Some(end) if end < self.as_of.unwrap_or_else(today) => {}
                    Some(end) => {
                        return Err(DomainError::Transition(format!(
                            "{} läuft erst mit Ablauf des {} aus.",
                            a.reference,
                            german_date(end)
                        ))
                        .into())
                    }
                    None => {
                        return Err(DomainError::Transition(format!(
                            "{} hat kein Enddatum; beenden Sie sie durch Kündigung.",
                            a.reference
                        ))
                        .into())
                    }
                }
                let end = a.ends_on.unwrap_or_else(today);
                note = end_dependants(conn, actor, &a, self.cascade, end, end, "expire")?;
                a.active_key = None;
            }
            Action::Cancel => {
                a.termination_reason = self.reason.clone();
                a.active_key = None;
            }
        }
        a.status = to;
        a.save(conn, expected)?;
        audit::record(
            conn,
            Change {
                actor,
                action: action.as_str(),
                entity_type: "agreement",
                entity_id: &a.id,
                before: Some(before),
                after: Some(a.snapshot()),
                note,
            },
        )?;
        // Every party is told when it comes into force.
        if to == Status::InForce && action == Action::Activate {
            crate::actions::notify::in_force(conn, &a)?;
        }
        // An EA in force gets its go-live plan in the same transaction; the first to sign
        // a submitted agreement are told by mail, through the outbox, in it as well.
        if kind == AgreementKind::Ea && to == Status::InForce {
            let tasks = crate::store::task::Task::create_plan(conn, &a, actor)?;
            crate::actions::notify::tasks_assigned(conn, &a, &tasks)?;
        }
        if action == Action::Submit {
            crate::actions::notify::submitted(conn, &a, order)?;
        }
        Ok(a)
    }
}

fn set_version_status(
    conn: &mut DbConn,
    a: &Agreement,
    status: VersionStatus,
    signed_on: Option<Date>,
    effective_from: Option<Date>,
) -> AppResult<()> {
    use crate::db::schema::agreement_versions as v;
    use diesel::prelude::*;
    let target = v::table
        .filter(v::agreement_id.eq(&a.id))
        .filter(v::version_no.eq(a.current_version));
    diesel::update(target)
        .set(v::status.eq(status))
        .execute(conn)?;
    if let Some(d) = signed_on {
        diesel::update(target)
            .set(v::signed_on.eq(d))
            .execute(conn)?;
    }
    if let Some(d) = effective_from {
        diesel::update(target)
            .set(v::effective_from.eq(d))
            .execute(conn)?;
    }
    Ok(())
}

/// Checks again, at submission and activation, what the agreement rests on, and links
/// the agreements that are in force now.
fn recheck_preconditions(conn: &mut DbConn, a: &mut Agreement) -> AppResult<()> {
    // IÖV and RV rest on nothing: their basis is empty, as their links always are.
    let basis = crate::actions::agreement::basis::recheck(conn, a)?;
    a.ioev_id = basis.ioev_id;
    a.rv_id = basis.rv_id;
    a.ekv_id = basis.ekv_id;
    Ok(())
}

/// Refuses to end an agreement others rest on, or (with `cascade`) ends them too, each
/// with an audit record that says why. Returns the note for the parent's audit record.
fn end_dependants(
    conn: &mut DbConn,
    actor: &str,
    parent: &Agreement,
    cascade: bool,
    given: Date,
    ends: Date,
    action: &str,
) -> AppResult<Option<String>> {
    let dependants = parent.active_dependants(conn)?;
    let found = dependants
        .iter()
        .map(Agreement::found)
        .collect::<AppResult<Vec<_>>>()?;
    rules::check_dependants(&parent.reference, &found, cascade)?;
    if dependants.is_empty() {
        return Ok(None);
    }
    let mut ended = Vec::new();
    for mut d in dependants {
        let before = d.snapshot();
        let expected = d.lock_version;
        // Their own dependants (an IÖV's EKVs carry EAs) go the same way.
        let sub_note = end_dependants(conn, actor, &d, true, given, ends, action)?;
        let status = d.status;
        d.status = if status == Status::InForce || status == Status::Signed {
            Status::Terminated
        } else {
            Status::Cancelled
        };
        d.notice_given_on = Some(given);
        d.ends_on = Some(ends);
        d.terminated_by = Some(actor.to_string());
        d.termination_reason = Some(format!(
            "Mit beendet, weil {} beendet wurde.",
            parent.reference
        ));
        d.active_key = None;
        d.save(conn, expected)?;
        let warning = format!(
            "WARNUNG: {} wurde mit beendet, weil {} beendet wurde.{}",
            d.reference,
            parent.reference,
            sub_note.map(|n| format!(" {n}")).unwrap_or_default()
        );
        audit::record(
            conn,
            Change {
                actor,
                action: &format!("{action}_cascade"),
                entity_type: "agreement",
                entity_id: &d.id,
                before: Some(before),
                after: Some(d.snapshot()),
                note: Some(warning),
            },
        )?;
        ended.push(d.reference.clone());
    }
    Ok(Some(format!("Mit beendet: {}.", ended.join(", "))))
}
