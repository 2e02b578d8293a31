//! d-NRW's forms for agreements: a new IÖV, EKV (with its AVV) or RV as a draft; the
//! lifecycle steps on an agreement's page (submit, cancel, terminate with or without its
//! dependants); recording the signature of a partner's authorised contact person.
//! Everything goes through the same model actions as the API, so the same rules apply
//! and refusals read the same.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, routes, Route, State};
use serde_json::{json, Value};

use super::{form_errors, is_form_error, page_context, signed_in, staff_form, Page, Session};
use crate::domain::text::Checked;
use crate::domain::{AgreementKind, Avv, Status as AgreementStatus};
use crate::error::{AppError, AppResult, ErrorKind, FieldError};
use crate::http::state::AppState;
use crate::models::agreement::{
    Agreement, AgreementView, AmendmentInput, AmendmentStep, EditInput, NewAgreement,
    TransitionInput,
};
use crate::models::municipality::Municipality;
use crate::models::organisation::{self, Organisation};
use crate::models::service::Service;
use crate::models::signature::{SignContext, SignInput};

pub fn routes() -> Vec<Route> {
    routes![
        new_form,
        create,
        edit_form,
        edit,
        ea_form,
        ea_create,
        amend_form,
        amend,
        amendment_step,
        step,
        record_signature
    ]
}

/// The kinds d-NRW drafts here (Einzelabrufe file the municipalities themselves).
fn kind_of(art: &str) -> AppResult<AgreementKind> {
    match AgreementKind::parse(art) {
        Some(k @ (AgreementKind::Ioev | AgreementKind::Ekv | AgreementKind::Rv)) => Ok(k),
        _ => Err(AppError::not_found(
            "Hier entstehen IÖV, EKV und RV; Einzelabrufe stellen die Kommunen selbst (oder d-NRW über die API).",
        )),
    }
}

#[derive(FromForm, Default)]
pub(super) struct DraftForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = 0)]
    lock_version: i32,
    #[field(default = String::new())]
    art: String,
    #[field(default = String::new())]
    counterparty: String,
    #[field(default = String::new())]
    service: String,
    #[field(default = String::new())]
    ags: String,
    #[field(default = String::new())]
    notice: String,
    #[field(default = String::new())]
    costs: String,
    #[field(default = String::new())]
    notes: String,
    #[field(default = String::new())]
    avv_subject: String,
    #[field(default = String::new())]
    avv_duration: String,
    #[field(default = String::new())]
    avv_purpose: String,
    #[field(default = String::new())]
    avv_data: String,
    #[field(default = String::new())]
    avv_subjects: String,
    #[field(default = String::new())]
    avv_measures: String,
    /// Amendments: what changes and why.
    #[field(default = String::new())]
    change_note: String,
}

impl DraftForm {
    /// The notice period in months (empty: none).
    fn notice_months(&self) -> AppResult<Option<i32>> {
        match self.notice.trim() {
            "" => Ok(None),
            n => n.parse::<i32>().map(Some).map_err(|_| {
                AppError::field(
                    "notice_period_months",
                    "Die Kündigungsfrist ist eine Zahl von Monaten.",
                )
            }),
        }
    }

    fn values(&self) -> Value {
        json!({
            "lock_version": self.lock_version,
            "counterparty": self.counterparty, "service": self.service, "ags": self.ags,
            "notice": self.notice, "costs": self.costs, "notes": self.notes,
            "avv_subject": self.avv_subject, "avv_duration": self.avv_duration,
            "avv_purpose": self.avv_purpose, "avv_data": self.avv_data,
            "avv_subjects": self.avv_subjects, "avv_measures": self.avv_measures,
            "change_note": self.change_note,
        })
    }
}

