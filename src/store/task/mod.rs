//! Go-live tasks of Einzelabrufe (`domain::golive` decides; this folder stores). The plan is
//! created in the transaction that puts the EA into force; each step is checked against
//! who owns the task, what it waits for and the evidence it records, and is audited.

mod views;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use time::{Date, PrimitiveDateTime};

use crate::db::schema::{agreement_versions, attachments, golive_tasks};
use crate::db::DbConn;
use crate::domain::golive::{self, CertificateFacts, FieldKind, Owner, TaskKind, TaskStatus};
use crate::domain::{AgreementKind, Terms};
use crate::error::{AppError, AppResult};
use crate::store::agreement::Agreement;
use crate::store::audit::{self, Change};
use crate::store::contact::Contact;
use crate::store::municipality::Municipality;
use crate::store::organisation::Organisation;
use crate::store::{new_id, now, Scope};

pub use views::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = golive_tasks)]
pub struct Task {
    pub id: String,
    pub agreement_id: String,
    pub kind: TaskKind,
    pub position: i32,
    pub owner_municipality_id: Option<String>,
    pub owner_organisation_id: Option<String>,
    pub contact_id: Option<String>,
    pub due_on: Date,
    pub status: TaskStatus,
    pub blocked_reason: Option<String>,
    pub evidence: String,
    pub completed_on: Option<Date>,
    pub completed_by: Option<String>,
    pub lock_version: i32,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// A reference to a party or contact, with its name.
#[derive(Debug, Clone, Serialize)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactRef {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceField {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
}

/// A task as the API and the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: String,
    pub agreement_id: String,
    pub agreement_reference: String,
    pub service: Option<NamedRef>,
    /// The municipality the service goes live for (or another Land's municipality by name).
    pub municipality: Option<String>,
    pub kind: TaskKind,
    pub position: i32,
    pub title: &'static str,
    pub description: &'static str,
    /// `municipality` or `organisation`
    pub owner_type: &'static str,
    pub owner: NamedRef,
    /// True when d-NRW owns it.
    pub owner_is_dnrw: bool,
    pub contact: Option<ContactRef>,
    pub due_on: Date,
    pub overdue: bool,
    pub status: TaskStatus,
    pub status_label: &'static str,
    pub blocked_reason: Option<String>,
    pub depends_on: Vec<TaskKind>,
    pub evidence_fields: Vec<EvidenceField>,
    /// What was recorded when it was done (empty before).
    pub evidence: Value,
    pub completed_on: Option<Date>,
    pub completed_by: Option<String>,
    pub lock_version: i32,
    #[serde(with = "super::ts")]
    pub updated_at: PrimitiveDateTime,
}

impl Task {
    /// Whether a caller of `scope` acts for the owner of this task (d-NRW staff act for all).
    pub fn owned_by(&self, scope: &Scope) -> bool {
        scope.sees(self.owner())
    }

