//! The guided Einzelabruf form of a municipality (`/kommune/einzelabruf`): the service's
//! parameters, coat of arms, DVDV certificate and contact person, filed through
//! `actions::ea::file`.

use std::collections::HashMap;

use rocket::form::{Form, FromForm};
use rocket::fs::TempFile;
use rocket::http::Status;
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::{json, Value};

use super::{own_agreements, own_municipality};
use crate::actions::agreement::{NewAgreement, Submit};
use crate::actions::ea::{self, ContactPerson, Filing, Upload};
use crate::db::DbConn;
use crate::domain::membership::Standing;
use crate::domain::text::Checked;
use crate::domain::{AgreementKind, Availability, Status as AgreementStatus};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::state::AppState;
use crate::store::agreement::AgreementRow;
use crate::store::membership::Membership;
use crate::store::pending_upload::{self, Kept};
use crate::store::service::Service;
use crate::store::Scope;
use crate::web::fields::{field_id, parameter_fields, parameter_values, read_file};
use crate::web::{form_errors, form_outcome, form_session, page_context, signed_in, Page, Session};

/// What the form needs: the service (offered and available), whether the municipality's
/// RV is in force, its active EA of the service if any, and its Trägerschaft.
struct FormData {
    service: Service,
    rv_in_force: bool,
    existing: Option<AgreementRow>,
    standing: Standing,
}

fn form_data(conn: &mut DbConn, scope: &Scope, service_id: &str) -> AppResult<FormData> {
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
            && a.status.is_active()
    });
    let standing = match scope {
        Scope::Municipality(m) => Membership::standing(conn, m)?,
        _ => Standing::Unknown,
    };
    Ok(FormData {
        service,
        rv_in_force,
        existing,
        standing,
    })
}

fn form_page(
    session: &Session,
    data: FormData,
    values: Value,
    errors: Option<(Value, Value)>,
    kept: &[Kept],
) -> AppResult<Page> {
    let FormData {
        service,
        rv_in_force,
        existing,
        standing,
    } = data;
    let mut ctx = page_context(session, &format!("Einzelabruf: {}", service.name))?;
    let defs = parameter_fields(&service, &values)?;
    ctx["service"] = json!(service.view(None)?);
    ctx["parameters"] = json!(defs);
    ctx["rv_in_force"] = json!(rv_in_force);
    ctx["existing"] = json!(existing);
    ctx["traegerschaft"] = json!({ "code": standing.code(), "label": standing.label() });
    ctx["values"] = json!({
        "kontakt_name": values["kontakt_name"].as_str().unwrap_or(""),
        "kontakt_email": values["kontakt_email"].as_str().unwrap_or(""),
        "kontakt_telefon": values["kontakt_telefon"].as_str().unwrap_or(""),
        "non_member_reason": values["non_member_reason"].as_str().unwrap_or(""),
    });
    ctx["refilled"] = values["refilled"].clone();
    // Files of the refused try, kept for this session: shown with "ersetzen".
    ctx["kept_any"] = json!(!kept.is_empty());
    ctx["kept"] = json!(kept
        .iter()
        .map(|k| (
            k.field.clone(),
            json!({ "id": k.id, "file_name": k.file_name })
        ))
        .collect::<serde_json::Map<_, _>>());
    crate::web::set_errors(&mut ctx, errors);
    ctx["max_wappen_kib"] = json!(crate::domain::upload::MAX_COAT_OF_ARMS_BYTES / 1024);
    ctx["max_cert_kib"] = json!(crate::domain::upload::MAX_CERTIFICATE_BYTES / 1024);
    Ok(crate::web::render("ea_form.html", ctx))
}

/// `/kommune/einzelabruf?dienst=<id>`: the guided form; `von=<id>` fills it with the
/// values of the municipality's own draft it discarded to change them.
#[get("/kommune/einzelabruf?<dienst>&<von>")]
pub(super) async fn ea_form(
    state: &State<AppState>,
    session: Option<Session>,
    dienst: Option<&str>,
    von: Option<&str>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    own_municipality(&session)?;
    let Some(dienst) = dienst else {
        return Ok(Page::to("/kommune"));
    };
    let id = crate::http::params::id(dienst)?;
    let from = von.map(crate::http::params::id).transpose()?;
    let scope = session.scope();
    let (data, values) = state
        .db
        .read(move |conn| {
            let data = form_data(conn, &scope, &id)?;
            let values = match from {
                Some(from) => earlier_values(conn, &scope, &data.service, &from)?,
                None => json!({}),
            };
            Ok((data, values))
        })
        .await?;
    form_page(&session, data, values, None, &[])
}

/// The form's values from a discarded draft Einzelabruf of the same municipality and
/// service: its parameters and the contact person its notes name.
fn earlier_values(
    conn: &mut DbConn,
    scope: &Scope,
    service: &Service,
    id: &str,
) -> AppResult<serde_json::Value> {
    let a = crate::store::agreement::Agreement::find_in(conn, scope, id)?;
    if a.kind != AgreementKind::Ea
        || a.status != AgreementStatus::Cancelled
        || a.service_id.as_deref() != Some(service.id.as_str())
    {
        return Ok(json!({}));
    }
    let terms = a.version(conn, a.current_version)?.terms()?;
    let p = crate::web::fields::parameter_texts(service, &terms.parameters)?;
    let contact = terms
        .notes
        .as_deref()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Fachliche Ansprechperson der Kommune: "))
        .map(|c| c.split(", ").collect::<Vec<_>>())
        .unwrap_or_default();
    let phone = contact
        .get(2)
        .and_then(|t| t.strip_prefix("Tel. "))
        .unwrap_or_default();
    Ok(json!({
        "refilled": a.reference,
        "p": p,
        "kontakt_name": contact.first().copied().unwrap_or_default(),
        "kontakt_email": contact.get(1).copied().unwrap_or_default(),
        "kontakt_telefon": phone,
        "non_member_reason": a.non_member_reason,
    }))
}