/// The form's input ids for the model's field names.
fn field_id(model: &str) -> String {
    match model {
        "counterparty_id" => "counterparty",
        "service_id" => "service",
        "municipality_id" => "ags",
        "notice_period_months" => "notice",
        "avv.subject" => "avv_subject",
        "avv.duration" => "avv_duration",
        "avv.nature_and_purpose" => "avv_purpose",
        "avv.data_types" => "avv_data",
        "avv.data_subjects" => "avv_subjects",
        "avv.technical_measures" => "avv_measures",
        other if other.starts_with("avv") => "avv_subject",
        other => other,
    }
    .to_string()
}

async fn form_page(
    state: &State<AppState>,
    session: &Session,
    kind: AgreementKind,
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
    form_page_for(state, session, kind, None, values, errors).await
}

/// The form for a new draft, or (with `editing`: the agreement's view) for changing one.
async fn form_page_for(
    state: &State<AppState>,
    session: &Session,
    kind: AgreementKind,
    editing: Option<AgreementView>,
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
    let (partners, services) = state
        .db
        .read(|conn| {
            let mut partners: Vec<Organisation> =
                Organisation::list(conn, organisation::Role::Intermediary)?;
            for p in Organisation::list(conn, organisation::Role::Provider)? {
                if !partners.iter().any(|o| o.id == p.id) {
                    partners.push(p);
                }
            }
            partners.retain(|o| !o.is_self);
            partners.sort_by(|a, b| a.name.cmp(&b.name));
            let services = Service::list_with_operator(conn, false)?;
            Ok((partners, services))
        })
        .await?;
    let title = match &editing {
        Some(a) => format!("{} {} bearbeiten", kind.label(), a.reference),
        None => format!("Neue {}", kind.label()),
    };
    let mut ctx = page_context(session, &title)?;
    ctx["editing"] = json!(editing);
    ctx["kind"] = json!(kind.as_str());
    ctx["kind_label"] = json!(kind.label());
    ctx["partners"] = json!(partners
        .iter()
        .map(|o| json!({ "id": o.id, "name": o.name }))
        .collect::<Vec<_>>());
    ctx["services"] = json!(services
        .iter()
        .map(|(s, _)| json!({ "id": s.id, "name": s.name }))
        .collect::<Vec<_>>());
    ctx["avv_fields"] = avv_fields();
    ctx["values"] = values;
    super::set_errors(&mut ctx, errors);
    Ok(super::render("draft_form.html", ctx))
}

/// `/vereinbarungen/neu?art=ioev|ekv|rv`
#[get("/vereinbarungen/neu?<art>")]
async fn new_form(
    state: &State<AppState>,
    session: Option<Session>,
    art: Option<&str>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let kind = kind_of(art.unwrap_or(""))?;
    let values = DraftForm {
        notice: match kind {
            AgreementKind::Ioev => "12",
            _ => "6",
        }
        .into(),
        ..<DraftForm as std::default::Default>::default()
    }
    .values();
    form_page(state, &session, kind, values, None).await
}

/// One entry per line, empty lines dropped.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[post("/vereinbarungen/neu", data = "<form>")]
async fn create(
    state: &State<AppState>,
    session: Option<Session>,
    form: Form<DraftForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let form = form.into_inner();
    let kind = kind_of(&form.art)?;
    let values = form.values();
    let notice = match form.notice_months() {
        Ok(n) => n,
        Err(err) => {
            return Ok(form_page_for(
                state,
                &session,
                kind,
                None,
                values,
                Some(form_errors(&err, field_id)),
            )
            .await?
            .with_status(Status::UnprocessableEntity))
        }
    };
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let avv = (kind == AgreementKind::Ekv).then(|| avv_of(&form));
    let ags = form.ags.trim().to_string();
    let input = NewAgreement {
        kind: kind.as_str().into(),
        counterparty_id: (kind != AgreementKind::Rv)
            .then(|| text(&form.counterparty))
            .flatten(),
        service_id: (kind == AgreementKind::Ekv)
            .then(|| text(&form.service))
            .flatten(),
        notice_period_months: notice,
        costs: text(&form.costs),
        notes: text(&form.notes),
        avv,
        ..NewAgreement::default()
    };
    let actor = session.actor();
    let result = state
        .db
        .write(move |conn| {
            let mut input = input;
            if kind == AgreementKind::Rv {
                let m = Municipality::find_by_ags(conn, &ags)?.ok_or_else(|| {
                    AppError::field(
                        "municipality_id",
                        format!("Es gibt keine Kommune mit dem AGS „{ags}“ (8 Ziffern, z. B. 05315000)."),
                    )
                })?;
                input.municipality_id = Some(m.id);
            }
            Checked::new(input)?.create(conn, &actor)
        })
        .await;
    match result {
        Ok(a) => Ok(Page::to(format!("/vereinbarungen/{}", a.id))),
        Err(e) if is_form_error(&e) => Ok(form_page(
            state,
            &session,
            kind,
            values,
            Some(form_errors(&e, field_id)),
        )
        .await?
        .with_status(Status::UnprocessableEntity)),
        Err(e) => Err(e),
    }
}