    /// The party that owns the task (`domain::policy::work_on_task`).
    pub fn owner(&self) -> crate::domain::policy::Parties<'_> {
        crate::domain::policy::Parties {
            municipality: self.owner_municipality_id.as_deref(),
            organisation: self.owner_organisation_id.as_deref(),
        }
    }

    /// Creates the go-live plan of EA `a`, which has just come into force; does nothing if
    /// it has one. The requesting side owns its tasks: the municipality, or for another
    /// Land's municipality the intermediary the EA was recorded with.
    pub fn create_plan(conn: &mut DbConn, a: &Agreement, actor: &str) -> AppResult<Vec<Task>> {
        let existing = Task::of_agreement(conn, &a.id)?;
        if !existing.is_empty() || a.kind != AgreementKind::Ea {
            return Ok(existing);
        }
        let effective_from = a
            .effective_from
            .ok_or_else(|| AppError::internal("an EA in force without a start date"))?;
        let service = a.service(conn)?;
        let dnrw = Organisation::kommunalvertreter(conn)?;
        let requester_contact = match (&a.municipality_id, &a.counterparty_id) {
            (Some(m), _) => {
                let wanted = current_terms(conn, a)?
                    .parameters
                    .get("kontakt_email")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase);
                pick_contact(Contact::of_municipality(conn, m)?, wanted.as_deref())
            }
            (None, Some(o)) => pick_contact(Contact::of_organisation(conn, o)?, None),
            (None, None) => None,
        };
        let dnrw_contact = pick_contact(Contact::of_organisation(conn, &dnrw.id)?, None);
        let t = now();
        let rows: Vec<Task> = golive::plan(effective_from, service.golive_days)
            .into_iter()
            .map(|p| {
                let (m, o, contact) = match p.owner {
                    Owner::Dnrw => (None, Some(dnrw.id.clone()), dnrw_contact.clone()),
                    Owner::Requester => match &a.municipality_id {
                        Some(m) => (Some(m.clone()), None, requester_contact.clone()),
                        None => (None, a.counterparty_id.clone(), requester_contact.clone()),
                    },
                };
                Task {
                    id: new_id(),
                    agreement_id: a.id.clone(),
                    kind: p.kind,
                    position: p.position,
                    owner_municipality_id: m,
                    owner_organisation_id: o,
                    contact_id: contact,
                    due_on: p.due_on,
                    status: TaskStatus::Open,
                    blocked_reason: None,
                    evidence: "{}".into(),
                    completed_on: None,
                    completed_by: None,
                    lock_version: 1,
                    created_at: t,
                    updated_at: t,
                }
            })
            .collect();
        crate::insert_batch!(conn, golive_tasks::table, &rows)?;
        audit::record(
            conn,
            Change {
                actor,
                action: "golive_plan",
                entity_type: "agreement",
                entity_id: &a.id,
                before: None,
                after: Some(json!({
                    "tasks": rows.iter().map(|r| json!({
                        "id": r.id, "kind": r.kind, "due_on": r.due_on,
                        "owner_municipality_id": r.owner_municipality_id,
                        "owner_organisation_id": r.owner_organisation_id,
                    })).collect::<Vec<_>>()
                })),
                note: None,
            },
        )?;
        Ok(rows)
    }

    /// Records the plan of an EA that went live before the registry: every task done on
    /// `on`, outside the registry (the seed's historic contracts), and the EA live since then.
    pub fn record_done_outside(
        conn: &mut DbConn,
        a: &Agreement,
        on: Date,
        actor: &str,
    ) -> AppResult<()> {
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let evidence = json!({ "note": "vor Einführung des Registers außerhalb erledigt" });
        diesel::update(golive_tasks::table.filter(golive_tasks::agreement_id.eq(&a.id)))
            .set((
                golive_tasks::status.eq(TaskStatus::Done.as_str()),
                golive_tasks::evidence.eq(evidence.to_string()),
                golive_tasks::completed_on.eq(on),
                golive_tasks::completed_by.eq(actor),
                golive_tasks::updated_at.eq(now()),
            ))
            .execute(conn)?;
        let mut a = Agreement::find(conn, &a.id)?;
        let before = a.snapshot();
        let expected = a.lock_version;
        a.live_on = Some(on);
        a.save(conn, expected)?;
        audit::record(
            conn,
            Change {
                actor,
                action: "live",
                entity_type: "agreement",
                entity_id: &a.id,
                before: Some(before),
                after: Some(a.snapshot()),
                note: Some(evidence["note"].as_str().unwrap_or_default().to_string()),
            },
        )
    }

    /// The tasks of an agreement in plan order.
    pub fn of_agreement(conn: &mut DbConn, agreement_id: &str) -> AppResult<Vec<Task>> {
        Ok(golive_tasks::table
            .filter(golive_tasks::agreement_id.eq(agreement_id))
            .order(golive_tasks::position)
            .select(Task::as_select())
            .load(conn)?)
    }

    /// A task, if `scope` may see its agreement; otherwise "not found".
    pub fn find_in(conn: &mut DbConn, scope: &Scope, id: &str) -> AppResult<Task> {
        let missing = || AppError::not_found(format!("Es gibt keine Aufgabe mit der Id {id}."));
        let task: Task = golive_tasks::table
            .find(id)
            .select(Task::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(missing)?;
        Agreement::find_in(conn, scope, &task.agreement_id).map_err(|_| missing())?;
        Ok(task)
    }

    pub(crate) fn save(&mut self, conn: &mut DbConn, expected: i32) -> AppResult<()> {
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock_version = expected + 1;
        self.updated_at = now();
        let n = diesel::update(
            golive_tasks::table
                .filter(golive_tasks::id.eq(&self.id))
                .filter(golive_tasks::lock_version.eq(expected)),
        )
        .set((
            golive_tasks::status.eq(&self.status),
            golive_tasks::blocked_reason.eq(&self.blocked_reason),
            golive_tasks::evidence.eq(&self.evidence),
            golive_tasks::completed_on.eq(self.completed_on),
            golive_tasks::completed_by.eq(&self.completed_by),
            golive_tasks::due_on.eq(self.due_on),
            golive_tasks::contact_id.eq(&self.contact_id),
            golive_tasks::lock_version.eq(self.lock_version),
            golive_tasks::updated_at.eq(self.updated_at),
        ))
        .execute(conn)?;
        if n == 1 {
            Ok(())
        } else {
            Err(AppError::stale())
        }
    }

    pub(crate) fn snapshot(&self) -> Value {
        json!({
            "kind": self.kind, "status": self.status, "due_on": self.due_on,
            "contact_id": self.contact_id, "blocked_reason": self.blocked_reason,
            "evidence": serde_json::from_str::<Value>(&self.evidence).unwrap_or(Value::Null),
            "completed_on": self.completed_on, "completed_by": self.completed_by,
        })
    }
}

