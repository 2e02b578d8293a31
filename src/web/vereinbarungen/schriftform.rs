//! Written form on the agreement page: upload the issued PDF signed with one's own
//! qualified electronic signature (`actions::qes`), and download the signed files.

use rocket::form::{Form, FromForm};
use rocket::{get, post, State};

use crate::domain::signing::Party;
use crate::error::{AppError, AppResult};
use crate::http::params::AgreementId;
use crate::http::respond::SealedPdf;
use crate::http::state::AppState;
use crate::store::agreement::Agreement;
use crate::store::qes::QesSignature;
use crate::web::{form_outcome, form_session, Page, Session};

#[derive(FromForm)]
pub(super) struct QesForm<'r> {
    #[field(default = String::new())]
    csrf: String,
    datei: Option<rocket::fs::TempFile<'r>>,
    /// Staff: for which side (`dnrw`, `partner`).
    #[field(default = String::new())]
    seite: String,
}

/// Checks and records the uploaded file; refused, the agreement page comes back with the
/// reasons at the file field.
#[post("/vereinbarungen/<id>/schriftform", data = "<form>")]
pub(super) async fn upload(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    form: Form<QesForm<'_>>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    let id = id?;
    let scope = session.scope();
    // Another tenant's agreement is "not found" before the file is looked at.
    {
        let (scope, id) = (scope.clone(), id.clone());
        state
            .db
            .read(move |conn| Agreement::find_in(conn, &scope, &id))
            .await?;
    }
    let asked = Party::parse(form.seite.trim());
    let result = match crate::web::fields::read_file(&form.datei).await? {
        None => Err(AppError::field(
            "datei",
            "Bitte wählen Sie die signierte PDF-Datei aus.",
        )),
        Some((_, bytes)) => match crate::actions::qes::side(&scope, asked) {
            Err(e) => Err(e),
            Ok(side) => {
                let (actor, anchors, aid) =
                    (session.actor(), state.qes_anchors.clone(), id.clone());
                state
                    .db
                    .write(move |conn| {
                        crate::actions::qes::record(
                            conn, &scope, &actor, &aid, side, bytes, &anchors,
                        )
                    })
                    .await
            }
        },
    };
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(format!("/vereinbarungen/{id}#schriftform"))),
        Err(e) => {
            // Every reason belongs to the file field, a refusal without fields too (a
            // signature recorded already), so it shows where the file was chosen.
            let e = if e.fields.is_empty() {
                AppError::field("datei", e.message.clone())
            } else {
                e
            };
            let errors = crate::web::form_errors(&e, |_| "datei".to_string());
            super::agreement_page(state, &session, id, false, Some(errors), false).await
        }
    }
}

/// The signed file of an uploaded QES.
#[get("/vereinbarungen/<id>/schriftform/<qes>")]
pub(super) async fn signed_pdf(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    qes: Result<AgreementId, AppError>,
) -> AppResult<Result<SealedPdf, Page>> {
    let Some(session) = session else {
        return Ok(Err(Page::to("/anmelden")));
    };
    let (id, qes) = (id?, qes?);
    let scope = session.scope();
    state
        .db
        .read(move |conn| {
            let a = Agreement::find_in(conn, &scope, &id)?;
            let file = QesSignature::file(conn, &a.id, &qes)?;
            Ok(Ok(SealedPdf {
                bytes: file.pdf,
                file_name: QesSignature::file_name(&a.reference),
            }))
        })
        .await
}