#[derive(FromForm, Serialize)]
pub(super) struct EaForm<'r> {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    #[field(default = String::new())]
    #[serde(skip)]
    dienst: String,
    /// Parameter values by key (`p[key]`; ePayment as `p[key.provider]`, …).
    p: HashMap<String, String>,
    #[serde(skip)]
    wappen: Option<TempFile<'r>>,
    #[serde(skip)]
    zertifikat: Option<TempFile<'r>>,
    /// The coat of arms / certificate kept from a refused try (`store::pending_upload`),
    /// used when no new file is chosen.
    #[field(default = String::new())]
    #[serde(skip)]
    wappen_behalten: String,
    #[field(default = String::new())]
    #[serde(skip)]
    zertifikat_behalten: String,
    #[field(default = String::new())]
    kontakt_name: String,
    #[field(default = String::new())]
    kontakt_email: String,
    #[field(default = String::new())]
    kontakt_telefon: String,
    /// Why the municipality may re-use without being Träger of d-NRW.
    #[field(default = String::new())]
    non_member_reason: String,
}

/// Files the Einzelabruf through `actions::ea::file` (the API's path too), which checks
/// everything at once; on success the EA waits for signatures and the user goes to its
/// page to review and sign it, otherwise the form comes back with every problem.
#[post("/kommune/einzelabruf", data = "<form>")]
pub(super) async fn file_ea(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<EaForm<'_>>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    own_municipality(&session)?;
    let service_id = crate::http::params::id(&form.dienst)?;
    let scope = session.scope();
    let data = {
        let (scope, id) = (scope.clone(), service_id.clone());
        state
            .db
            .read(move |conn| form_data(conn, &scope, &id))
            .await?
    };
    let service = &data.service;
    let values = json!(&*form);

    let mut unreadable = Vec::new();
    let parameters = parameter_values(service, &form.p, &mut unreadable)?;
    let session_key = pending_upload::session_key(&session.csrf);
    let mut uploads = Vec::new();
    let mut kept_ids = Vec::new();
    for (field, file, kept) in [
        ("wappen", &form.wappen, &form.wappen_behalten),
        ("zertifikat", &form.zertifikat, &form.zertifikat_behalten),
    ] {
        if let Some((file_name, bytes)) = read_file(file).await? {
            uploads.push(Upload {
                field,
                file_name,
                bytes,
            });
        } else if !kept.is_empty() {
            kept_ids.push((field, crate::http::params::id(kept)?));
        }
    }
    if !kept_ids.is_empty() {
        let (user, key) = (session.user.id.clone(), session_key.clone());
        let earlier = state
            .db
            .read(move |conn| {
                let mut found = Vec::new();
                for (field, id) in kept_ids {
                    found.extend(
                        pending_upload::find(conn, &user, &key, field, &id)?.map(|k| Upload {
                            field,
                            file_name: k.file_name,
                            bytes: k.bytes,
                        }),
                    );
                }
                Ok(found)
            })
            .await?;
        uploads.extend(earlier);
    }
    // A copy of each file, to keep those that pass their own check if the form is refused.
    let handed_in: Vec<(&'static str, String, Vec<u8>)> = uploads
        .iter()
        .map(|u| (u.field, u.file_name.clone(), u.bytes.clone()))
        .collect();
    let (uploads, refused) = ea::check_uploads(uploads);
    let refused_fields: Vec<String> = refused.iter().map(|f| f.field.clone()).collect();
    unreadable.extend(refused);
    let agreement = Checked::new(NewAgreement {
        kind: "ea".into(),
        service_id: Some(service_id),
        notice_period_months: Some(3),
        parameters,
        non_member_reason: Some(form.non_member_reason.clone()),
        ..NewAgreement::default()
    });
    let result = match agreement {
        Err(e) => Err(e.into()),
        Ok(agreement) => {
            let filing = Filing {
                agreement,
                unreadable,
                contact: Some(ContactPerson {
                    name: form.kontakt_name.clone(),
                    email: form.kontakt_email.clone(),
                    phone: form.kontakt_telefon.clone(),
                }),
                uploads,
                submit: Submit::AfterReview,
            };
            let (actor, order) = (session.actor(), state.signing_order);
            state
                .db
                .write(move |conn| ea::file(conn, &scope, &actor, order, filing))
                .await
        }
    };
    match form_outcome(result)? {
        Ok(a) => {
            state
                .db
                .write(move |conn| pending_upload::discard(conn, &session_key))
                .await?;
            Ok(Page::to(format!("/vereinbarungen/{}?neu=1", a.id)))
        }
        Err(e) => {
            let user = session.user.id.clone();
            let kept = state
                .db
                .write(move |conn| {
                    handed_in
                        .iter()
                        .filter(|(field, _, _)| !refused_fields.iter().any(|r| r == field))
                        .map(|(field, name, bytes)| {
                            pending_upload::keep(conn, &user, &session_key, field, name, bytes)
                        })
                        .collect::<AppResult<Vec<_>>>()
                })
                .await?;
            Ok(form_page(
                &session,
                data,
                values,
                Some(form_errors(&e, field_id)),
                &kept,
            )?
            .with_status(Status::UnprocessableEntity))
        }
    }
}
