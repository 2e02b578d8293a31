//! Agreement pages for everyone who may see them: the list, one agreement (parties,
//! terms, attachments, signatures, documents, timeline), signing as oneself, the sealed
//! PDF and the draft, attachments; activation for d-NRW staff. Each read goes through
//! `Agreement::find_in` with the user's scope: another tenant's id is a 404.

use rocket::form::{Form, FromForm};
use rocket::http::{ContentType, Status};
use rocket::{get, post, routes, Route, State};
use serde_json::{json, Value};

use super::{
    form_session, is_form_error, page_context, signed_in, staff_form, CsrfForm, Page, Session,
};
use crate::domain::text::Checked;
use crate::domain::{AgreementKind, Status as AgreementStatus};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::respond::SealedPdf;
use crate::http::state::AppState;
use crate::models::agreement::{Agreement, Filter, TransitionInput};
use crate::models::attachment::{Attachment, CheckedUpload};
use crate::models::contact::Contact;
use crate::models::document::Document;
use crate::models::service::Service;
use crate::models::signature::{self, SignContext, SignInput};
use crate::models::Page as Paging;

pub fn routes() -> Vec<Route> {
    routes![
        list,
        show,
        sign,
        activate,
        sealed_pdf,
        draft_pdf,
        attachment,
        upload_certificate
    ]
}

/// Agreements per page in lists.
const PER_PAGE: i64 = 50;

/// `/vereinbarungen?art=&status=&seite=`: the agreements the user may see.
#[get("/vereinbarungen?<art>&<status>&<seite>")]
async fn list(
    state: &State<AppState>,
    session: Option<Session>,
    art: Option<&str>,
    status: Option<&str>,
    seite: Option<i64>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    let chosen = super::choice("art", "Art", art, AgreementKind::parse).and_then(|kind| {
        Ok(Filter {
            kind,
            status: super::choice("status", "Status", status, AgreementStatus::parse)?,
            ..Filter::default()
        })
    });
    let filter = match chosen {
        Ok(f) => f,
        Err(e) => return Ok(session.refused_by(&e, "Filter ungültig", "/vereinbarungen")),
    };
    let page = Paging::new(Some(seite.unwrap_or(1).max(1)), Some(PER_PAGE))?;
    let scope = session.scope();
    let f = filter.clone();
    let listed = state
        .db
        .read(move |conn| Agreement::list(conn, &scope, &f, page))
        .await?;
    let pages = (listed.total + PER_PAGE - 1) / PER_PAGE;
    let mut ctx = page_context(&session, "Vereinbarungen")?;
    ctx["agreements"] = json!(listed.items);
    ctx["total"] = json!(listed.total);
    ctx["page"] = json!(listed.page);
    ctx["pages"] = json!(pages.max(1));
    ctx["art"] = json!(filter.kind.map(|k| k.as_str()).unwrap_or(""));
    ctx["status"] = json!(filter.status.map(|s| s.as_str()).unwrap_or(""));
    ctx["kinds"] = json!(AgreementKind::ALL
        .iter()
        .map(|k| json!({ "value": k.as_str(), "label": k.label() }))
        .collect::<Vec<_>>());
    ctx["statuses"] = json!(AgreementStatus::ALL
        .iter()
        .map(|s| json!({ "value": s.as_str(), "label": s.label() }))
        .collect::<Vec<_>>());
    Ok(super::render("agreements.html", ctx))
}

/// Action names of the audit log as a timeline shows them.
fn action_label(action: &str) -> &str {
    match action {
        "create" => "angelegt",
        "update" => "geändert",
        "submit" => "zur Unterschrift vorgelegt",
        "sign" => "unterzeichnet",
        "signature" => "Unterschrift geleistet",
        "seal" => "Dokument gesiegelt",
        "activate" => "in Kraft gesetzt",
        "terminate" => "gekündigt",
        "terminate_cascade" => "mitgekündigt",
        "expire" => "ausgelaufen",
        "cancel" => "verworfen",
        "amend" => "Änderungsfassung angelegt",
        "amendment_activate" => "Änderungsfassung in Kraft gesetzt",
        "amendment_cancel" => "Änderungsfassung verworfen",
        "expire_cascade" => "mit ausgelaufen",
        "edit" => "Entwurf geändert",
        "attach" => "Anlage hochgeladen",
        "golive_plan" => "Aufgaben zur Inbetriebnahme angelegt",
        "live" => "live: alle Aufgaben zur Inbetriebnahme erledigt",
        "not_live" => "nicht mehr live: eine Aufgabe wurde wieder geöffnet",
        other => other,
    }
}

