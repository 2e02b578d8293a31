//! Go-live tasks: `/aufgaben`, one task, its steps and planning, and the calendar feed
//! (`/kalender`).

use rocket::form::{Form, FromForm};
use rocket::http::{ContentType, Status};
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::actions::golive::{TaskPatch, TaskStep};
use crate::domain::golive::{TaskAction, TaskKind, TaskStatus};
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::params::TaskId;
use crate::http::state::AppState;
use crate::store::contact::Contact;
use crate::store::task::{self, Task, TaskFilter};
use crate::store::Page as Paging;
use crate::web::{
    form_errors, form_outcome, is_form_error, page_context, signed_in, staff_form, Page, Session,
};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        list,
        show,
        step,
        plan,
        calendar_page,
        calendar_renew,
        calendar_feed,
    ]
}

/// The tasks the user may see: pending ones (default), the overdue ones, or all.
#[get("/aufgaben?<ansicht>&<seite>")]
async fn list(
    state: &State<AppState>,
    session: Option<Session>,
    ansicht: Option<&str>,
    seite: Option<i64>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    let chosen = crate::web::choice("ansicht", "Ansicht", ansicht, |v| {
        ["offen", "ueberfaellig", "alle"]
            .into_iter()
            .find(|x| *x == v)
    });
    let view = match chosen {
        Ok(v) => v.unwrap_or("offen"),
        Err(e) => return Ok(session.refused_by(&e, "Ansicht unbekannt", "/aufgaben")),
    };
    let filter = TaskFilter {
        pending: view == "offen",
        overdue: view == "ueberfaellig",
        ..TaskFilter::default()
    };
    let page = Paging::new(seite, Some(100))?;
    let scope = session.scope();
    let tasks = state
        .db
        .read(move |conn| task::list(conn, &scope, &filter, page))
        .await?;
    let mut ctx = page_context(&session, "Aufgaben zur Inbetriebnahme")?;
    ctx["tasks"] = json!(tasks.items);
    ctx["total"] = json!(tasks.total);
    ctx["view"] = json!(view);
    ctx["page"] = json!(tasks.page);
    ctx["pages"] = json!((tasks.total + tasks.per_page - 1) / tasks.per_page.max(1));
    Ok(crate::web::render("tasks.html", ctx))
}

/// The form values of a task page: what was sent, else what is known in advance.
fn task_page(
    session: &Session,
    loaded: &Loaded,
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
    let Loaded {
        t,
        may_act,
        siblings,
        contacts,
        parameters,
        ..
    } = loaded;
    let may_act = *may_act;
    let mut ctx = page_context(session, &format!("{}: {}", t.agreement_reference, t.title))?;
    let status = t.status;
    let actions: Vec<Value> = if may_act {
        TaskAction::ALL
            .into_iter()
            .filter(|a| *a != TaskAction::Reopen || session.is_staff())
            .filter(|a| *a != TaskAction::Complete)
            .filter(|a| a.apply(status, &[], Some("x")).is_ok())
            .map(|a| json!({ "action": a.as_str(), "label": a.label() }))
            .collect()
    } else {
        Vec::new()
    };
    let waiting: Vec<Value> = t
        .depends_on
        .iter()
        .filter_map(|k| siblings.iter().find(|s| s.kind == *k))
        .map(|s| json!({ "id": s.id, "title": s.title, "status": s.status, "status_label": s.status_label }))
        .collect();
    let fields: Vec<Value> = t
        .evidence_fields
        .iter()
        .map(|f| {
            json!({ "key": f.key, "label": f.label, "kind": f.kind,
                    "value": values[f.key].as_str().unwrap_or_default() })
        })
        .collect();
    ctx["t"] = json!(t);
    ctx["may_act"] = json!(may_act);
    ctx["may_complete"] =
        json!(may_act && matches!(status, TaskStatus::Open | TaskStatus::InProgress));
    ctx["actions"] = json!(actions);
    ctx["waiting"] = json!(waiting);
    ctx["fields"] = json!(fields);
    ctx["evidence"] = json!(evidence_lines(t, parameters));
    ctx["reason"] = values["reason"].clone();
    ctx["contacts"] = json!(contacts
        .iter()
        .map(|c| json!({ "id": c.id, "name": c.name, "function": c.function }))
        .collect::<Vec<_>>());
    ctx["is_dvdv"] = json!(t.kind == TaskKind::Dvdv);
    ctx["is_parameters"] = json!(t.kind == TaskKind::Parameters);
    ctx["parameters"] = json!(parameters);
    ctx["certificate_warning"] = json!(loaded.certificate_warning);
    crate::web::set_errors(&mut ctx, errors);
    Ok(crate::web::render("task.html", ctx))
}

