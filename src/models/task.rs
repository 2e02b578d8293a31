//! Go-live tasks of Einzelabrufe (`domain::golive` decides; this file stores). The plan is
//! created in the transaction that puts the EA into force; each step is checked against
//! who owns the task, what it waits for and the evidence it records, and is audited.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::{Date, PrimitiveDateTime};

use super::agreement::Agreement;
use super::audit::{self, Change};
use super::contact::Contact;
use super::municipality::Municipality;
use super::organisation::Organisation;
use super::{new_id, now, today, Page, Paged, Scope};
use crate::db::schema::{
    agreement_versions, agreements, attachments, contacts, golive_tasks, municipalities,
    organisations, services,
};
use crate::db::DbConn;
use crate::domain::golive::{
    self, CertificateFacts, EvidenceContext, FieldKind, Owner, TaskAction, TaskKind, TaskStatus,
};
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{service as service_rules, AgreementKind, Status, Terms};
use crate::error::{AppError, AppResult, ErrorKind};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = golive_tasks)]
pub struct Task {
    pub id: String,
    pub agreement_id: String,
    pub kind: String,
    pub position: i32,
    pub owner_municipality_id: Option<String>,
    pub owner_organisation_id: Option<String>,
    pub contact_id: Option<String>,
    pub due_on: Date,
    pub status: String,
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
    pub fn kind(&self) -> AppResult<TaskKind> {
        TaskKind::parse(&self.kind)
            .ok_or_else(|| AppError::internal(format!("unknown task kind {}", self.kind)))
    }
    pub fn status(&self) -> AppResult<TaskStatus> {
        TaskStatus::parse(&self.status)
            .ok_or_else(|| AppError::internal(format!("unknown task status {}", self.status)))
    }

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
        if !existing.is_empty() || a.kind()? != AgreementKind::Ea {
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
                    kind: p.kind.as_str().into(),
                    position: p.position,
                    owner_municipality_id: m,
                    owner_organisation_id: o,
                    contact_id: contact,
                    due_on: p.due_on,
                    status: TaskStatus::Open.as_str().into(),
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

    fn save(&mut self, conn: &mut DbConn, expected: i32) -> AppResult<()> {
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

    fn snapshot(&self) -> Value {
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
fn current_terms(conn: &mut DbConn, a: &Agreement) -> AppResult<Terms> {
    let in_force: Option<String> = agreement_versions::table
        .filter(agreement_versions::agreement_id.eq(&a.id))
        .filter(agreement_versions::status.eq("in_force"))
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
fn certificate(conn: &mut DbConn, agreement_id: &str) -> AppResult<Option<CertificateFacts>> {
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
            not_after: expires.map(|e| e.date()).unwrap_or(Date::MIN),
        }
    }))
}

/// What is known in advance for a task's evidence (to fill in the form): the service's
/// Leika keys, the DVDV organisation key its category prescribes.
pub fn suggested_evidence(conn: &mut DbConn, task: &Task) -> AppResult<Value> {
    let a = Agreement::find(conn, &task.agreement_id)?;
    let service = a.service(conn)?;
    Ok(match task.kind()? {
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

fn ags_of(conn: &mut DbConn, a: &Agreement) -> AppResult<String> {
    Ok(match &a.municipality_id {
        Some(m) => Municipality::find(conn, m)?.ags,
        None => a.external_party_ags.clone().unwrap_or_default(),
    })
}

/// `POST /api/v1/tasks/{id}/transitions` and the task forms.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskStep {
    pub action: String,
    /// complete: the evidence fields of the task.
    #[serde(default)]
    pub evidence: Map<String, Value>,
    /// block: what blocks it.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub lock_version: Option<i32>,
}

impl Inspect for TaskStep {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("action", Kind::Code, &mut self.action);
        t.map("evidence", Kind::Note, &mut self.evidence);
        t.opt("reason", Kind::Note, &mut self.reason);
    }
}

impl Checked<TaskStep> {
    /// Applies the step for a caller of `scope`, or says why not. Returns the task.
    pub fn apply(self, conn: &mut DbConn, scope: &Scope, actor: &str, id: &str) -> AppResult<Task> {
        self.into_inner().apply(conn, scope, actor, id)
    }
}

impl TaskStep {
    fn apply(self, conn: &mut DbConn, scope: &Scope, actor: &str, id: &str) -> AppResult<Task> {
        let action = TaskAction::parse(&self.action).ok_or_else(|| {
            AppError::field(
                "action",
                format!(
                    "„{}“ ist kein Schritt einer Aufgabe (start, complete, block, reopen).",
                    self.action
                ),
            )
        })?;
        let mut task = Task::find_in(conn, scope, id)?;
        crate::domain::policy::work_on_task(scope, task.owner(), action == TaskAction::Reopen)
            .map_err(AppError::forbidden)?;
        if let Some(v) = self.lock_version {
            if v != task.lock_version {
                return Err(AppError::stale());
            }
        }
        let mut a = Agreement::find(conn, &task.agreement_id)?;
        if a.status()? != Status::InForce {
            return Err(AppError::new(
                ErrorKind::InvalidTransition,
                format!(
                    "{} ist nicht in Kraft (Status „{}“); ihre Aufgaben ruhen.",
                    a.reference,
                    a.status()?.label()
                ),
            ));
        }
        let kind = task.kind()?;
        let siblings = Task::of_agreement(conn, &task.agreement_id)?;
        let open: Vec<&str> = kind
            .depends_on()
            .iter()
            .filter(|d| {
                siblings
                    .iter()
                    .any(|s| s.kind == d.as_str() && s.status != TaskStatus::Done.as_str())
            })
            .map(|d| d.title())
            .collect();
        let reason = self.reason.as_deref().map(str::trim);
        let to = action.apply(task.status()?, &open, reason)?;
        let before = task.snapshot();
        let expected = task.lock_version;
        match action {
            TaskAction::Complete => {
                let evidence = check_evidence(conn, &a, kind, &self.evidence)?;
                task.evidence = evidence.to_string();
                task.completed_on = Some(today());
                task.completed_by = Some(actor.to_string());
                task.blocked_reason = None;
            }
            TaskAction::Block => {
                let reason = reason.unwrap_or_default();
                if reason.chars().count() > 500 {
                    return Err(AppError::field("reason", "Höchstens 500 Zeichen."));
                }
                task.blocked_reason = Some(reason.to_string());
            }
            TaskAction::Start => task.blocked_reason = None,
            TaskAction::Reopen => {
                task.completed_on = None;
                task.completed_by = None;
            }
        }
        task.status = to.as_str().into();
        task.save(conn, expected)?;
        audit::record(
            conn,
            Change {
                actor,
                action: &format!("task_{}", action.as_str()),
                entity_type: "task",
                entity_id: &task.id,
                before: Some(before),
                after: Some(task.snapshot()),
                note: Some(format!("{}: {}", a.reference, kind.title())),
            },
        )?;
        // The EA is live once every task is done, and no longer when one is reopened.
        let states = Task::of_agreement(conn, &a.id)?
            .iter()
            .map(|t| Ok((t.status()?, t.completed_on)))
            .collect::<AppResult<Vec<_>>>()?;
        let live = golive::live_on(&states);
        if live != a.live_on {
            let before = a.snapshot();
            let expected = a.lock_version;
            a.live_on = live;
            a.save(conn, expected)?;
            audit::record(
                conn,
                Change {
                    actor,
                    action: if live.is_some() { "live" } else { "not_live" },
                    entity_type: "agreement",
                    entity_id: &a.id,
                    before: Some(before),
                    after: Some(a.snapshot()),
                    note: None,
                },
            )?;
        }
        Ok(task)
    }
}

fn check_evidence(
    conn: &mut DbConn,
    a: &Agreement,
    kind: TaskKind,
    input: &Map<String, Value>,
) -> AppResult<Value> {
    let service = a.service(conn)?;
    let keys = service.leika_keys()?;
    let prefix = golive::dvdv_prefix(service.dvdv_category.as_deref());
    let ags = ags_of(conn, a)?;
    let terms = current_terms(conn, a)?;
    let parameters = serde_json::to_value(&terms.parameters)?;
    let parameters_problem =
        match service_rules::check_parameter_values(&service.parameter_defs()?, &terms.parameters, true)
        {
            Ok(()) => None,
            Err(crate::domain::DomainError::Invalid(list)) => Some(format!(
                "Die Parameter sind unvollständig: {}. Ändern Sie sie über einen Nachtrag zum Einzelabruf.",
                list.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ")
            )),
            Err(e) => Some(e.to_string()),
        };
    let ctx = EvidenceContext {
        service_leika_keys: &keys,
        dvdv_prefix: prefix.as_deref(),
        ags: &ags,
        today: today(),
        certificate: if kind == TaskKind::Dvdv {
            certificate(conn, &a.id)?
        } else {
            None
        },
        parameters: &parameters,
        parameters_problem,
    };
    Ok(golive::check_evidence(kind, input, &ctx)?)
}

/// `PATCH /api/v1/tasks/{id}` (d-NRW staff): due date and responsible contact.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    #[serde(default)]
    pub lock_version: Option<i32>,
    #[serde(default)]
    pub due_on: Option<Date>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub contact_id: Option<Option<String>>,
}

impl Inspect for TaskPatch {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.opt2("contact_id", Kind::Code, &mut self.contact_id);
    }
}

