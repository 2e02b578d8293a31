//! An agreement's documents: the sealed PDF (of a version), the draft PDF, and
//! attachments (coat of arms, DVDV certificate).

use rocket::http::ContentType;
use rocket::{get, State};

use crate::error::AppError;
use crate::error::AppResult;
use crate::http::params::{AgreementId, AttachmentId};
use crate::http::respond::SealedPdf;
use crate::http::state::AppState;
use crate::store::agreement::Agreement;
use crate::store::attachment::Attachment;
use crate::store::document::Document;
use crate::web::{Page, Session};

/// The sealed PDF (of the version in force, or of `?fassung=n`).
#[get("/vereinbarungen/<id>/dokument.pdf?<fassung>")]
pub(super) async fn sealed_pdf(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    fassung: Option<i32>,
) -> AppResult<Result<SealedPdf, Page>> {
    let Some(session) = session else {
        return Ok(Err(Page::to("/anmelden")));
    };
    let id = id?;
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
pub(super) async fn draft_pdf(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
) -> AppResult<Result<(ContentType, Vec<u8>), Page>> {
    let Some(session) = session else {
        return Ok(Err(Page::to("/anmelden")));
    };
    let id = id?;
    let pdf = crate::actions::documents::draft_pdf(
        &state.db,
        state.signing_order,
        session.scope(),
        id.into_string(),
    )
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
pub(super) async fn attachment(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AttachmentId, AppError>,
) -> AppResult<Result<AttachmentFile, Page>> {
    let Some(session) = session else {
        return Ok(Err(Page::to("/anmelden")));
    };
    let id = id?;
    let scope = session.scope();
    let a = state
        .db
        .read(move |conn| Attachment::find_in(conn, &scope, &id))
        .await?;
    Ok(Ok(AttachmentFile(a)))
}
