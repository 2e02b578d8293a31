//! `/pruefen`: anyone checks a PDF against the registry, the address every sealed
//! document names in its footer. The file is checked (seal and SHA-256, the same
//! `actions::documents::verify` as `POST /api/v1/verify` and the CLI) and not stored.
//!
//! The form has no CSRF token on purpose: it changes nothing and answers only the person
//! who uploads, so a forged request could at most check a file for its sender.

use rocket::form::{Errors, Form, FromForm};
use rocket::fs::TempFile;
use rocket::http::Status;
use rocket::{get, post, State};
use serde_json::json;

use crate::actions::documents::Verification;
use crate::domain::berlin;
use crate::error::AppResult;
use crate::http::state::AppState;
use crate::web::fields::read_file;
use crate::web::{public_context, render, Page, Session};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![form, check]
}

#[derive(FromForm)]
struct CheckForm<'r> {
    datei: Option<TempFile<'r>>,
}

fn page(
    session: Option<&Session>,
    result: Option<&Verification>,
    error: Option<&str>,
) -> AppResult<Page> {
    let mut ctx = public_context(session, "Dokument prüfen")?;
    ctx["error"] = json!(error);
    ctx["errors"] = json!(error.map(|e| vec![json!({ "field": "datei", "message": e })]));
    ctx["field_errors"] = json!({ "datei": error });
    if let Some(v) = result {
        ctx["result"] = json!({
            "valid": v.seal_valid
                && (v.issued_by_registry || v.added_signature.as_ref().is_some_and(|a| a.intact)),
            "added": v.added_signature.as_ref().map(|a| json!({
                "intact": a.intact,
                "signer": a.signer,
                "qualified": a.qualified,
                "trusted": a.trusted,
                "recorded_at": a.recorded_at.map(berlin::german_date_time),
            })),
            "unsealed": !v.seal.signature_found,
            // The registry's TEST seal (no seal_pkcs12 configured) proves nothing outside.
            "test_seal": v.seal.signer.as_deref().is_some_and(|s| s.contains("TEST")),
            "summary": v.summary,
            "seal_valid": v.seal_valid,
            "issued_by_registry": v.issued_by_registry,
            "reference": v.issued_as.as_ref().map(|i| i.reference.clone()),
            "kind": v.issued_as.as_ref().map(|i| i.kind.label()),
            "version_no": v.issued_as.as_ref().map(|i| i.version_no),
            "sealed_at": v.issued_as.as_ref().map(|i| berlin::german_date_time(i.sealed_at)),
            "signer": v.seal.signer,
            "timestamped": v.seal.timestamped,
            "problems": v.seal.problems.iter().chain(
                v.added_signature.iter().flat_map(|a| a.problems.iter())
            ).collect::<Vec<_>>(),
            "sha256": v.sha256,
        });
    }
    let page = render("verify.html", ctx);
    Ok(if error.is_some() {
        page.with_status(Status::UnprocessableEntity)
    } else {
        page
    })
}

#[get("/pruefen")]
fn form(session: Option<Session>) -> AppResult<Page> {
    page(session.as_ref(), None, None)
}

/// Checks the uploaded PDF; a missing, oversized or non-PDF file is a message at the
/// field (422), never an error page.
#[post("/pruefen", data = "<form>")]
async fn check(
    state: &State<AppState>,
    session: Option<Session>,
    form: Result<Form<CheckForm<'_>>, Errors<'_>>,
) -> AppResult<Page> {
    let session = session.as_ref();
    let Ok(form) = form else {
        return page(
            session,
            None,
            Some("Die Datei ist zu groß: geprüft werden PDF-Dateien bis 1 MiB, so groß sind die Dokumente des Registers höchstens."),
        );
    };
    let bytes = match read_file(&form.datei).await? {
        None => return page(session, None, Some("Bitte wählen Sie eine PDF-Datei aus.")),
        Some((_, bytes)) if !bytes.starts_with(b"%PDF-") => {
            return page(
                session,
                None,
                Some("Die Datei ist kein PDF (sie beginnt nicht mit %PDF-)."),
            )
        }
        Some((_, bytes)) => bytes,
    };
    let (sealer, anchors) = (state.sealer.clone(), state.qes_anchors.clone());
    let result = state
        .db
        .read(move |conn| crate::actions::documents::verify(conn, &sealer, &bytes, &anchors))
        .await?;
    page(session, Some(&result), None)
}