/// One entry per line, as the form shows a list.
pub(super) fn joined(items: &[String]) -> String {
    items.join("\n")
}

/// `/vereinbarungen/<id>/bearbeiten`: a draft's terms (notice period, costs, notes, AVV).
#[get("/vereinbarungen/<id>/bearbeiten")]
async fn edit_form(state: &State<AppState>, session: Option<Session>, id: &str) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let id = crate::http::params::id(id)?;
    let view = state
        .db
        .read(move |conn| Agreement::find(conn, &id)?.view(conn, false))
        .await?;
    let view = editable(view)?;
    let terms = state
        .db
        .read({
            let id = view.id.clone();
            move |conn| {
                let a = Agreement::find(conn, &id)?;
                a.version(conn, a.current_version)?.terms()
            }
        })
        .await?;
    let avv = terms.avv.clone().unwrap_or_default();
    let values = DraftForm {
        lock_version: view.lock_version,
        notice: view
            .notice_period_months
            .map(|n| n.to_string())
            .unwrap_or_default(),
        costs: terms.costs.clone().unwrap_or_default(),
        notes: terms.notes.clone().unwrap_or_default(),
        avv_subject: avv.subject,
        avv_duration: avv.duration,
        avv_purpose: avv.nature_and_purpose,
        avv_data: joined(&avv.data_types),
        avv_subjects: joined(&avv.data_subjects),
        avv_measures: joined(&avv.technical_measures),
        ..<DraftForm as std::default::Default>::default()
    }
    .values();
    form_page_for(state, &session, view.kind, Some(view), values, None).await
}

/// Only drafts of the kinds d-NRW drafts here are edited in this form.
fn editable(view: AgreementView) -> AppResult<AgreementView> {
    if view.status != AgreementStatus::Draft {
        return Err(AppError::new(
            ErrorKind::Immutable,
            format!(
                "{} ist kein Entwurf mehr ({}); Änderungen daran sind Änderungsfassungen.",
                view.reference, view.status_label
            ),
        ));
    }
    kind_of(view.kind.as_str())?;
    Ok(view)
}

#[post("/vereinbarungen/<id>/bearbeiten", data = "<form>")]
async fn edit(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
    form: Form<DraftForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let view = {
        let id = id.clone();
        state
            .db
            .read(move |conn| Agreement::find(conn, &id)?.view(conn, false))
            .await?
    };
    let view = editable(view)?;
    let kind = view.kind;
    let form = form.into_inner();
    // The form names the kind it edits; it cannot be changed.
    if !form.art.is_empty() && form.art != kind.as_str() {
        return Err(AppError::field(
            "art",
            "Die Art einer Vereinbarung lässt sich nicht ändern.",
        ));
    }
    let values = form.values();
    let notice = match form.notice_months() {
        Ok(n) => n,
        Err(err) => {
            return Ok(form_page_for(
                state,
                &session,
                kind,
                Some(view),
                values,
                Some(form_errors(&err, field_id)),
            )
            .await?
            .with_status(Status::UnprocessableEntity))
        }
    };
    let text = |s: &str| Some(s.trim().to_string());
    let input = EditInput {
        lock_version: form.lock_version,
        avv: (kind == AgreementKind::Ekv).then(|| avv_of(&form)),
        parameters: None,
        costs: text(&form.costs),
        notes: text(&form.notes),
        notice_period_months: Some(notice),
        ends_on: None,
    };
    let actor = session.actor();
    let aid = id.clone();
    match state
        .db
        .write(move |conn| Checked::new(input)?.apply(conn, &actor, &aid))
        .await
    {
        Ok(_) => Ok(Page::to(format!("/vereinbarungen/{id}"))),
        Err(e) if is_form_error(&e) => Ok(form_page_for(
            state,
            &session,
            kind,
            Some(view),
            values,
            Some(form_errors(&e, field_id)),
        )
        .await?
        .with_status(Status::UnprocessableEntity)),
        Err(e) => Err(e),
    }
}