/// `/vereinbarungen/<id>`: everything about one agreement the user may see.
#[get("/vereinbarungen/<id>?<neu>")]
async fn show(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
    neu: Option<&str>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    let id = crate::http::params::id(id)?;
    let scope = session.scope();
    let order = state.signing_order;
    let user = session.user.clone();
    let staff = session.is_staff();
    let (view, signing, documents, attachments, defs, may_sign, signatories, tasks) = state
        .db
        .read(move |conn| {
            let a = Agreement::find_in(conn, &scope, &id)?;
            let view = a.view(conn, true)?;
            let signing = signature::state(conn, order, &a.id, None)?;
            let documents = Document::list(conn, &a.id)?;
            let attachments = Attachment::list(conn, &a.id)?;
            let defs = match &a.service_id {
                Some(s) => Service::find(conn, s)?.parameter_defs()?,
                None => Vec::new(),
            };
            let may_sign = signature::may_sign_now(conn, order, &a, &user)?;
            // Staff may record the signature of the partner's authorised contacts.
            let signatories = if staff {
                match (&a.municipality_id, &a.counterparty_id) {
                    (Some(m), _) => Contact::of_municipality(conn, m)?,
                    (None, Some(o)) => Contact::of_organisation(conn, o)?,
                    (None, None) => Vec::new(),
                }
                .into_iter()
                .filter(|c| c.may_sign)
                .collect()
            } else {
                Vec::new()
            };
            let tasks = crate::models::task::of_agreement_views(conn, &a.id)?;
            Ok((
                view,
                signing,
                documents,
                attachments,
                defs,
                may_sign,
                signatories,
                tasks,
            ))
        })
        .await?;
    // In the order the service defines its parameters.
    let values = view
        .terms
        .as_ref()
        .map(|t| t.parameters.clone())
        .unwrap_or_default();
    let mut keys: Vec<(String, String)> = defs
        .iter()
        .filter(|d| values.contains_key(&d.key))
        .map(|d| (d.key.clone(), d.label.clone()))
        .collect();
    keys.extend(
        values
            .keys()
            .filter(|k| !defs.iter().any(|d| &d.key == *k))
            .map(|k| (k.clone(), k.clone())),
    );
    let parameters: Vec<Value> = keys
        .into_iter()
        .map(|(k, label)| {
            let v = &values[&k];
            let shown = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => if *b { "ja" } else { "nein" }.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Object(o) => o
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            json!({ "key": k, "label": label, "value": shown,
                    "attachment": v.as_str().and_then(|s| s.strip_prefix("anlage:")) })
        })
        .collect();
    let attachments: Vec<Value> = attachments
        .iter()
        .map(|a| {
            let mut v = json!(a);
            v["details"] = a.details();
            v
        })
        .collect();
    let timeline: Vec<Value> = view
        .history
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|e| json!({ "at": crate::models::timestamp(e.at), "actor": e.actor, "action": action_label(&e.action), "note": e.note }))
        .collect();
    let title = format!("{} {}", view.kind_label, view.reference);
    let mut ctx = page_context(&session, &title)?;
    ctx["a"] = json!(view);
    ctx["parameters"] = json!(parameters);
    ctx["signing"] = json!(signing);
    ctx["documents"] = json!(documents);
    ctx["attachments"] = json!(attachments);
    ctx["timeline"] = json!(timeline);
    ctx["may_sign"] = json!(may_sign.is_ok());
    ctx["sign_hint"] = json!(may_sign.err());
    ctx["new"] = json!(neu.is_some());
    let partner_signed = signing
        .required
        .iter()
        .any(|r| r.party == crate::domain::signing::Party::Partner && r.signature.is_some());
    ctx["staff"] = json!({
        "activate": staff && view.status == AgreementStatus::Signed,
        "submit": staff && view.status == AgreementStatus::Draft,
        "cancel": staff && matches!(view.status, AgreementStatus::Draft | AgreementStatus::AwaitingSignatures),
        "terminate": staff && view.status == AgreementStatus::InForce,
        "record": staff && signing.open && !partner_signed && !signatories.is_empty(),
    });
    ctx["signatories"] = json!(signatories);
    // An open amendment (a later version, not yet in force or cancelled).
    let open_amendment = view.versions.as_ref().and_then(|vs| {
        vs.iter()
            .find(|v| {
                v.version_no > view.current_version
                    && matches!(v.status.as_str(), "draft" | "signed")
            })
            .map(|v| json!({ "no": v.version_no, "status": v.status, "note": v.change_note }))
    });
    ctx["amendment"] = json!({
        "open": open_amendment,
        "may_start": staff
            && open_amendment.is_none()
            && matches!(view.status, AgreementStatus::Signed | AgreementStatus::InForce),
    });
    ctx["certificate_form"] = json!(
        view.kind == AgreementKind::Ea
            && !session.user.role.eq("intermediary")
            && matches!(
                view.status,
                AgreementStatus::Draft
                    | AgreementStatus::AwaitingSignatures
                    | AgreementStatus::Signed
                    | AgreementStatus::InForce
            )
    );
    ctx["today"] = json!(crate::models::today().to_string());
    ctx["tasks"] = json!(tasks);
    Ok(super::render("agreement.html", ctx))
}