/// The recorded evidence as (label, value) lines; recorded parameters by the labels of
/// `parameters` (the Einzelabruf's, readable), a file as "Datei im Register".
fn evidence_lines(t: &task::TaskView, parameters: &[Value]) -> Vec<Value> {
    let parameter_label = |key: &str| -> String {
        parameters
            .iter()
            .find(|p| p["key"] == key)
            .and_then(|p| p["label"].as_str())
            .unwrap_or(key)
            .to_string()
    };
    let Some(map) = t.evidence.as_object() else {
        return Vec::new();
    };
    let label = |key: &str| -> String {
        t.evidence_fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.label.to_string())
            .unwrap_or_else(|| {
                match key {
                    "certificate_subject" => "Zertifikat (Inhaber)",
                    "certificate_fingerprint_sha256" => "Zertifikat (SHA-256-Fingerabdruck)",
                    "certificate_expires_on" => "Zertifikat gültig bis",
                    "certificate_attachment_id" => "Zertifikat (Anlage)",
                    "parameters" => "Parameter",
                    "note" => "Vermerk",
                    other => other,
                }
                .to_string()
            })
    };
    map.iter()
        .map(|(k, v)| {
            let shown = match v {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                Value::Object(o) => o
                    .iter()
                    .map(|(k, v)| {
                        let value = match v.as_str() {
                            Some(s) if s.starts_with("anlage:") => "Datei im Register".to_string(),
                            Some(s) => s.to_string(),
                            None => v.to_string(),
                        };
                        format!("{}: {value}", parameter_label(k))
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            json!({ "label": label(k), "value": shown })
        })
        .collect()
}

/// Loads a task for its page: the view, whether the user acts for its owner, the plan's
/// other tasks, the owner's contacts (for staff) and the suggested evidence.
/// A task as its page shows it.
struct Loaded {
    t: task::TaskView,
    /// The user acts for the task's owner.
    may_act: bool,
    siblings: Vec<task::TaskView>,
    contacts: Vec<Contact>,
    suggested: Value,
    /// The Parameter task: the Einzelabruf's parameters, readable.
    parameters: Vec<Value>,
    /// The DVDV task: why the newest certificate may be refused (self-signed, not from
    /// the administration PKI), as recorded with it.
    certificate_warning: Option<String>,
}

async fn load(state: &State<AppState>, session: &Session, id: TaskId) -> AppResult<Loaded> {
    let scope = session.scope();
    let staff = session.is_staff();
    state
        .db
        .read(move |conn| {
            let t = Task::find_in(conn, &scope, &id)?;
            let may_act = t.owned_by(&scope);
            let suggested = task::suggested_evidence(conn, &t)?;
            let contacts = if staff {
                match (&t.owner_municipality_id, &t.owner_organisation_id) {
                    (Some(m), _) => Contact::of_municipality(conn, m)?,
                    (_, Some(o)) => Contact::of_organisation(conn, o)?,
                    _ => Vec::new(),
                }
            } else {
                Vec::new()
            };
            let siblings = task::of_agreement_views(conn, &t.agreement_id)?;
            // The Parameter task shows the Einzelabruf's parameters as they apply.
            let parameters = if t.kind == TaskKind::Parameters {
                let a = crate::store::agreement::Agreement::find(conn, &t.agreement_id)?;
                let defs = match &a.service_id {
                    Some(s) => crate::store::service::Service::find(conn, s)?.parameter_defs()?,
                    None => Vec::new(),
                };
                let values = a
                    .view(conn, true)?
                    .terms
                    .map(|t| t.parameters)
                    .unwrap_or_default();
                crate::web::vereinbarungen::parameter_rows(&defs, &values)
            } else {
                Vec::new()
            };
            let view = siblings
                .iter()
                .find(|s| s.id == t.id)
                .cloned()
                .ok_or_else(|| AppError::internal("task missing from its plan"))?;
            let certificate_warning = if t.kind == TaskKind::Dvdv {
                crate::store::attachment::Attachment::newest_of_kind(
                    conn,
                    &t.agreement_id,
                    "dvdv_certificate",
                )?
                .and_then(|a| a.details()["pki_warning"].as_str().map(str::to_string))
            } else {
                None
            };
            Ok(Loaded {
                t: view,
                may_act,
                siblings,
                contacts,
                suggested,
                parameters,
                certificate_warning,
            })
        })
        .await
}

#[get("/aufgaben/<id>")]
async fn show(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<TaskId, AppError>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    let id = id?;
    let loaded = load(state, &session, id).await?;
    let suggested = loaded.suggested.clone();
    task_page(&session, &loaded, suggested, None)
}

/// A step on a task: the action and, to complete it, the evidence fields of its kind.
#[derive(FromForm, Default, Serialize)]
struct StepForm {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    #[field(default = String::new())]
    #[serde(skip)]
    aktion: String,
    #[field(default = 0)]
    #[serde(skip)]
    lock_version: i32,
    #[field(default = String::new())]
    reason: String,
    #[field(default = String::new())]
    leika_keys: String,
    #[field(default = String::new())]
    zustaendige_stelle: String,
    #[field(default = String::new())]
    service_url: String,
    #[field(default = String::new())]
    organisation_key: String,
    #[field(default = String::new())]
    fachverfahren: String,
    #[field(default = String::new())]
    it_dienstleister: String,
    #[field(default = String::new())]
    test_received_on: String,
    #[field(default = String::new())]
    handed_over_on: String,
    #[field(default = String::new())]
    confirmed_on: String,
    #[field(default = String::new())]
    provider_reference: String,
}

impl StepForm {
    fn values(&self) -> Value {
        json!(self)
    }

    /// The evidence fields of a task of `kind`, as sent.
    fn evidence(&self, kind: TaskKind) -> Map<String, Value> {
        let all = self.values();
        kind.evidence_fields()
            .iter()
            .map(|(key, _, _)| (key.to_string(), all[*key].clone()))
            .collect()
    }
}

/// Field ids of the task form: the evidence keys; the certificate and parameter checks
/// point at the fields that explain them.
fn field_id(model: &str) -> String {
    match model {
        "certificate" => "zertifikat-hinweis".into(),
        "parameters" => "parameter-hinweis".into(),
        m => m.to_string(),
    }
}

#[post("/aufgaben/<id>/schritt", data = "<form>")]
async fn step(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<TaskId, AppError>,
    form: Form<StepForm>,
) -> AppResult<Page> {
    let session = crate::web::form_session!(session, &form.csrf);
    let id = id?;
    let target = format!("/aufgaben/{id}");
    let loaded = load(state, &session, id.clone()).await?;
    let t = &loaded.t;
    let Some(action) = TaskAction::parse(&form.aktion) else {
        return Ok(session.refused(
            Status::UnprocessableEntity,
            "Schritt unbekannt",
            "Diesen Schritt gibt es für Aufgaben nicht.",
            &target,
        ));
    };
    let input = TaskStep {
        action: action.as_str().into(),
        evidence: if action == TaskAction::Complete {
            form.evidence(t.kind)
        } else {
            Map::new()
        },
        reason: Some(form.reason.clone()).filter(|r| !r.trim().is_empty()),
        lock_version: Some(form.lock_version),
    };
    let (scope, actor) = (session.scope(), session.actor());
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.apply(conn, &scope, &actor, &id))
        .await;
    match result {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if e.http_status() == 422 && !e.fields.is_empty() => Ok(task_page(
            &session,
            &loaded,
            form.values(),
            Some(form_errors(&e, field_id)),
        )?
        .with_status(Status::UnprocessableEntity)),
        Err(e) if is_form_error(&e) || e.kind == ErrorKind::Forbidden => {
            Ok(session.refused_by(&e, "Schritt nicht möglich", &target))
        }
        Err(e) => Err(e),
    }
}

#[derive(FromForm)]
struct PlanForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = 0)]
    lock_version: i32,
    #[field(default = String::new())]
    due_on: String,
    #[field(default = String::new())]
    contact_id: String,
}