/// The AVV's fields as the forms show them.
pub(super) fn avv_fields() -> Value {
    json!([
        { "id": "avv_subject", "label": "Gegenstand der Verarbeitung", "lines": false },
        { "id": "avv_duration", "label": "Dauer der Verarbeitung", "lines": false },
        { "id": "avv_purpose", "label": "Art und Zweck der Verarbeitung", "lines": true },
        { "id": "avv_data", "label": "Art der personenbezogenen Daten (eine je Zeile)", "lines": true },
        { "id": "avv_subjects", "label": "Kategorien betroffener Personen (eine je Zeile)", "lines": true },
        { "id": "avv_measures", "label": "Technische und organisatorische Maßnahmen (eine je Zeile)", "lines": true },
    ])
}

/// The AVV as the form writes it.
pub(super) fn avv_of(form: &DraftForm) -> Avv {
    Avv {
        subject: form.avv_subject.trim().to_string(),
        duration: form.avv_duration.trim().to_string(),
        nature_and_purpose: form.avv_purpose.trim().to_string(),
        data_types: lines(&form.avv_data),
        data_subjects: lines(&form.avv_subjects),
        technical_measures: lines(&form.avv_measures),
        sub_processors: Vec::new(),
    }
}

#[derive(FromForm)]
struct StepForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    action: String,
    #[field(default = String::new())]
    ende: String,
    #[field(default = String::new())]
    grund: String,
    #[field(default = false)]
    kaskade: bool,
}

/// A lifecycle step on an agreement's page: submit, cancel, terminate.
#[post("/vereinbarungen/<id>/schritt", data = "<form>")]
async fn step(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
    form: Form<StepForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let target = format!("/vereinbarungen/{id}");
    let form = form.into_inner();
    if !matches!(form.action.as_str(), "submit" | "cancel" | "terminate") {
        return Err(AppError::field("action", "Unbekannter Schritt."));
    }
    let Ok(ends_on) = super::form_date(&form.ende) else {
        return Ok(session.refused(
            Status::UnprocessableEntity,
            "Datum nicht lesbar",
            "Bitte das Vertragsende als Datum angeben (z. B. 2027-06-30).",
            &target,
        ));
    };
    let actor = session.actor();
    let input = TransitionInput {
        action: form.action,
        ends_on,
        reason: Some(form.grund.trim().to_string()).filter(|r| !r.is_empty()),
        cascade: form.kaskade,
        signing_order: state.signing_order,
        ..TransitionInput::default()
    };
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.apply(conn, &actor, &id))
        .await;
    match result {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if is_form_error(&e) => Ok(session.refused_by(&e, "Schritt nicht möglich", &target)),
        Err(e) => Err(e),
    }
}

#[derive(FromForm)]
struct ContactSignatureForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    contact: String,
}

