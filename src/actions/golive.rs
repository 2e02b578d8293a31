//! A step on a task (start, complete with evidence, block, reopen) and planning changes
//! (due date, contact), by their owner or d-NRW.

use serde::Deserialize;
use serde_json::{Map, Value};
use time::Date;

use crate::db::DbConn;
use crate::domain::golive::{self, EvidenceContext, TaskAction, TaskKind, TaskStatus};
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{service as service_rules, Status};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::store::agreement::Agreement;
use crate::store::audit::{self, Change};
use crate::store::contact::Contact;
use crate::store::task::*;
use crate::store::{today, Scope};

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
        if a.status != Status::InForce {
            return Err(AppError::new(
                ErrorKind::InvalidTransition,
                format!(
                    "{} ist nicht in Kraft (Status „{}“); ihre Aufgaben ruhen.",
                    a.reference,
                    a.status.label()
                ),
            ));
        }
        let kind = task.kind;
        let siblings = Task::of_agreement(conn, &task.agreement_id)?;
        let open: Vec<&str> = kind
            .depends_on()
            .iter()
            .filter(|d| {
                siblings
                    .iter()
                    .any(|s| s.kind == **d && s.status != TaskStatus::Done)
            })
            .map(|d| d.title())
            .collect();
        let reason = self.reason.as_deref().map(str::trim);
        let to = action.apply(task.status, &open, reason)?;
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
        task.status = to;
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
            .map(|t| Ok((t.status, t.completed_on)))
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
    #[serde(default, deserialize_with = "crate::store::nullable")]
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