/// The contact whose e-mail is `wanted`, else the first one with an e-mail that is not a
/// signatory, else the first one.
fn pick_contact(list: Vec<Contact>, wanted: Option<&str>) -> Option<String> {
    let by_mail = wanted.and_then(|w| {
        list.iter()
            .find(|c| c.email.as_deref().map(str::to_lowercase).as_deref() == Some(w))
    });
    by_mail
        .or_else(|| list.iter().find(|c| c.email.is_some() && !c.may_sign))
        .or_else(|| list.first())
        .map(|c| c.id.clone())
}

/// The terms in force (the newest version in force, else the current one).
pub(crate) fn current_terms(conn: &mut DbConn, a: &Agreement) -> AppResult<Terms> {
    let in_force: Option<String> = agreement_versions::table
        .filter(agreement_versions::agreement_id.eq(&a.id))
        .filter(agreement_versions::status.eq(crate::domain::VersionStatus::InForce))
        .order(agreement_versions::version_no.desc())
        .select(agreement_versions::terms)
        .first(conn)
        .optional()?;
    match in_force {
        Some(t) => Ok(serde_json::from_str(&t)?),
        None => a.version(conn, a.current_version)?.terms(),
    }
}

/// The newest DVDV certificate handed in with an EA.
pub(crate) fn certificate(
    conn: &mut DbConn,
    agreement_id: &str,
) -> AppResult<Option<CertificateFacts>> {
    let row: Option<(String, String, Option<PrimitiveDateTime>)> = attachments::table
        .filter(attachments::agreement_id.eq(agreement_id))
        .filter(attachments::kind.eq("dvdv_certificate"))
        .order(attachments::created_at.desc())
        .select((
            attachments::id,
            attachments::details,
            attachments::expires_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, details, expires)| {
        let d: Value = serde_json::from_str(&details).unwrap_or(Value::Null);
        CertificateFacts {
            attachment_id: id,
            subject: d["subject"].as_str().unwrap_or_default().to_string(),
            fingerprint_sha256: d["fingerprint_sha256"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            not_after: expires
                .map(crate::domain::berlin::local_date)
                .unwrap_or(Date::MIN),
        }
    }))
}

/// What is known in advance for a task's evidence (to fill in the form): the service's
/// Leika keys, the DVDV organisation key its category prescribes.
pub fn suggested_evidence(conn: &mut DbConn, task: &Task) -> AppResult<Value> {
    let a = Agreement::find(conn, &task.agreement_id)?;
    let service = a.service(conn)?;
    Ok(match task.kind {
        TaskKind::Vsm => json!({ "leika_keys": service.leika_keys()?.join("\n") }),
        TaskKind::Dvdv => {
            let ags = ags_of(conn, &a)?;
            match golive::dvdv_prefix(service.dvdv_category.as_deref()) {
                Some(p) if !ags.is_empty() => {
                    json!({ "organisation_key": golive::organisation_key(&p, &ags) })
                }
                _ => json!({}),
            }
        }
        _ => json!({}),
    })
}

pub(crate) fn ags_of(conn: &mut DbConn, a: &Agreement) -> AppResult<String> {
    Ok(match &a.municipality_id {
        Some(m) => Municipality::find(conn, m)?.ags,
        None => a.external_party_ags.clone().unwrap_or_default(),
    })
}

/// Task changes this process made (`Task::save`, `record_done_outside`): caches of task
/// statistics (`actions::rollout::lead`) look again after one.
static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many task changes this process has made so far.
pub fn writes() -> u64 {
    WRITES.load(std::sync::atomic::Ordering::Relaxed)
}
