//! "Meine Kommune": a municipality user's own agreements, the Rahmenvereinbarung (RV),
//! and the guided Einzelabruf form (the service's parameters, coat of arms, DVDV
//! certificate, contact person). Everything runs through `NewAgreement::create_as` with
//! the user's scope, so a municipality can only ever act for itself.

use std::collections::{BTreeMap, HashMap};

use rocket::form::{Form, FromForm};
use rocket::fs::TempFile;
use rocket::http::Status;
use rocket::tokio::io::AsyncReadExt;
use rocket::{get, post, routes, Route, State};
use serde_json::{json, Value};

use super::{
    form_errors, form_session, is_form_error, page_context, signed_in, CsrfForm, Page, Session,
};
use crate::actions::ea::{self, ContactPerson, Filing, Upload};
use crate::db::DbConn;
use crate::domain::text::Checked;
use crate::domain::{AgreementKind, Availability, ParameterKind, Status as AgreementStatus};
use crate::error::{AppError, AppResult, ErrorKind, FieldError};
use crate::http::state::AppState;
use crate::models::agreement::{Agreement, AgreementView, Filter, NewAgreement};
use crate::models::municipality::Municipality;
use crate::models::service::Service;
use crate::models::{Page as Paging, Scope};

pub fn routes() -> Vec<Route> {
    routes![home, request_rv, ea_form, file_ea]
}

/// The municipality of a municipality user; everyone else is refused.
fn own_municipality(session: &Session) -> AppResult<String> {
    crate::domain::policy::own_municipality(session.role(), session.user.municipality_id.as_deref())
        .map(str::to_string)
        .map_err(AppError::forbidden)
}

/// All agreements of the municipality (a municipality has a handful, never hundreds).
fn own_agreements(conn: &mut DbConn, scope: &Scope) -> AppResult<Vec<AgreementView>> {
    let page = Paging::new(Some(1), Some(Paging::MAX_PER_PAGE))?;
    Ok(Agreement::list(conn, scope, &Filter::default(), page)?.items)
}

fn is_active(status: AgreementStatus) -> bool {
    matches!(
        status,
        AgreementStatus::Draft
            | AgreementStatus::AwaitingSignatures
            | AgreementStatus::Signed
            | AgreementStatus::InForce
    )
}

/// `/kommune`: the RV, the Einzelabrufe, and the services one can still call.
#[get("/kommune")]
async fn home(state: &State<AppState>, session: Option<Session>) -> AppResult<Page> {
    let session = signed_in!(session);
    let municipality_id = own_municipality(&session)?;
    let scope = session.scope();
    let (municipality, agreements, services, tasks) = state
        .db
        .read(move |conn| {
            let m = Municipality::find(conn, &municipality_id)?;
            let agreements = own_agreements(conn, &scope)?;
            let services = Service::list_with_operator(conn, true)?;
            let pending = crate::models::task::TaskFilter {
                pending: true,
                ..Default::default()
            };
            let tasks = crate::models::task::list(
                conn,
                &scope,
                &pending,
                crate::models::Page::new(Some(1), Some(20))?,
            )?;
            Ok((m, agreements, services, tasks))
        })
        .await?;
    let rv = agreements
        .iter()
        .find(|a| a.kind == AgreementKind::Rv && is_active(a.status));
    let rv_in_force = rv.is_some_and(|a| a.status == AgreementStatus::InForce);
    let eas: Vec<&AgreementView> = agreements
        .iter()
        .filter(|a| a.kind == AgreementKind::Ea)
        .collect();
    let mut callable = Vec::new();
    for (s, operator) in &services {
        // NRW's own services are not called through d-NRW by NRW municipalities.
        if s.availability()? != Availability::Available || s.is_nrw_service() {
            continue;
        }
        let active = eas
            .iter()
            .find(|a| a.service.as_ref().is_some_and(|x| x.id == s.id) && is_active(a.status));
        callable.push(json!({
            "id": s.id,
            "name": s.name,
            "operator": operator,
            "providing_state": s.providing_state,
            "ea": active,
        }));
    }
    let mut ctx = page_context(&session, "Meine Kommune")?;
    ctx["municipality"] = json!({
        "id": municipality.id,
        "name": municipality.display_name(),
        "ags": municipality.ags,
        "kreis": municipality.kreis_name,
        "regierungsbezirk": municipality.regierungsbezirk,
    });
    ctx["rv"] = json!(rv);
    ctx["rv_in_force"] = json!(rv_in_force);
    ctx["eas"] = json!(eas);
    ctx["services"] = json!(callable);
    ctx["may_sign"] = json!(session.user.may_sign);
    ctx["tasks"] = json!(tasks.items);
    ctx["tasks_total"] = json!(tasks.total);
    Ok(super::render("kommune.html", ctx))
}

