//! A municipality uploads the DVDV certificate of its Einzelabruf (`…/zertifikat`).

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{post, State};

use crate::error::AppError;
use crate::error::AppResult;
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::store::agreement::Agreement;
use crate::store::attachment::CheckedUpload;
use crate::web::{form_session, Page, Session};

#[derive(FromForm)]
pub(super) struct CertificateForm<'r> {
    #[field(default = String::new())]
    csrf: String,
    zertifikat: Option<rocket::fs::TempFile<'r>>,
}

/// A DVDV certificate handed in (or renewed) after filing: it is operational data for
/// the DVDV entry, not part of the signed terms, so it may change while the Einzelabruf
/// is active. The municipality of the EA and d-NRW staff may do so.
#[post("/vereinbarungen/<id>/zertifikat", data = "<form>")]
pub(super) async fn upload_certificate(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    form: Form<CertificateForm<'_>>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    let id = id?;
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
    let upload = match crate::web::fields::read_file(&form.zertifikat).await? {
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
            crate::store::attachment::store_certificate(conn, &scope, &id, upload, &actor)
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