impl Checked<TaskPatch> {
    /// Staff plan a task: its due date and responsible contact (`lock_version` required).
    pub fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Task> {
        self.into_inner().apply(conn, actor, id)
    }
}

impl TaskPatch {
    fn apply(self, conn: &mut DbConn, actor: &str, id: &str) -> AppResult<Task> {
        let mut task = Task::find_in(conn, &Scope::All, id)?;
        let Some(expected) = self.lock_version else {
            return Err(AppError::field(
                "lock_version",
                "lock_version ist anzugeben (die zuletzt gelesene Version).",
            ));
        };
        if expected != task.lock_version {
            return Err(AppError::stale());
        }
        let before = task.snapshot();
        if let Some(due) = self.due_on {
            let a = Agreement::find(conn, &task.agreement_id)?;
            if a.effective_from.is_some_and(|from| due < from) {
                return Err(AppError::field(
                    "due_on",
                    "Die Frist kann nicht vor dem Inkrafttreten des Einzelabrufs liegen.",
                ));
            }
            task.due_on = due;
        }
        if let Some(contact) = self.contact_id {
            if let Some(cid) = &contact {
                let c = Contact::find(conn, cid).map_err(|e| {
                    if e.kind == ErrorKind::NotFound {
                        AppError::field("contact_id", e.message)
                    } else {
                        e
                    }
                })?;
                let fits = match (&task.owner_municipality_id, &task.owner_organisation_id) {
                    (Some(m), _) => c.municipality_id.as_deref() == Some(m.as_str()),
                    (_, Some(o)) => c.organisation_id.as_deref() == Some(o.as_str()),
                    _ => false,
                };
                if !fits {
                    return Err(AppError::field(
                        "contact_id",
                        format!(
                            "{} ist keine Ansprechperson der zuständigen Partei.",
                            c.name
                        ),
                    ));
                }
            }
            task.contact_id = contact;
        }
        task.save(conn, expected)?;
        audit::record(
            conn,
            Change {
                actor,
                action: "task_update",
                entity_type: "task",
                entity_id: &task.id,
                before: Some(before),
                after: Some(task.snapshot()),
                note: None,
            },
        )?;
        Ok(task)
    }
}