/// Signs the pending version as the logged-in user; the last signature seals.
#[post("/vereinbarungen/<id>/unterschreiben", data = "<form>")]
async fn sign(
    state: &State<AppState>,
    session: Option<Session>,
    client_ip: Option<std::net::IpAddr>,
    user_agent: UserAgent,
    id: &str,
    form: Form<CsrfForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let scope = session.scope();
    let ctx = SignContext {
        actor: session.actor(),
        auth_method: session.auth_method(),
        ip: client_ip.map(|i| i.to_string()),
        user_agent: user_agent.0,
        user_id: Some(session.user.id.clone()),
        staff: session.is_staff(),
    };
    let (sealer, order) = (state.sealer.clone(), state.signing_order);
    let target = format!("/vereinbarungen/{id}");
    let result = state
        .db
        .write(move |conn| {
            Agreement::find_in(conn, &scope, &id)?;
            Checked::new(SignInput::default())?.apply(conn, &sealer, order, &ctx, &id)
        })
        .await;
    match result {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if is_form_error(&e) || e.kind == ErrorKind::Forbidden => {
            Ok(session.refused_by(&e, "Unterschrift nicht möglich", &target))
        }
        Err(e) => Err(e),
    }
}

#[derive(FromForm)]
struct ActivateForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    ab: String,
}

/// Staff put a signed agreement into force from a date (default today).
#[post("/vereinbarungen/<id>/inkraft", data = "<form>")]
async fn activate(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
    form: Form<ActivateForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let target = format!("/vereinbarungen/{id}");
    let Ok(effective_from) = super::form_date(&form.ab) else {
        return Ok(session.refused(
            Status::UnprocessableEntity,
            "Datum nicht lesbar",
            "Bitte das Datum des Inkrafttretens als Datum angeben (z. B. 2026-12-01).",
            &target,
        ));
    };
    let actor = session.actor();
    let result = state
        .db
        .write(move |conn| {
            Checked::new(TransitionInput {
                action: "activate".into(),
                effective_from,
                ..TransitionInput::default()
            })?
            .apply(conn, &actor, &id)
        })
        .await;
    match result {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if is_form_error(&e) => {
            Ok(session.refused_by(&e, "Inkraftsetzen nicht möglich", &target))
        }
        Err(e) => Err(e),
    }
}

/// The sealed PDF (of the version in force, or of `?fassung=n`).
#[get("/vereinbarungen/<id>/dokument.pdf?<fassung>")]
async fn sealed_pdf(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
    fassung: Option<i32>,
) -> AppResult<Result<SealedPdf, Page>> {
    let Some(session) = session else {
        return Ok(Err(Page::to("/anmelden")));
    };
    let id = crate::http::params::id(id)?;
    let scope = session.scope();
    state
        .db
        .read(move |conn| {
            let a = Agreement::find_in(conn, &scope, &id)?;
            let (doc, file_name) = Document::for_download(conn, &a, fassung)?;
            Ok(Ok(SealedPdf {
                bytes: doc.pdf,
                file_name,
            }))
        })
        .await
}

/// The unsealed draft ("ENTWURF" on every page) of the current version.
#[get("/vereinbarungen/<id>/entwurf.pdf")]
async fn draft_pdf(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
) -> AppResult<Result<(ContentType, Vec<u8>), Page>> {
    let Some(session) = session else {
        return Ok(Err(Page::to("/anmelden")));
    };
    let id = crate::http::params::id(id)?;
    let pdf =
        crate::actions::documents::draft_pdf(&state.db, state.signing_order, session.scope(), id)
            .await?;
    Ok(Ok((ContentType::PDF, pdf)))
}

/// An attachment: the coat of arms shown inline (SVG under a CSP that forbids scripts
/// and loads), the certificate as a download.
pub struct AttachmentFile(Attachment);

impl<'r> rocket::response::Responder<'r, 'static> for AttachmentFile {
    fn respond_to(self, _req: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        let a = self.0;
        let disposition = if a.kind == "coat_of_arms" {
            "inline"
        } else {
            "attachment"
        };
        rocket::Response::build()
            .raw_header("Content-Type", a.content_type)
            .raw_header(
                "Content-Disposition",
                format!(
                    "{disposition}; filename=\"{}\"",
                    a.file_name.replace(['"', '\\'], "_")
                ),
            )
            .raw_header(
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            )
            .raw_header("X-Content-Type-Options", "nosniff")
            .raw_header("Cache-Control", "private, no-store")
            .sized_body(a.content.len(), std::io::Cursor::new(a.content))
            .ok()
    }
}