/// d-NRW staff: the due date and the responsible contact of a task.
#[post("/aufgaben/<id>/planung", data = "<form>")]
async fn plan(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<TaskId, AppError>,
    form: Form<PlanForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let target = format!("/aufgaben/{id}");
    let due_on = match crate::web::form_date(&form.due_on) {
        Ok(d) => d,
        Err(()) => {
            return Ok(session.refused(
                Status::UnprocessableEntity,
                "Frist nicht lesbar",
                "Bitte die Frist als Datum angeben (z. B. 2026-12-22).",
                &target,
            ))
        }
    };
    let contact = form.contact_id.trim().to_string();
    let input = TaskPatch {
        lock_version: Some(form.lock_version),
        due_on,
        contact_id: Some(if contact.is_empty() {
            None
        } else {
            Some(contact)
        }),
    };
    let actor = session.actor();
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.apply(conn, &actor, &id))
        .await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(target)),
        Err(e) => Ok(session.refused_by(&e, "Planung nicht geändert", &target)),
    }
}

/// `/kalender`: the user's feed of due dates (create or renew its secret address).
#[get("/kalender")]
async fn calendar_page(state: &State<AppState>, session: Option<Session>) -> AppResult<Page> {
    let session = signed_in!(session);
    let id = session.user.id.clone();
    let has = state
        .db
        .read(move |conn| crate::actions::exports::has_calendar(conn, &id))
        .await?;
    let mut ctx = page_context(&session, "Fristen im Kalender")?;
    ctx["has"] = json!(has);
    ctx["url"] = Value::Null;
    Ok(crate::web::render("calendar.html", ctx))
}

