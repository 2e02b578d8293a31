//! Staff draft an Einzelabruf (`/vereinbarungen/neu-ea`), for an NRW municipality or,
//! outbound, for another Land's municipality.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::{json, Value};

use super::entwurf::{AvvForm, DraftForm};
use crate::actions::agreement::{AvvSource, NewAgreement};
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::store::agreement::{Agreement, AgreementView};
use crate::store::municipality::Municipality;
use crate::store::organisation::{self, Organisation};
use crate::store::service::Service;
use crate::web::{form_errors, form_outcome, page_context, signed_in, staff_form, Page, Session};

#[derive(FromForm, Default, Serialize)]
pub(super) struct EaDraftForm {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    #[field(default = String::new())]
    #[serde(skip)]
    dienst: String,
    /// Inbound: the NRW municipality.
    #[field(default = String::new())]
    ags: String,
    /// Outbound: the other Land's intermediary and its municipality.
    #[field(default = String::new())]
    counterparty_id: String,
    #[field(default = String::new())]
    external_party_name: String,
    #[field(default = String::new())]
    external_party_ags: String,
    p: std::collections::HashMap<String, String>,
    /// Inbound: why a municipality that is not Träger may re-use (`domain::membership`).
    #[field(default = String::new())]
    non_member_reason: String,
}

impl EaDraftForm {
    fn values(&self) -> Value {
        json!(self)
    }
}

/// The EA form for staff: first the service, then (as the service decides the direction)
/// the NRW municipality, or the other Land's intermediary and municipality, and the
/// service's parameters.
async fn ea_page(
    state: &State<AppState>,
    session: &Session,
    service_id: Option<String>,
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
    let (services, intermediaries, service) = state
        .db
        .read(move |conn| {
            let services = Service::list_with_operator(conn, false)?;
            let intermediaries: Vec<Organisation> =
                Organisation::list(conn, organisation::Role::Intermediary)?
                    .into_iter()
                    .filter(|o| !o.is_self)
                    .collect();
            let service = match service_id {
                Some(id) => Some(Service::find(conn, &id)?),
                None => None,
            };
            Ok((services, intermediaries, service))
        })
        .await?;
    let mut ctx = page_context(session, "Neuer Einzelabruf")?;
    ctx["services"] = json!(services
        .iter()
        .map(|(s, _)| json!({ "id": s.id, "name": s.name }))
        .collect::<Vec<_>>());
    ctx["intermediaries"] = json!(intermediaries
        .iter()
        .map(|o| json!({ "id": o.id, "name": o.name }))
        .collect::<Vec<_>>());
    if let Some(s) = &service {
        ctx["service"] = json!({ "id": s.id, "name": s.name, "outbound": s.is_nrw_service() });
        ctx["parameters"] = json!(crate::web::fields::parameter_fields(s, &values)?);
    }
    ctx["values"] = values;
    crate::web::set_errors(&mut ctx, errors);
    Ok(crate::web::render("ea_draft_form.html", ctx))
}

/// `/vereinbarungen/neu-ea?dienst=<id>`
#[get("/vereinbarungen/neu-ea?<dienst>")]
pub(super) async fn ea_form(
    state: &State<AppState>,
    session: Option<Session>,
    dienst: Option<&str>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let service = match dienst.filter(|d| !d.is_empty()) {
        Some(d) => Some(crate::http::params::id(d)?),
        None => None,
    };
    let blank = <EaDraftForm as std::default::Default>::default().values();
    ea_page(state, &session, service, blank, None).await
}

#[post("/vereinbarungen/neu-ea", data = "<form>")]
pub(super) async fn ea_create(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<EaDraftForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let form = form.into_inner();
    let service_id = crate::http::params::id(&form.dienst)?;
    let values = form.values();
    let service = {
        let id = service_id.clone();
        state.db.read(move |conn| Service::find(conn, &id)).await?
    };
    let mut problems = Vec::new();
    let parameters = crate::web::fields::parameter_values(&service, &form.p, &mut problems)?;
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let outbound = service.is_nrw_service();
    if outbound && form.counterparty_id.trim().is_empty() {
        problems.push(FieldError {
            field: "counterparty_id".into(),
            message: "Bitte den Kommunalvertreter des anderen Landes wählen.".into(),
        });
    }
    if outbound && form.external_party_name.trim().is_empty() {
        problems.push(FieldError {
            field: "external_party_name".into(),
            message: "Bitte den Namen der nachnutzenden Kommune angeben.".into(),
        });
    }
    let ags = form.ags.trim().to_string();
    let input = NewAgreement {
        kind: "ea".into(),
        service_id: Some(service_id.clone()),
        counterparty_id: outbound.then(|| text(&form.counterparty_id)).flatten(),
        external_party_name: outbound.then(|| text(&form.external_party_name)).flatten(),
        external_party_ags: outbound.then(|| text(&form.external_party_ags)).flatten(),
        notice_period_months: Some(3),
        parameters,
        non_member_reason: (!outbound).then(|| text(&form.non_member_reason)).flatten(),
        ..NewAgreement::default()
    };
    let actor = session.actor();
    let result = if problems.is_empty() {
        state
            .db
            .write(move |conn| {
                let mut input = input;
                if !outbound {
                    let m = Municipality::find_by_ags(conn, &ags)?.ok_or_else(|| {
                        AppError::field(
                            "municipality_id",
                            format!("Es gibt keine Kommune in NRW mit dem AGS „{ags}“."),
                        )
                    })?;
                    input.municipality_id = Some(m.id);
                }
                Checked::new(input)?.create(conn, &actor, AvvSource::FromEkv)
            })
            .await
    } else {
        Err(AppError::validation(problems))
    };
    let ids = |f: &str| match f {
        "municipality_id" => "ags".to_string(),
        other => crate::web::fields::field_id(other),
    };
    match form_outcome(result)? {
        Ok(a) => Ok(Page::to(format!("/vereinbarungen/{}", a.id))),
        Err(e) => Ok(ea_page(
            state,
            &session,
            Some(service_id),
            values,
            Some(form_errors(&e, ids)),
        )
        .await?
        .with_status(Status::UnprocessableEntity)),
    }
}

/// The current terms of agreement `id` as the draft form shows them.
pub(super) async fn current_terms(
    state: &State<AppState>,
    id: AgreementId,
) -> AppResult<(AgreementView, DraftForm)> {
    let (view, terms) = state
        .db
        .read(move |conn| {
            let a = Agreement::find(conn, &id)?;
            let terms = a.version(conn, a.current_version)?.terms()?;
            Ok((a.view(conn, true)?, terms))
        })
        .await?;
    let form = DraftForm {
        lock_version: view.lock_version,
        costs: terms.costs.clone().unwrap_or_default(),
        notes: terms.notes.clone().unwrap_or_default(),
        avv: AvvForm::of(terms.avv.clone()),
        ..<DraftForm as std::default::Default>::default()
    };
    Ok((view, form))
}