/// Staff record the signature of the partner's authorised contact person (signed in
/// the registry's presence or on paper), as `POST …/signatures` with `contact_id` does.
#[post("/vereinbarungen/<id>/unterschrift-erfassen", data = "<form>")]
async fn record_signature(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
    form: Form<ContactSignatureForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let target = format!("/vereinbarungen/{id}");
    let contact_id = crate::http::params::id(&form.contact)
        .map_err(|_| AppError::field("contact_id", "Bitte eine Ansprechperson wählen."));
    let ctx = SignContext {
        actor: session.actor(),
        auth_method: format!(
            "erfasst von {} (d-NRW) in der Webanwendung",
            session.user.name
        ),
        user_id: Some(session.user.id.clone()),
        staff: true,
        ..SignContext::default()
    };
    let (sealer, order) = (state.sealer.clone(), state.signing_order);
    let result = match contact_id {
        Ok(contact_id) => {
            let id = id.clone();
            state
                .db
                .write(move |conn| {
                    Checked::new(SignInput {
                        contact_id: Some(contact_id),
                        version_no: None,
                    })?
                    .apply(conn, &sealer, order, &ctx, &id)
                })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if is_form_error(&e) || e.kind == ErrorKind::Forbidden => {
            Ok(session.refused_by(&e, "Unterschrift nicht erfasst", &target))
        }
        Err(e) => Err(e),
    }
}

#[derive(FromForm, Default)]
struct EaDraftForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    dienst: String,
    /// Inbound: the NRW municipality.
    #[field(default = String::new())]
    ags: String,
    /// Outbound: the other Land's intermediary and its municipality.
    #[field(default = String::new())]
    counterparty: String,
    #[field(default = String::new())]
    external_name: String,
    #[field(default = String::new())]
    external_ags: String,
    p: std::collections::HashMap<String, String>,
}

impl EaDraftForm {
    fn values(&self) -> Value {
        json!({
            "ags": self.ags, "counterparty": self.counterparty,
            "external_name": self.external_name, "external_ags": self.external_ags,
            "p": self.p,
        })
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
        ctx["parameters"] = json!(super::kommune::parameter_fields(s, &values)?);
    }
    ctx["values"] = values;
    super::set_errors(&mut ctx, errors);
    Ok(super::render("ea_draft_form.html", ctx))
}

/// `/vereinbarungen/neu-ea?dienst=<id>`
#[get("/vereinbarungen/neu-ea?<dienst>")]
async fn ea_form(
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
async fn ea_create(
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
    let parameters = super::kommune::parameter_values(&service, &form.p, &mut problems)?;
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let outbound = service.is_nrw_service();
    if outbound && form.counterparty.trim().is_empty() {
        problems.push(FieldError {
            field: "counterparty_id".into(),
            message: "Bitte den Kommunalvertreter des anderen Landes wählen.".into(),
        });
    }
    if outbound && form.external_name.trim().is_empty() {
        problems.push(FieldError {
            field: "external_party_name".into(),
            message: "Bitte den Namen der nachnutzenden Kommune angeben.".into(),
        });
    }
    let ags = form.ags.trim().to_string();
    let input = NewAgreement {
        kind: "ea".into(),
        service_id: Some(service_id.clone()),
        counterparty_id: outbound.then(|| text(&form.counterparty)).flatten(),
        external_party_name: outbound.then(|| text(&form.external_name)).flatten(),
        external_party_ags: outbound.then(|| text(&form.external_ags)).flatten(),
        notice_period_months: Some(3),
        parameters,
        avv_from_ekv: true,
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
                Checked::new(input)?.create(conn, &actor)
            })
            .await
    } else {
        Err(AppError::validation(problems))
    };
    let ids = |f: &str| match f {
        "municipality_id" => "ags".to_string(),
        "counterparty_id" => "counterparty".to_string(),
        "external_party_name" => "external_name".to_string(),
        "external_party_ags" => "external_ags".to_string(),
        other => super::kommune::field_id(other),
    };
    match result {
        Ok(a) => Ok(Page::to(format!("/vereinbarungen/{}", a.id))),
        Err(e) if is_form_error(&e) => Ok(ea_page(
            state,
            &session,
            Some(service_id),
            values,
            Some(form_errors(&e, ids)),
        )
        .await?
        .with_status(Status::UnprocessableEntity)),
        Err(e) => Err(e),
    }
}