#[post("/kalender", data = "<form>")]
async fn calendar_renew(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<crate::web::CsrfForm>,
) -> AppResult<Page> {
    let session = crate::web::form_session!(session, &form.csrf);
    let id = session.user.id.clone();
    let secret = state
        .db
        .write(move |conn| crate::actions::exports::renew_calendar_token(conn, &id))
        .await?;
    let mut ctx = page_context(&session, "Fristen im Kalender")?;
    ctx["has"] = json!(true);
    ctx["url"] = json!(format!(
        "{}/kalender/{secret}.ics",
        state.base_url.trim_end_matches('/')
    ));
    Ok(crate::web::render("calendar.html", ctx))
}

/// The feed itself: the secret in the address is the authentication (no session, so
/// calendar programs can subscribe); an unknown or renewed secret is a 404.
#[get("/kalender/<file>")]
async fn calendar_feed(state: &State<AppState>, file: &str) -> AppResult<(ContentType, String)> {
    let secret = file.strip_suffix(".ics").unwrap_or(file).to_string();
    let base = state.base_url.clone();
    let ics = state
        .db
        .read(move |conn| crate::actions::exports::calendar(conn, &secret, &base))
        .await?;
    Ok((
        ContentType::new("text", "calendar").with_params(("charset", "utf-8")),
        ics,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_evidence_field_has_a_form_field() {
        let form = <StepForm as Default>::default();
        let values = form.values();
        for kind in TaskKind::ALL {
            for (key, _, _) in kind.evidence_fields() {
                assert!(values.get(*key).is_some(), "{key} has no form field");
            }
        }
    }
}