#[get("/anlagen/<id>")]
async fn attachment(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
) -> AppResult<Result<AttachmentFile, Page>> {
    let Some(session) = session else {
        return Ok(Err(Page::to("/anmelden")));
    };
    let id = crate::http::params::id(id)?;
    let scope = session.scope();
    let a = state
        .db
        .read(move |conn| Attachment::find_in(conn, &scope, &id))
        .await?;
    Ok(Ok(AttachmentFile(a)))
}

#[derive(FromForm)]
struct CertificateForm<'r> {
    #[field(default = String::new())]
    csrf: String,
    zertifikat: Option<rocket::fs::TempFile<'r>>,
}

/// A DVDV certificate handed in (or renewed) after filing: it is operational data for
/// the DVDV entry, not part of the signed terms, so it may change while the Einzelabruf
/// is active. The municipality of the EA and d-NRW staff may do so.
#[post("/vereinbarungen/<id>/zertifikat", data = "<form>")]
async fn upload_certificate(
    state: &State<AppState>,
    session: Option<Session>,
    id: &str,
    form: Form<CertificateForm<'_>>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    let id = crate::http::params::id(id)?;
    let target = format!("/vereinbarungen/{id}");
    let scope = session.scope();
    // Another tenant's agreement is "not found" before the file is looked at.
    {
        let (scope, id) = (scope.clone(), id.clone());
        state
            .db
            .read(move |conn| Agreement::find_in(conn, &scope, &id))
            .await?;
    }
    let upload = match super::kommune::read_file(&form.zertifikat).await? {
        None => Err("Bitte wählen Sie die Zertifikatsdatei aus.".to_string()),
        Some((name, bytes)) => CheckedUpload::dvdv_certificate(&name, bytes),
    };
    let upload = match upload {
        Ok(u) => u,
        Err(message) => {
            return Ok(session.refused(
                Status::UnprocessableEntity,
                "Zertifikat nicht angenommen",
                &message,
                &target,
            ))
        }
    };
    let actor = session.actor();
    let stored = state
        .db
        .write(move |conn| {
            crate::models::attachment::store_certificate(conn, &scope, &id, upload, &actor)
        })
        .await;
    match stored {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if e.http_status() == 422 => Ok(session.refused(
            Status::UnprocessableEntity,
            "Zertifikat nicht angenommen",
            &e.message,
            &target,
        )),
        Err(e) => Err(e),
    }
}

/// The User-Agent header, as a signature records it (printable, at most 300 characters).
pub struct UserAgent(Option<String>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for UserAgent {
    type Error = ();
    async fn from_request(req: &'r rocket::Request<'_>) -> rocket::request::Outcome<Self, ()> {
        rocket::request::Outcome::Success(UserAgent(
            req.headers()
                .get_one("User-Agent")
                .map(|ua| ua.chars().filter(|c| !c.is_control()).take(300).collect()),
        ))
    }
}

/// The start page of an intermediary user: the agreements it holds with d-NRW.
pub async fn intermediary_start(state: &State<AppState>, session: &Session) -> AppResult<Page> {
    let scope = session.scope();
    let org = session.user.organisation_id.clone().ok_or_else(|| {
        AppError::internal(format!(
            "intermediary {} has no organisation",
            session.user.id
        ))
    })?;
    let (name, agreements, documents, rollout) = state
        .db
        .read(move |conn| {
            let name = crate::models::organisation::Organisation::find(conn, &org)?.name;
            // The roll-out in NRW of the services it provides, aggregated.
            let rollout = crate::models::rollout::compute(
                conn,
                &scope,
                &Checked::new(crate::models::rollout::RolloutFilter::default())?,
            )?;
            let page = Paging::new(Some(1), Some(Paging::MAX_PER_PAGE))?;
            let items = Agreement::list(conn, &scope, &Filter::default(), page)?.items;
            let mut documents = Vec::new();
            for a in &items {
                documents.push(Document::list(conn, &a.id)?.len());
            }
            Ok((name, items, documents, rollout.services))
        })
        .await?;
    let rows: Vec<Value> = agreements
        .iter()
        .zip(documents)
        .map(|(a, n)| json!({ "a": a, "documents": n }))
        .collect();
    let mut ctx = page_context(session, &format!("Vereinbarungen von {name}"))?;
    ctx["organisation"] = json!(name);
    ctx["rows"] = json!(rows);
    ctx["rollout"] = json!(rollout);
    Ok(super::render("intermediary.html", ctx))
}
