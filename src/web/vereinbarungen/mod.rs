//! Agreements: the list and one agreement's page (here); signing and putting into force
//! (`unterschrift`), the PDFs and attachments (`dokumente`), the DVDV certificate
//! (`zertifikat`), staff drafts (`entwurf`, `einzelabruf`), lifecycle steps and recorded
//! signatures (`schritt`), amendments (`aenderung`).

mod aenderung;
mod antrag;
mod dokumente;
mod einzelabruf;
mod entwurf;
mod quittung;
mod schriftform;
mod schritt;
mod unterschrift;
mod zertifikat;

use rocket::{get, State};
use serde_json::{json, Value};

use crate::actions::documents::actor_labels;
use crate::domain::account::Role;
use crate::domain::membership::{self, Standing};
use crate::domain::{AgreementKind, Status as AgreementStatus, VersionStatus};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::store::agreement::contract::{contract_text, contract_text_of};
use crate::store::agreement::{Agreement, AgreementView, Filter};
use crate::store::attachment::Attachment;
use crate::store::contact::Contact;
use crate::store::document::Document;
use crate::store::membership::Membership;
use crate::store::service::Service;
use crate::store::Page as Paging;
use crate::web::{page_context, signed_in, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        schritt::step,
        schritt::record_signature,
        zertifikat::upload_certificate,
        einzelabruf::ea_form,
        einzelabruf::ea_create,
        dokumente::sealed_pdf,
        dokumente::draft_pdf,
        dokumente::attachment,
        aenderung::amend_form,
        aenderung::amend,
        aenderung::amendment_step,
        quittung::receipt,
        antrag::request_step,
        unterschrift::decline,
        list,
        show,
        entwurf::new_form,
        entwurf::create,
        entwurf::edit_form,
        entwurf::edit,
        unterschrift::sign,
        unterschrift::activate,
        schriftform::upload,
        schriftform::signed_pdf,
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
    let chosen = crate::web::choice("art", "Art", art, AgreementKind::parse).and_then(|kind| {
        Ok(Filter {
            kind,
            status: crate::web::choice("status", "Status", status, AgreementStatus::parse)?,
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
        .read(move |conn| {
            Agreement::rows(
                conn,
                &scope,
                &f,
                page,
                Some(crate::store::agreement::LIST_COUNT_CAP),
            )
        })
        .await?;
    let cap = crate::store::agreement::LIST_COUNT_CAP;
    let more = listed.total > cap;
    let pages = (listed.total.min(cap) + PER_PAGE - 1) / PER_PAGE;
    let mut ctx = page_context(&session, "Vereinbarungen")?;
    ctx["agreements"] = json!(listed.items);
    ctx["total"] = json!(listed.total.min(cap));
    ctx["more"] = json!(more);
    ctx["page"] = json!(listed.page);
    ctx["pages"] = json!(pages.max(1));
    ctx["art"] = json!(filter.kind.map(|k| k.as_str()).unwrap_or(""));
    ctx["status"] = json!(filter.status.map(|s| s.as_str()).unwrap_or(""));
    // A municipality only ever has an RV and Einzelabrufe; it is offered only those.
    let municipality = matches!(session.scope(), crate::store::Scope::Municipality(_));
    ctx["kinds"] = json!(AgreementKind::ALL
        .iter()
        .filter(|k| !municipality || matches!(k, AgreementKind::Rv | AgreementKind::Ea))
        .map(|k| json!({ "value": k.as_str(), "label": k.label() }))
        .collect::<Vec<_>>());
    ctx["statuses"] = json!(AgreementStatus::ALL
        .iter()
        .map(|s| json!({ "value": s.as_str(), "label": s.label() }))
        .collect::<Vec<_>>());
    Ok(crate::web::render("agreements.html", ctx))
}

/// The organisation a signer's certificate names (`O=`) when it does not look like the
/// party the signature was uploaded for ("Stadt Dortmund" on Köln's RV), for a warning:
/// personal QES certificates often name no organisation, and then nothing is said.
fn organisation_mismatch(subject: &str, party: &str) -> Option<String> {
    let org = subject
        .split(", ")
        .find_map(|part| part.strip_prefix("O="))?
        .trim()
        .to_string();
    let core = party.split(", ").next().unwrap_or(party);
    let key = core
        .split(|c: char| c.is_whitespace() || c == '-')
        .find(|w| w.chars().count() >= 3 && *w != "Stadt" && *w != "Kreis")
        .unwrap_or(core);
    let (o, k) = (org.to_lowercase(), key.to_lowercase());
    (!k.is_empty() && !o.contains(&k)).then_some(org)
}

/// The contract text of the version to be signed (or in force), as HTML from the same
/// text the PDF has; open while it waits for signatures. A staff draft links its
/// sections back to the fields that change them.
fn contract_context(
    view: &AgreementView,
    staff: bool,
    text: AppResult<crate::documents::text::ContractText>,
) -> AppResult<Value> {
    let text = match text {
        Ok(t) => t,
        // An EKV or EA draft without its AVV has no complete text yet.
        Err(e) if e.kind == ErrorKind::Incomplete => {
            return Ok(json!({ "missing": e.message }));
        }
        Err(e) => return Err(e),
    };
    let editable = staff && view.status == AgreementStatus::Draft;
    let form = format!("/vereinbarungen/{}/bearbeiten", view.id);
    let edit = |heading: &str| -> Option<String> {
        if !editable {
            return None;
        }
        let field = if heading.ends_with("Kosten") {
            "costs"
        } else if heading.ends_with("Laufzeit und Kündigung") {
            "notice_period_months"
        } else if heading.starts_with("Anlage 1") && view.kind == AgreementKind::Ekv {
            "avv.subject"
        } else if heading.ends_with("Parameter der Kommune") {
            "parameter"
        } else if heading.ends_with("Vergaberecht und Trägerschaft") {
            "non_member_reason"
        } else {
            return None;
        };
        Some(format!("{form}#{field}"))
    };
    Ok(json!({
        "html": crate::documents::html::to_html(&text.text, &edit),
        "version_no": text.version_no,
        "open": matches!(view.status, AgreementStatus::Draft | AgreementStatus::AwaitingSignatures),
        "sha256": text.sha256,
    }))
}

/// `/vereinbarungen/<id>`: everything about one agreement the user may see.
#[get("/vereinbarungen/<id>?<neu>")]
async fn show(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    neu: Option<&str>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    agreement_page(state, &session, id?, neu.is_some(), None, false).await
}

/// What the agreement page reads in one go.
struct Loaded {
    view: AgreementView,
    signing: crate::actions::sign::SigningState,
    documents: Vec<crate::store::document::DocumentInfo>,
    attachments: Vec<crate::store::attachment::AttachmentInfo>,
    defs: Vec<crate::domain::ParameterDef>,
    /// Whether the user may sign now, or why not.
    may_sign: Result<(), String>,
    may_decline: bool,
    /// The partner's authorised contacts whose signature staff may record.
    signatories: Vec<crate::store::contact::Contact>,
    tasks: Vec<crate::store::task::TaskView>,
    contract: AppResult<crate::documents::text::ContractText>,
    /// The history's actors as the page names them.
    actors: std::collections::HashMap<String, String>,
    /// RV and EA: the municipality's Trägerschaft now.
    standing: Option<Standing>,
    /// Qualified electronic signatures uploaded for written form.
    qes: Vec<crate::store::qes::QesInfo>,
}

/// The agreement page; `sign_errors` are the signing (or declining) form's (the page
/// again, 422), `declared` whether its declaration was ticked (it stays ticked).
pub(super) async fn agreement_page(
    state: &State<AppState>,
    session: &Session,
    id: AgreementId,
    new: bool,
    sign_errors: Option<(Value, Value)>,
    declared: bool,
) -> AppResult<Page> {
    let scope = session.scope();
    let order = state.signing_order;
    let user = session.user.clone();
    let staff = session.is_staff();
    let Loaded {
        view,
        signing,
        documents,
        attachments,
        defs,
        may_sign,
        may_decline,
        signatories,
        tasks,
        contract,
        actors,
        standing,
        qes,
    } = state
        .db
        .read(move |conn| {
            let a = Agreement::find_in(conn, &scope, &id)?;
            let versions = a.versions(conn)?;
            let view = a.view_of(conn, &versions, true)?;
            let documents = Document::list(conn, &a.id)?;
            let crate::actions::sign::ForPage {
                state: signing,
                may_sign,
                may_decline,
            } = crate::actions::sign::for_page(conn, order, &a, &user, &documents)?;
            let attachments = Attachment::list(conn, &a.id)?;
            let defs = match &a.service_id {
                Some(s) => Service::find(conn, s)?.parameter_defs()?,
                None => Vec::new(),
            };
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
            let tasks = crate::store::task::of_agreement_views(conn, &a.id)?;
            let contract = match versions.iter().find(|v| v.version_no == signing.version_no) {
                Some(version) => contract_text_of(conn, &a, version),
                None => contract_text(conn, &a, signing.version_no),
            };
            let actors = actor_labels(
                conn,
                view.history
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(|e| e.actor.as_str()),
            )?;
            let standing = match &a.municipality_id {
                Some(m) if membership::applies_to(a.kind, true) => {
                    Some(Membership::standing(conn, m)?)
                }
                _ => None,
            };
            Ok(Loaded {
                view,
                signing,
                documents,
                attachments,
                defs,
                may_sign,
                may_decline,
                signatories,
                tasks,
                contract,
                actors,
                standing,
                qes: crate::store::qes::QesSignature::list(conn, &a.id)?,
            })
        })
        .await?;
    let values = view
        .terms
        .as_ref()
        .map(|t| t.parameters.clone())
        .unwrap_or_default();
    let parameters = parameter_rows(&defs, &values);
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
        .map(|e| json!({ "at": crate::store::timestamp(e.at), "actor": actors.get(&e.actor), "action": crate::domain::agreement::audit_action_label(&e.action), "note": e.note }))
        .collect();
    let title = format!("{} {}", view.kind_label, view.reference);
    let mut ctx = page_context(session, &title)?;
    ctx["a"] = json!(view);
    // The party a signature is for, as its certificate should name it.
    let party_of = |party: crate::domain::signing::Party| -> String {
        match party {
            crate::domain::signing::Party::Dnrw => "d-NRW".to_string(),
            crate::domain::signing::Party::Partner => view
                .municipality
                .as_ref()
                .or(view.counterparty.as_ref())
                .map(|p| p.name.clone())
                .unwrap_or_default(),
        }
    };
    ctx["qes"] = json!(qes
        .iter()
        .map(|q| json!({
            "organisation_mismatch": organisation_mismatch(&q.signer_subject, &party_of(q.party)),
            "id": q.id,
            "side": q.party.label(view.kind, view.direction),
            "signer_name": q.signer_name,
            "signer_subject": q.signer_subject,
            "issuer": q.issuer,
            "serial": q.serial,
            "not_after": crate::domain::berlin::german_date_time(q.cert_not_after),
            "uploaded_at": crate::domain::berlin::german_date_time(q.uploaded_at),
            "qualified": q.qualified,
            "chain_checked": q.chain == "trusted",
            "sha256": q.sha256,
            "version_no": documents.iter().find(|d| d.id == q.document_id).map(|d| d.version_no),
        }))
        .collect::<Vec<_>>());
    ctx["traegerschaft"] = json!(standing.map(|s| json!({ "code": s.code(), "label": s.label() })));
    ctx["parameters"] = json!(parameters);
    ctx["signing"] = json!(signing);
    ctx["documents"] = json!(documents);
    ctx["attachments"] = json!(attachments);
    ctx["timeline"] = json!(timeline);
    ctx["may_sign"] = json!(may_sign.is_ok());
    ctx["sign_hint"] = json!(may_sign.err());
    ctx["new"] = json!(new);
    ctx["declared"] = json!(declared);
    ctx["may_decline"] = json!(may_decline);
    // Signed before the registry kept signatures (or recorded as signed elsewhere): said
    // so with the date and the signatories, instead of "steht aus".
    ctx["signed_outside"] = json!(match (
        view.signed_on,
        signing.required.iter().all(|r| r.signature.is_none())
    ) {
        (Some(on), true) if signing.version_no == view.current_version => Some(
            crate::domain::agreement::signed_outside(on, view.signed_by.as_deref())
        ),
        _ => None,
    });
    // A municipality's own draft: read, then submit (or discard) here.
    ctx["own_draft"] = json!(
        session.user.role == Role::Municipality
            && view.status == AgreementStatus::Draft
            && matches!(view.kind, AgreementKind::Rv | AgreementKind::Ea)
    );
    // A draft again after a refusal says why, until it is submitted again.
    ctx["declined"] = json!(if view.status == AgreementStatus::Draft {
        view.versions.as_ref().and_then(|vs| {
            vs.iter()
                .find(|v| {
                    v.version_no == view.current_version - 1 && v.status == VersionStatus::Cancelled
                })
                .and_then(|v| v.change_note.clone())
        })
    } else {
        None
    });
    // What the signatory confirms: their side's name, the version they read.
    let side = if staff {
        crate::domain::signing::Party::Dnrw
    } else {
        crate::domain::signing::Party::Partner
    };
    ctx["declaration"] = json!(signing.required.iter().find(|r| r.party == side).map(|r| {
        crate::actions::sign::declaration(&view.reference, signing.version_no, &r.organisation)
    }));
    let refused = sign_errors.is_some();
    crate::web::set_errors(&mut ctx, sign_errors);
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
                    && matches!(v.status, VersionStatus::Draft | VersionStatus::Signed)
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
            && session.user.role != Role::Intermediary
            && matches!(
                view.status,
                AgreementStatus::Draft
                    | AgreementStatus::AwaitingSignatures
                    | AgreementStatus::Signed
                    | AgreementStatus::InForce
            )
    );
    ctx["today"] = json!(crate::store::today().to_string());
    ctx["tasks"] = json!(tasks);
    ctx["contract"] = contract_context(&view, staff, contract)?;
    let page = crate::web::render("agreement.html", ctx);
    Ok(if refused {
        page.with_status(rocket::http::Status::UnprocessableEntity)
    } else {
        page
    })
}

/// An Einzelabruf's parameters as people read them: in the order the service defines
/// them, with their labels, a file (`anlage:<id>`) as a link to the attachment, yes/no in
/// words. The agreement page and the Parameter go-live task show the same.
pub(crate) fn parameter_rows(
    defs: &[crate::domain::service::ParameterDef],
    values: &std::collections::BTreeMap<String, Value>,
) -> Vec<Value> {
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
    keys.into_iter()
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
        .collect()
}