/// Requests the municipality's RV: created and put up for signature in one step.
#[post("/kommune/rahmenvereinbarung", data = "<form>")]
async fn request_rv(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<CsrfForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    own_municipality(&session)?;
    let (scope, actor) = (session.scope(), session.actor());
    let order = state.signing_order;
    let result = state
        .db
        .write(move |conn| {
            Checked::new(NewAgreement {
                kind: "rv".into(),
                notice_period_months: Some(6),
                signing_order: order,
                ..NewAgreement::default()
            })?
            .create_as(conn, &scope, &actor, Vec::new())
        })
        .await;
    match result {
        Ok(a) => Ok(Page::to(format!("/vereinbarungen/{}", a.id))),
        Err(e) if is_form_error(&e) => {
            Ok(session.refused_by(&e, "Rahmenvereinbarung nicht angelegt", "/kommune"))
        }
        Err(e) => Err(e),
    }
}

/// The input id of a parameter's field.
pub(super) fn field_id(model_field: &str) -> String {
    if let Some(key) = model_field.strip_prefix("parameters.") {
        format!("p-{}", key.split('.').next().unwrap_or(key))
    } else {
        model_field.replace('.', "-")
    }
}

/// Loads what the form needs: the service (offered and available), and whether the
/// municipality's RV is in force.
fn form_data(
    conn: &mut DbConn,
    scope: &Scope,
    service_id: &str,
) -> AppResult<(Service, bool, Option<AgreementView>)> {
    let service = Service::find(conn, service_id)
        .map_err(|_| AppError::not_found("Diesen Dienst gibt es nicht im Katalog."))?;
    if service.is_nrw_service() {
        return Err(AppError::new(ErrorKind::Rule, format!("„{}“ ist ein Dienst aus Nordrhein-Westfalen: Kommunen in NRW nutzen ihn direkt, ohne Einzelabruf über d-NRW.", service.name),
        ));
    }
    if service.availability()? != Availability::Available {
        return Err(AppError::new(
            ErrorKind::Rule,
            format!(
                "„{}“ ist {}; ein Einzelabruf ist erst möglich, wenn der Dienst verfügbar ist.",
                service.name,
                service.availability()?.label()
            ),
        ));
    }
    let agreements = own_agreements(conn, scope)?;
    let rv_in_force = agreements
        .iter()
        .any(|a| a.kind == AgreementKind::Rv && a.status == AgreementStatus::InForce);
    let existing = agreements.into_iter().find(|a| {
        a.kind == AgreementKind::Ea
            && a.service.as_ref().is_some_and(|s| s.id == service.id)
            && is_active(a.status)
    });
    Ok((service, rv_in_force, existing))
}

fn form_page(
    session: &Session,
    service: &Service,
    rv_in_force: bool,
    existing: Option<AgreementView>,
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
    let mut ctx = page_context(session, &format!("Einzelabruf: {}", service.name))?;
    let defs = parameter_fields(service, &values)?;
    ctx["service"] = json!(service.view(None)?);
    ctx["parameters"] = json!(defs);
    ctx["rv_in_force"] = json!(rv_in_force);
    ctx["existing"] = json!(existing);
    ctx["values"] = json!({
        "kontakt_name": values["kontakt_name"].as_str().unwrap_or(""),
        "kontakt_email": values["kontakt_email"].as_str().unwrap_or(""),
        "kontakt_telefon": values["kontakt_telefon"].as_str().unwrap_or(""),
    });
    super::set_errors(&mut ctx, errors);
    ctx["max_wappen_kib"] = json!(crate::domain::upload::MAX_COAT_OF_ARMS_BYTES / 1024);
    ctx["max_cert_kib"] = json!(crate::domain::upload::MAX_CERTIFICATE_BYTES / 1024);
    Ok(super::render("ea_form.html", ctx))
}

/// The service's parameters as the form shows them (the coat of arms is an upload of its
/// own), with what was typed in `values["p"]`.
pub(super) fn parameter_fields(service: &Service, values: &Value) -> AppResult<Vec<Value>> {
    Ok(service
        .parameter_defs()?
        .into_iter()
        .filter(|d| d.kind != ParameterKind::CoatOfArms)
        .map(|d| {
            let given = |k: &str| values["p"][k].as_str().unwrap_or("").to_string();
            json!({
                "key": d.key,
                "label": d.label,
                "kind": d.kind,
                "required": d.required,
                "value": given(&d.key),
                "provider": given(&format!("{}.provider", d.key)),
                "merchant_id": given(&format!("{}.merchant_id", d.key)),
            })
        })
        .collect())
}

/// `/kommune/einzelabruf?dienst=<id>`: the guided form.
#[get("/kommune/einzelabruf?<dienst>")]
async fn ea_form(
    state: &State<AppState>,
    session: Option<Session>,
    dienst: Option<&str>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    own_municipality(&session)?;
    let Some(dienst) = dienst else {
        return Ok(Page::to("/kommune"));
    };
    let id = crate::http::params::id(dienst)?;
    let scope = session.scope();
    let (service, rv, existing) = state
        .db
        .read(move |conn| form_data(conn, &scope, &id))
        .await?;
    form_page(&session, &service, rv, existing, json!({}), None)
}