/// Which tasks a list shows.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    /// Not done and past the due date (of EAs in force).
    pub overdue: bool,
    /// Not done (open, in progress, blocked).
    pub pending: bool,
    pub agreement_id: Option<String>,
    pub municipality_id: Option<String>,
    pub service_id: Option<String>,
}

/// Tasks `scope` may see, most urgent first (due date, then plan order).
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    filter: &TaskFilter,
    page: Page,
) -> AppResult<Paged<TaskView>> {
    macro_rules! query {
        () => {{
            let mut q = golive_tasks::table
                .inner_join(agreements::table)
                .filter(agreements::status.eq(Status::InForce.as_str()))
                .into_boxed();
            match scope {
                Scope::All => {}
                Scope::Municipality(m) => q = q.filter(agreements::municipality_id.eq(m)),
                Scope::Intermediary(o) => q = q.filter(agreements::counterparty_id.eq(o)),
            }
            if let Some(s) = filter.status {
                q = q.filter(golive_tasks::status.eq(s.as_str()));
            }
            if filter.pending || filter.overdue {
                q = q.filter(golive_tasks::status.ne(TaskStatus::Done.as_str()));
            }
            if filter.overdue {
                q = q.filter(golive_tasks::due_on.lt(today()));
            }
            if let Some(id) = &filter.agreement_id {
                q = q.filter(golive_tasks::agreement_id.eq(id));
            }
            if let Some(id) = &filter.municipality_id {
                q = q.filter(agreements::municipality_id.eq(id));
            }
            if let Some(id) = &filter.service_id {
                q = q.filter(agreements::service_id.eq(id));
            }
            q
        }};
    }
    let total: i64 = query!().count().get_result(conn)?;
    let rows: Vec<Task> = query!()
        .order((
            golive_tasks::due_on,
            golive_tasks::agreement_id,
            golive_tasks::position,
        ))
        .limit(page.per_page)
        .offset(page.offset())
        .select(Task::as_select())
        .load(conn)?;
    Ok(Paged {
        items: views(conn, rows)?,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// The tasks of one agreement as views (plan order).
pub fn of_agreement_views(conn: &mut DbConn, agreement_id: &str) -> AppResult<Vec<TaskView>> {
    let rows = Task::of_agreement(conn, agreement_id)?;
    views(conn, rows)
}

/// What a task view needs of its agreement.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = agreements)]
struct AgreementFacts {
    id: String,
    reference: String,
    service_id: Option<String>,
    municipality_id: Option<String>,
    external_party_name: Option<String>,
    status: String,
}

/// Views of tasks, with the names they refer to loaded in one query per table.
pub fn views(conn: &mut DbConn, rows: Vec<Task>) -> AppResult<Vec<TaskView>> {
    fn ids<'a>(it: impl Iterator<Item = Option<&'a String>>) -> Vec<String> {
        let mut v: Vec<String> = it.flatten().cloned().collect();
        v.sort();
        v.dedup();
        v
    }
    let agreement_ids = ids(rows.iter().map(|t| Some(&t.agreement_id)));
    let facts: Vec<AgreementFacts> = agreements::table
        .filter(agreements::id.eq_any(&agreement_ids))
        .select(AgreementFacts::as_select())
        .load(conn)?;
    let agreement_map: HashMap<String, AgreementFacts> =
        facts.into_iter().map(|r| (r.id.clone(), r)).collect();
    let service_ids = ids(agreement_map.values().map(|r| r.service_id.as_ref()));
    let service_names: HashMap<String, String> = services::table
        .filter(services::id.eq_any(&service_ids))
        .select((services::id, services::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let muni_ids = ids(rows
        .iter()
        .map(|t| t.owner_municipality_id.as_ref())
        .chain(agreement_map.values().map(|r| r.municipality_id.as_ref())));
    let muni_names: HashMap<String, String> = municipalities::table
        .filter(municipalities::id.eq_any(&muni_ids))
        .select(Municipality::as_select())
        .load::<Municipality>(conn)?
        .into_iter()
        .map(|m| (m.id.clone(), m.display_name()))
        .collect();
    let org_ids = ids(rows.iter().map(|t| t.owner_organisation_id.as_ref()));
    let orgs: HashMap<String, (String, bool)> = organisations::table
        .filter(organisations::id.eq_any(&org_ids))
        .select((
            organisations::id,
            organisations::name,
            organisations::is_self,
        ))
        .load::<(String, String, bool)>(conn)?
        .into_iter()
        .map(|(id, name, is_self)| (id, (name, is_self)))
        .collect();
    let contact_ids = ids(rows.iter().map(|t| t.contact_id.as_ref()));
    let contact_map: BTreeMap<String, Contact> = contacts::table
        .filter(contacts::id.eq_any(&contact_ids))
        .select(Contact::as_select())
        .load::<Contact>(conn)?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let day = today();
    rows.into_iter()
        .map(|t| {
            let kind = t.kind()?;
            let status = t.status()?;
            let a = agreement_map
                .get(&t.agreement_id)
                .ok_or_else(|| AppError::internal("task without agreement"))?;
            let (owner_type, owner, owner_is_dnrw) =
                match (&t.owner_municipality_id, &t.owner_organisation_id) {
                    (Some(m), _) => (
                        "municipality",
                        NamedRef {
                            id: m.clone(),
                            name: muni_names.get(m).cloned().unwrap_or_default(),
                        },
                        false,
                    ),
                    (_, Some(o)) => {
                        let (name, is_self) = orgs.get(o).cloned().unwrap_or_default();
                        (
                            "organisation",
                            NamedRef {
                                id: o.clone(),
                                name,
                            },
                            is_self,
                        )
                    }
                    _ => return Err(AppError::internal("task without owner")),
                };
            Ok(TaskView {
                agreement_reference: a.reference.clone(),
                service: a.service_id.as_ref().map(|id| NamedRef {
                    id: id.clone(),
                    name: service_names.get(id).cloned().unwrap_or_default(),
                }),
                municipality: a
                    .municipality_id
                    .as_ref()
                    .and_then(|m| muni_names.get(m).cloned())
                    .or_else(|| a.external_party_name.clone()),
                kind,
                position: t.position,
                title: kind.title(),
                description: kind.description(),
                owner_type,
                owner,
                owner_is_dnrw,
                contact: t
                    .contact_id
                    .as_ref()
                    .and_then(|c| contact_map.get(c))
                    .map(|c| ContactRef {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        email: c.email.clone(),
                        phone: c.phone.clone(),
                    }),
                due_on: t.due_on,
                overdue: status != TaskStatus::Done
                    && t.due_on < day
                    && a.status == Status::InForce.as_str(),
                status,
                status_label: status.label(),
                blocked_reason: t.blocked_reason.clone(),
                depends_on: kind.depends_on().to_vec(),
                evidence_fields: kind
                    .evidence_fields()
                    .iter()
                    .map(|(key, label, kind)| EvidenceField {
                        key,
                        label,
                        kind: *kind,
                    })
                    .collect(),
                evidence: serde_json::from_str(&t.evidence).unwrap_or(Value::Null),
                completed_on: t.completed_on,
                completed_by: t.completed_by.clone(),
                lock_version: t.lock_version,
                updated_at: t.updated_at,
                id: t.id,
                agreement_id: t.agreement_id,
            })
        })
        .collect()
}
