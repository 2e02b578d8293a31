//! Staff draft and edit IÖV, EKV and RV (`/vereinbarungen/neu`, `…/bearbeiten`) and edit
//! Einzelabruf drafts (their parameters too); the form shared with amendments.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::{json, Value};

use crate::actions::agreement::{AvvSource, EditInput, NewAgreement};
use crate::domain::text::Checked;
use crate::domain::{AgreementKind, Avv, Status as AgreementStatus};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::store::agreement::{Agreement, AgreementView};
use crate::store::municipality::Municipality;
use crate::store::organisation::{self, Organisation};
use crate::store::service::Service;
use crate::web::{form_errors, form_outcome, page_context, signed_in, staff_form, Page, Session};

/// The kinds d-NRW drafts here (Einzelabrufe file the municipalities themselves).
fn kind_of(art: &str) -> AppResult<AgreementKind> {
    match AgreementKind::parse(art) {
        Some(k @ (AgreementKind::Ioev | AgreementKind::Ekv | AgreementKind::Rv)) => Ok(k),
        _ => Err(AppError::not_found(
            "Hier entstehen IÖV, EKV und RV; Einzelabrufe stellen die Kommunen selbst (oder d-NRW über die API).",
        )),
    }
}

#[derive(FromForm, Default, Serialize)]
pub(super) struct DraftForm {
    #[field(default = String::new())]
    #[serde(skip)]
    pub(super) csrf: String,
    #[field(default = 0)]
    pub(super) lock_version: i32,
    #[field(default = String::new())]
    #[serde(skip)]
    pub(super) art: String,
    #[field(default = String::new())]
    pub(super) counterparty_id: String,
    #[field(default = String::new())]
    pub(super) service_id: String,
    #[field(default = String::new())]
    pub(super) ags: String,
    #[field(default = String::new())]
    pub(super) notice_period_months: String,
    #[field(default = String::new())]
    pub(super) costs: String,
    #[field(default = String::new())]
    pub(super) notes: String,
    /// RV: why a municipality that is not Träger may re-use (`domain::membership`).
    #[field(default = String::new())]
    pub(super) non_member_reason: String,
    /// The AVV (EKV and amendments): fields `avv.subject`, `avv.data_types`, … as in the
    /// command.
    pub(super) avv: AvvForm,
    /// Amendments: what changes and why.
    #[field(default = String::new())]
    pub(super) change_note: String,
    /// An Einzelabruf's parameter values by key (`p[key]`), as the EA forms name them.
    pub(super) p: std::collections::HashMap<String, String>,
}

/// The AVV as the form has it: list fields one entry per line.
#[derive(FromForm, Default, Serialize)]
pub(super) struct AvvForm {
    #[field(default = String::new())]
    pub(super) subject: String,
    #[field(default = String::new())]
    pub(super) duration: String,
    #[field(default = String::new())]
    pub(super) nature_and_purpose: String,
    #[field(default = String::new())]
    pub(super) data_types: String,
    #[field(default = String::new())]
    pub(super) data_subjects: String,
    #[field(default = String::new())]
    pub(super) technical_measures: String,
}

impl AvvForm {
    /// The form's view of an AVV.
    pub(super) fn of(avv: Option<Avv>) -> Self {
        let avv = avv.unwrap_or_default();
        AvvForm {
            subject: avv.subject,
            duration: avv.duration,
            nature_and_purpose: avv.nature_and_purpose,
            data_types: avv.data_types.join("\n"),
            data_subjects: avv.data_subjects.join("\n"),
            technical_measures: avv.technical_measures.join("\n"),
        }
    }

    /// The AVV as the form writes it.
    pub(super) fn avv(&self) -> Avv {
        Avv {
            subject: self.subject.trim().to_string(),
            duration: self.duration.trim().to_string(),
            nature_and_purpose: self.nature_and_purpose.trim().to_string(),
            data_types: lines(&self.data_types),
            data_subjects: lines(&self.data_subjects),
            technical_measures: lines(&self.technical_measures),
            sub_processors: Vec::new(),
        }
    }
}

