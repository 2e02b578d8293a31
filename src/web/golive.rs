//! Going live: the go-live tasks (`/aufgaben`, `/aufgaben/{id}`: the evidence forms for
//! the owner, due date and contact for d-NRW) and d-NRW's roll-out matrix (`/rollout`,
//! `/rollout.csv`).

use rocket::form::{Form, FromForm};
use rocket::http::{ContentType, Header, Status};
use rocket::{get, post, routes, Responder, Route, State};
use serde_json::{json, Map, Value};

use super::{form_errors, is_form_error, page_context, signed_in, staff_form, Page, Session};
use crate::domain::golive::{TaskAction, TaskKind, TaskStatus};
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::state::AppState;
use crate::models::contact::Contact;
use crate::models::municipality::Municipality;
use crate::models::rollout::{self, Cell, RolloutFilter};
use crate::models::task::{self, Task, TaskFilter, TaskPatch, TaskStep};
use crate::models::{Page as Paging, Scope};

pub fn routes() -> Vec<Route> {
    routes![
        list,
        show,
        step,
        plan,
        matrix,
        matrix_csv,
        vsm_csv,
        calendar_page,
        calendar_renew,
        calendar_feed
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
    let chosen = super::choice("ansicht", "Ansicht", ansicht, |v| {
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
    Ok(super::render("tasks.html", ctx))
}

/// The form values of a task page: what was sent, else what is known in advance.
fn task_page(
    session: &Session,
    t: &task::TaskView,
    may_act: bool,
    siblings: &[task::TaskView],
    contacts: &[Contact],
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
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
    ctx["evidence"] = json!(evidence_lines(t));
    ctx["reason"] = values["reason"].clone();
    ctx["contacts"] = json!(contacts
        .iter()
        .map(|c| json!({ "id": c.id, "name": c.name, "function": c.function }))
        .collect::<Vec<_>>());
    ctx["is_dvdv"] = json!(t.kind == TaskKind::Dvdv);
    ctx["is_parameters"] = json!(t.kind == TaskKind::Parameters);
    super::set_errors(&mut ctx, errors);
    Ok(super::render("task.html", ctx))
}

/// The recorded evidence as (label, value) lines.
fn evidence_lines(t: &task::TaskView) -> Vec<Value> {
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
                        format!(
                            "{k}: {}",
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        )
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
async fn load(
    state: &State<AppState>,
    session: &Session,
    id: String,
) -> AppResult<(
    task::TaskView,
    bool,
    Vec<task::TaskView>,
    Vec<Contact>,
    Value,
)> {
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
            let view = siblings
                .iter()
                .find(|s| s.id == t.id)
                .cloned()
                .ok_or_else(|| AppError::internal("task missing from its plan"))?;
            Ok((view, may_act, siblings, contacts, suggested))
        })
        .await
}

#[get("/aufgaben/<id>")]
async fn show(state: &State<AppState>, session: Option<Session>, id: &str) -> AppResult<Page> {
    let session = signed_in!(session);
    let id = crate::http::params::id(id)?;
    let (t, may_act, siblings, contacts, suggested) = load(state, &session, id).await?;
    task_page(&session, &t, may_act, &siblings, &contacts, suggested, None)
}

/// A step on a task: the action and, to complete it, the evidence fields of its kind.
#[derive(FromForm, Default)]
struct StepForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    aktion: String,
    #[field(default = 0)]
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
        json!({
            "reason": self.reason, "leika_keys": self.leika_keys,
            "zustaendige_stelle": self.zustaendige_stelle, "service_url": self.service_url,
            "organisation_key": self.organisation_key, "fachverfahren": self.fachverfahren,
            "it_dienstleister": self.it_dienstleister, "test_received_on": self.test_received_on,
            "handed_over_on": self.handed_over_on, "confirmed_on": self.confirmed_on,
            "provider_reference": self.provider_reference,
        })
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
    id: &str,
    form: Form<StepForm>,
) -> AppResult<Page> {
    let session = super::form_session!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let target = format!("/aufgaben/{id}");
    let (t, may_act, siblings, contacts, _) = load(state, &session, id.clone()).await?;
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
            &t,
            may_act,
            &siblings,
            &contacts,
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
    id: &str,
    form: Form<PlanForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let target = format!("/aufgaben/{id}");
    let due_on = match super::form_date(&form.due_on) {
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
    match result {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if is_form_error(&e) => {
            Ok(session.refused_by(&e, "Planung nicht geändert", &target))
        }
        Err(e) => Err(e),
    }
}

fn rollout_filter(rb: Option<&str>, kreis: Option<&str>) -> AppResult<Checked<RolloutFilter>> {
    crate::http::params::rollout_filter(rb, kreis, None)
}

/// d-NRW's roll-out matrix: municipality × service, with counts and filters.
#[get("/rollout?<rb>&<kreis>")]
async fn matrix(
    state: &State<AppState>,
    session: Option<Session>,
    rb: Option<&str>,
    kreis: Option<&str>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let filter = match rollout_filter(rb, kreis) {
        Ok(f) => f,
        Err(e) => return Ok(session.refused_by(&e, "Filter ungültig", "/rollout")),
    };
    let (r, (districts, kreise)) = state
        .db
        .read(move |conn| {
            Ok((
                rollout::compute(conn, &Scope::All, &filter)?,
                Municipality::districts(conn)?,
            ))
        })
        .await?;
    let rows: Vec<Value> = r
        .municipalities
        .iter()
        .flatten()
        .map(|m| {
            json!({
                "id": m.id, "name": m.name, "ags": m.ags,
                "cells": r.services.iter().map(|s| {
                    let c = r.cell(m, &s.id);
                    json!({ "state": c.as_str(), "label": c.label() })
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut ctx = page_context(&session, "Roll-out")?;
    ctx["services"] = json!(r.services);
    ctx["rows"] = json!(rows);
    ctx["counts"] = json!(Cell::ALL
        .into_iter()
        .filter(|c| *c != Cell::Nothing)
        .map(|c| json!({ "state": c.as_str(), "label": c.label(), "n": r.counts.get(c) }))
        .collect::<Vec<_>>());
    ctx["municipality_count"] = json!(r.municipality_count);
    ctx["districts"] = json!(districts);
    ctx["kreise"] = json!(kreise
        .iter()
        .map(|(ags, name)| json!({ "ags": ags, "name": name }))
        .collect::<Vec<_>>());
    ctx["filter"] = json!({ "rb": rb.unwrap_or(""), "kreis": kreis.unwrap_or("") });
    ctx["query"] = json!(format!(
        "rb={}&kreis={}",
        super::staff::urlencode(rb.unwrap_or("")),
        super::staff::urlencode(kreis.unwrap_or(""))
    ));
    Ok(super::render("rollout.html", ctx))
}

#[derive(Responder)]
#[expect(
    clippy::large_enum_variant,
    reason = "a response value, built once per request and written out at once"
)]
enum CsvOrPage {
    Csv(Vec<u8>, ContentType, Header<'static>),
    Page(Page),
}

impl CsvOrPage {
    /// A CSV download named `name`.
    fn file(bytes: Vec<u8>, name: &str) -> CsvOrPage {
        CsvOrPage::Csv(
            bytes,
            ContentType::new("text", "csv").with_params(("charset", "utf-8")),
            Header::new(
                "Content-Disposition",
                format!("attachment; filename=\"{name}\""),
            ),
        )
    }
}

#[get("/rollout.csv?<rb>&<kreis>")]
async fn matrix_csv(
    state: &State<AppState>,
    session: Option<Session>,
    rb: Option<&str>,
    kreis: Option<&str>,
) -> AppResult<CsvOrPage> {
    let Some(session) = session else {
        return Ok(CsvOrPage::Page(Page::to("/anmelden")));
    };
    session.staff()?;
    let filter = rollout_filter(rb, kreis)?;
    let bytes = state
        .db
        .read(move |conn| rollout::to_csv(&rollout::compute(conn, &Scope::All, &filter)?))
        .await?;
    Ok(CsvOrPage::file(bytes, "rollout.csv"))
}

/// The VSM data of a municipality's live services: staff, or the municipality's users.
#[get("/kommunen/<id>/vsm.csv")]
async fn vsm_csv(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
) -> AppResult<CsvOrPage> {
    let Some(session) = session else {
        return Ok(CsvOrPage::Page(Page::to("/anmelden")));
    };
    let id = crate::http::params::id(id)?;
    let scope = session.scope();
    let bytes = state
        .db
        .read(move |conn| {
            let rows = crate::models::exports::vsm_rows(conn, &scope, &id)?;
            crate::models::exports::vsm_csv(&rows)
        })
        .await?;
    Ok(CsvOrPage::file(bytes, "vsm.csv"))
}

/// `/kalender`: the user's feed of due dates (create or renew its secret address).
#[get("/kalender")]
async fn calendar_page(state: &State<AppState>, session: Option<Session>) -> AppResult<Page> {
    let session = signed_in!(session);
    let id = session.user.id.clone();
    let has = state
        .db
        .read(move |conn| crate::models::exports::has_calendar(conn, &id))
        .await?;
    let mut ctx = page_context(&session, "Fristen im Kalender")?;
    ctx["has"] = json!(has);
    ctx["url"] = Value::Null;
    Ok(super::render("calendar.html", ctx))
}

#[post("/kalender", data = "<form>")]
async fn calendar_renew(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<super::CsrfForm>,
) -> AppResult<Page> {
    let session = super::form_session!(session, &form.csrf);
    let id = session.user.id.clone();
    let secret = state
        .db
        .write(move |conn| crate::models::exports::renew_calendar_token(conn, &id))
        .await?;
    let mut ctx = page_context(&session, "Fristen im Kalender")?;
    ctx["has"] = json!(true);
    ctx["url"] = json!(format!(
        "{}/kalender/{secret}.ics",
        crate::models::notify::base_url()
    ));
    Ok(super::render("calendar.html", ctx))
}

/// The feed itself: the secret in the address is the authentication (no session, so
/// calendar programs can subscribe); an unknown or renewed secret is a 404.
#[get("/kalender/<file>")]
async fn calendar_feed(state: &State<AppState>, file: &str) -> AppResult<(ContentType, String)> {
    let secret = file.strip_suffix(".ics").unwrap_or(file).to_string();
    let base = crate::models::notify::base_url();
    let ics = state
        .db
        .read(move |conn| crate::models::exports::calendar(conn, &secret, &base))
        .await?;
    Ok((
        ContentType::new("text", "calendar").with_params(("charset", "utf-8")),
        ics,
    ))
}

/// The state of each service for one municipality (its row of the roll-out), for the
/// municipality pages: (service id, name, state, label) of the services it has anything with.
pub fn municipality_row(
    conn: &mut crate::db::DbConn,
    municipality_id: &str,
) -> AppResult<Vec<Value>> {
    let r = rollout::compute(
        conn,
        &Scope::Municipality(municipality_id.to_string()),
        &Checked::new(RolloutFilter::default())?,
    )?;
    let Some(row) = r.municipalities.as_ref().and_then(|m| m.first()) else {
        return Ok(Vec::new());
    };
    Ok(r.services
        .iter()
        .filter_map(|s| {
            let c = r.cell(row, &s.id);
            (c != Cell::Nothing).then(
                || json!({ "id": s.id, "name": s.name, "state": c.as_str(), "label": c.label() }),
            )
        })
        .collect())
}

/// A service's column of the roll-out (counts by state), for the service page.
pub fn service_counts(conn: &mut crate::db::DbConn, service_id: &str) -> AppResult<Vec<Value>> {
    let r = rollout::compute(
        conn,
        &Scope::All,
        &Checked::new(RolloutFilter {
            service_id: Some(service_id.to_string()),
            ..RolloutFilter::default()
        })?,
    )?;
    Ok(r.services
        .first()
        .map(|s| {
            Cell::ALL
                .into_iter()
                .map(|c| json!({ "state": c.as_str(), "label": if c == Cell::Nothing { "ohne Einzelabruf" } else { c.label() }, "n": s.counts.get(c) }))
                .collect()
        })
        .unwrap_or_default())
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