#[derive(FromForm)]
struct EaForm<'r> {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    dienst: String,
    /// Parameter values by key (`p[key]`; ePayment as `p[key.provider]`, …).
    p: HashMap<String, String>,
    wappen: Option<TempFile<'r>>,
    zertifikat: Option<TempFile<'r>>,
    #[field(default = String::new())]
    kontakt_name: String,
    #[field(default = String::new())]
    kontakt_email: String,
    #[field(default = String::new())]
    kontakt_telefon: String,
}

/// A file field's name and bytes; `None` when no file was chosen.
pub(super) async fn read_file(file: &Option<TempFile<'_>>) -> AppResult<Option<(String, Vec<u8>)>> {
    let Some(file) = file else { return Ok(None) };
    if file.len() == 0 {
        return Ok(None);
    }
    let name = file
        .raw_name()
        .map(|n| n.dangerous_unsafe_unsanitized_raw().as_str().to_string())
        .unwrap_or_default();
    let mut bytes = Vec::with_capacity(file.len() as usize);
    file.open()
        .await
        .map_err(|e| AppError::bad_request(format!("Upload nicht lesbar: {e}")))?
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| AppError::bad_request(format!("Upload nicht lesbar: {e}")))?;
    Ok(Some((name, bytes)))
}

/// Turns the form's text into typed parameter values, collecting what cannot be read.
pub(super) fn parameter_values(
    service: &Service,
    raw: &HashMap<String, String>,
    problems: &mut Vec<FieldError>,
) -> AppResult<BTreeMap<String, Value>> {
    let mut values = BTreeMap::new();
    let text = |k: &str| raw.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    for def in service.parameter_defs()? {
        let key = def.key.clone();
        match def.kind {
            ParameterKind::CoatOfArms => {}
            ParameterKind::Boolean => {
                values.insert(key.clone(), Value::Bool(!text(&key).is_empty()));
            }
            ParameterKind::FeeCents => {
                let t = text(&key);
                if t.is_empty() {
                    continue;
                }
                match t.parse::<i64>() {
                    Ok(c) if c >= 0 => {
                        values.insert(key, json!(c));
                    }
                    _ => problems.push(FieldError {
                        field: format!("parameters.{key}"),
                        message: format!(
                            "{}: bitte eine ganze Zahl ab 0 (Cent) eingeben, z. B. 2500 für 25,00 €.",
                            def.label
                        ),
                    }),
                }
            }
            ParameterKind::Epayment => {
                let provider = text(&format!("{key}.provider"));
                let merchant = text(&format!("{key}.merchant_id"));
                if !provider.is_empty() || !merchant.is_empty() {
                    values.insert(
                        key,
                        json!({ "provider": provider, "merchant_id": merchant }),
                    );
                }
            }
            ParameterKind::Url | ParameterKind::Email | ParameterKind::Text => {
                let t = text(&key);
                if !t.is_empty() {
                    values.insert(key, Value::String(t));
                }
            }
        }
    }
    Ok(values)
}

/// Files the Einzelabruf through `actions::ea::file` (the API's path too), which checks
/// everything at once; on success the EA waits for signatures and the user goes to its
/// page to review and sign it, otherwise the form comes back with every problem.
#[post("/kommune/einzelabruf", data = "<form>")]
async fn file_ea(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<EaForm<'_>>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    own_municipality(&session)?;
    let service_id = crate::http::params::id(&form.dienst)?;
    let scope = session.scope();
    let (service, rv, existing) = {
        let (scope, id) = (scope.clone(), service_id.clone());
        state
            .db
            .read(move |conn| form_data(conn, &scope, &id))
            .await?
    };
    let values = json!({
        "p": form.p,
        "kontakt_name": form.kontakt_name,
        "kontakt_email": form.kontakt_email,
        "kontakt_telefon": form.kontakt_telefon,
    });

    let mut unreadable = Vec::new();
    let parameters = parameter_values(&service, &form.p, &mut unreadable)?;
    let mut uploads = Vec::new();
    for (field, file) in [("wappen", &form.wappen), ("zertifikat", &form.zertifikat)] {
        if let Some((file_name, bytes)) = read_file(file).await? {
            uploads.push(Upload {
                field,
                file_name,
                bytes,
            });
        }
    }
    let filing = Filing {
        agreement: Checked::new(NewAgreement {
            kind: "ea".into(),
            service_id: Some(service_id),
            notice_period_months: Some(3),
            parameters,
            signing_order: state.signing_order,
            ..NewAgreement::default()
        })?,
        unreadable,
        contact: Some(ContactPerson {
            name: form.kontakt_name.clone(),
            email: form.kontakt_email.clone(),
            phone: form.kontakt_telefon.clone(),
        }),
        uploads,
    };
    let actor = session.actor();
    let result = state
        .db
        .write(move |conn| ea::file(conn, &scope, &actor, filing))
        .await;
    match result {
        Ok(a) => Ok(Page::to(format!("/vereinbarungen/{}?neu=1", a.id))),
        Err(e) if is_form_error(&e) => Ok(form_page(
            &session,
            &service,
            rv,
            existing,
            values,
            Some(form_errors(&e, field_id)),
        )?
        .with_status(Status::UnprocessableEntity)),
        Err(e) => Err(e),
    }
}