impl DraftForm {
    /// The notice period in months (empty: none).
    fn notice_months(&self) -> AppResult<Option<i32>> {
        match self.notice_period_months.trim() {
            "" => Ok(None),
            n => n.parse::<i32>().map(Some).map_err(|_| {
                AppError::field(
                    "notice_period_months",
                    "Die Kündigungsfrist ist eine Zahl von Monaten.",
                )
            }),
        }
    }

    pub(super) fn values(&self) -> Value {
        json!(self)
    }
}

/// The form's input id for a field the command names: the same, but for the AGS (the
/// form asks for it, the command takes the municipality), a list's entry (its textarea)
/// and what the form has no field for (the AVV as a whole, its sub-processors).
pub(super) fn field_id(model: &str) -> String {
    if model.starts_with("parameters.") {
        return crate::web::fields::field_id(model);
    }
    match model.split('[').next().unwrap_or(model) {
        "municipality_id" => "ags",
        "avv" | "avv.sub_processors" => "avv.subject",
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
    let service_id = editing
        .as_ref()
        .filter(|a| a.kind == AgreementKind::Ea)
        .and_then(|a| a.service.as_ref().map(|s| s.id.clone()));
    let parameters = match service_id {
        Some(id) => {
            let service = state.db.read(move |conn| Service::find(conn, &id)).await?;
            Some(crate::web::fields::parameter_fields(&service, &values)?)
        }
        None => None,
    };
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
        None => kind.new_title(),
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
    ctx["parameters"] = json!(parameters);
    ctx["values"] = values;
    crate::web::set_errors(&mut ctx, errors);
    Ok(crate::web::render("draft_form.html", ctx))
}

/// `/vereinbarungen/neu?art=ioev|ekv|rv`
#[get("/vereinbarungen/neu?<art>")]
pub(super) async fn new_form(
    state: &State<AppState>,
    session: Option<Session>,
    art: Option<&str>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let kind = kind_of(art.unwrap_or(""))?;
    let values = DraftForm {
        notice_period_months: match kind {
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
pub(super) async fn create(
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
    let avv = (kind == AgreementKind::Ekv).then(|| form.avv.avv());
    let ags = form.ags.trim().to_string();
    let input = NewAgreement {
        kind: kind.as_str().into(),
        counterparty_id: (kind != AgreementKind::Rv)
            .then(|| text(&form.counterparty_id))
            .flatten(),
        service_id: (kind == AgreementKind::Ekv)
            .then(|| text(&form.service_id))
            .flatten(),
        notice_period_months: notice,
        costs: text(&form.costs),
        notes: text(&form.notes),
        non_member_reason: (kind == AgreementKind::Rv)
            .then(|| text(&form.non_member_reason))
            .flatten(),
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
            Checked::new(input)?.create(conn, &actor, AvvSource::AsGiven)
        })
        .await;
    match form_outcome(result)? {
        Ok(a) => Ok(Page::to(format!("/vereinbarungen/{}", a.id))),
        Err(e) => Ok(form_page(
            state,
            &session,
            kind,
            values,
            Some(form_errors(&e, field_id)),
        )
        .await?
        .with_status(Status::UnprocessableEntity)),
    }
}

/// `/vereinbarungen/<id>/bearbeiten`: a draft's terms (notice period, costs, notes, AVV).
#[get("/vereinbarungen/<id>/bearbeiten")]
pub(super) async fn edit_form(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let id = id?;
    let view = state
        .db
        .read(move |conn| Agreement::find(conn, &id)?.view(conn, false))
        .await?;
    let view = editable(view)?;
    let (terms, p) = state
        .db
        .read({
            let id = view.id.clone();
            move |conn| {
                let a = Agreement::find(conn, &id)?;
                let terms = a.version(conn, a.current_version)?.terms()?;
                // An Einzelabruf's parameters as the form shows them.
                let p = match (&a.service_id, a.kind) {
                    (Some(s), AgreementKind::Ea) => {
                        let service = Service::find(conn, s)?;
                        crate::web::fields::parameter_texts(&service, &terms.parameters)?
                            .into_iter()
                            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    }
                    _ => std::collections::HashMap::new(),
                };
                Ok((terms, p))
            }
        })
        .await?;
    let values = DraftForm {
        lock_version: view.lock_version,
        notice_period_months: view
            .notice_period_months
            .map(|n| n.to_string())
            .unwrap_or_default(),
        costs: terms.costs.clone().unwrap_or_default(),
        notes: terms.notes.clone().unwrap_or_default(),
        avv: AvvForm::of(terms.avv.clone()),
        non_member_reason: view.non_member_reason.clone().unwrap_or_default(),
        p,
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
    Ok(view)
}

#[post("/vereinbarungen/<id>/bearbeiten", data = "<form>")]
pub(super) async fn edit(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    form: Form<DraftForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
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
    // An Einzelabruf's parameters from the form; its files (the coat of arms) stay.
    let parameters = match (kind, view.service.as_ref()) {
        (AgreementKind::Ea, Some(service)) => {
            let (sid, aid) = (service.id.clone(), view.id.clone());
            let (service, old) = state
                .db
                .read(move |conn| {
                    let a = Agreement::find(conn, &aid)?;
                    let terms = a.version(conn, a.current_version)?.terms()?;
                    Ok((Service::find(conn, &sid)?, terms.parameters))
                })
                .await?;
            let mut problems = Vec::new();
            let mut values =
                crate::web::fields::parameter_values(&service, &form.p, &mut problems)?;
            if !problems.is_empty() {
                let err = AppError::validation(problems);
                return Ok(form_page_for(
                    state,
                    &session,
                    kind,
                    Some(view),
                    form.values(),
                    Some(form_errors(&err, field_id)),
                )
                .await?
                .with_status(Status::UnprocessableEntity));
            }
            for def in service.parameter_defs()? {
                if def.kind == crate::domain::ParameterKind::CoatOfArms {
                    if let Some(v) = old.get(&def.key) {
                        values.insert(def.key, v.clone());
                    }
                }
            }
            Some(values)
        }
        _ => None,
    };
    let input = EditInput {
        lock_version: form.lock_version,
        avv: (kind == AgreementKind::Ekv).then(|| form.avv.avv()),
        parameters,
        costs: text(&form.costs),
        notes: text(&form.notes),
        notice_period_months: Some(notice),
        ends_on: None,
        non_member_reason: (kind == AgreementKind::Rv)
            .then(|| Some(form.non_member_reason.trim().to_string()).filter(|r| !r.is_empty())),
    };
    let actor = session.actor();
    let aid = id.clone();
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.apply(conn, &actor, &aid))
        .await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(format!("/vereinbarungen/{id}"))),
        Err(e) => Ok(form_page_for(
            state,
            &session,
            kind,
            Some(view),
            values,
            Some(form_errors(&e, field_id)),
        )
        .await?
        .with_status(Status::UnprocessableEntity)),
    }
}

/// The AVV's fields as the forms show them.
pub(super) fn avv_fields() -> Value {
    json!([
        { "key": "subject", "label": "Gegenstand der Verarbeitung", "lines": false },
        { "key": "duration", "label": "Dauer der Verarbeitung", "lines": false },
        { "key": "nature_and_purpose", "label": "Art und Zweck der Verarbeitung", "lines": true },
        { "key": "data_types", "label": "Art der personenbezogenen Daten (eine je Zeile)", "lines": true },
        { "key": "data_subjects", "label": "Kategorien betroffener Personen (eine je Zeile)", "lines": true },
        { "key": "technical_measures", "label": "Technische und organisatorische Maßnahmen (eine je Zeile)", "lines": true },
    ])
}