/// The current terms of agreement `id` as the draft form shows them.
async fn current_terms(
    state: &State<AppState>,
    id: String,
) -> AppResult<(AgreementView, DraftForm)> {
    let (view, terms) = state
        .db
        .read(move |conn| {
            let a = Agreement::find(conn, &id)?;
            let terms = a.version(conn, a.current_version)?.terms()?;
            Ok((a.view(conn, true)?, terms))
        })
        .await?;
    let avv = terms.avv.clone().unwrap_or_default();
    let form = DraftForm {
        lock_version: view.lock_version,
        costs: terms.costs.clone().unwrap_or_default(),
        notes: terms.notes.clone().unwrap_or_default(),
        avv_subject: avv.subject,
        avv_duration: avv.duration,
        avv_purpose: avv.nature_and_purpose,
        avv_data: joined(&avv.data_types),
        avv_subjects: joined(&avv.data_subjects),
        avv_measures: joined(&avv.technical_measures),
        ..<DraftForm as std::default::Default>::default()
    };
    Ok((view, form))
}

async fn amend_page(
    session: &Session,
    view: &AgreementView,
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
    let mut ctx = page_context(session, &format!("Änderungsfassung zu {}", view.reference))?;
    ctx["a"] = json!(view);
    ctx["avv_fields"] = avv_fields();
    ctx["values"] = values;
    super::set_errors(&mut ctx, errors);
    Ok(super::render("amendment_form.html", ctx))
}

/// `/vereinbarungen/<id>/aenderung`: a new version of a signed agreement (costs, notes,
/// the AVV), signed and sealed as its own document.
#[get("/vereinbarungen/<id>/aenderung")]
async fn amend_form(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let id = crate::http::params::id(id)?;
    let (view, form) = current_terms(state, id).await?;
    amend_page(&session, &view, form.values(), None).await
}

#[post("/vereinbarungen/<id>/aenderung", data = "<form>")]
async fn amend(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
    form: Form<DraftForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let (view, _) = current_terms(state, id.clone()).await?;
    let form = form.into_inner();
    let input = AmendmentInput {
        lock_version: form.lock_version,
        change_note: form.change_note.trim().to_string(),
        avv: view.kind.has_avv().then(|| avv_of(&form)),
        parameters: None,
        costs: Some(form.costs.trim().to_string()),
        notes: Some(form.notes.trim().to_string()),
    };
    let (actor, aid) = (session.actor(), id.clone());
    match state
        .db
        .write(move |conn| Checked::new(input)?.apply(conn, &actor, &aid))
        .await
    {
        Ok(_) => Ok(Page::to(format!("/vereinbarungen/{id}"))),
        Err(e) if is_form_error(&e) => Ok(amend_page(
            &session,
            &view,
            form.values(),
            Some(form_errors(&e, field_id)),
        )
        .await?
        .with_status(Status::UnprocessableEntity)),
        Err(e) => Err(e),
    }
}

#[derive(FromForm)]
struct AmendmentStepForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    action: String,
    #[field(default = String::new())]
    ab: String,
}

/// Puts a signed amendment into force (from a date) or cancels an open one.
#[post("/vereinbarungen/<id>/aenderung/<no>/schritt", data = "<form>")]
async fn amendment_step(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
    no: i32,
    form: Form<AmendmentStepForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let target = format!("/vereinbarungen/{id}");
    let Ok(effective_from) = super::form_date(&form.ab) else {
        return Ok(session.refused(
            Status::UnprocessableEntity,
            "Datum nicht lesbar",
            "Bitte das Datum, ab dem die Änderung gilt, als Datum angeben (z. B. 2026-12-01).",
            &target,
        ));
    };
    let step = AmendmentStep {
        action: form.action.clone(),
        effective_from,
    };
    let actor = session.actor();
    match state
        .db
        .write(move |conn| Checked::new(step)?.apply(conn, &actor, &id, no))
        .await
    {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if is_form_error(&e) => Ok(session.refused_by(&e, "Schritt nicht möglich", &target)),
        Err(e) => Err(e),
    }
}
