//! Signatures, sealed documents and verification:
//! `/api/v1/agreements/{id}/signatures`, `…/documents`, `…/document.pdf`, `…/qes` (the
//! written-form upload), `/api/v1/verify`.

use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};

use super::{body, Body, Caller};
use crate::actions::decline::DeclineInput;
use crate::actions::documents::Verification;
use crate::actions::sign::{SignContext, SignInput, SigningState};
use crate::domain::signing::Party;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::params::AgreementId;
use crate::http::respond::SealedPdf;
use crate::http::state::AppState;
use crate::store::agreement::{Agreement, AgreementView};
use crate::store::document::{Document, DocumentInfo};
use crate::store::qes::{QesInfo, QesSignature};

/// Largest PDF `POST /api/v1/verify` accepts.
pub const MAX_VERIFY_BYTES: u64 = 20 * 1024 * 1024;

pub fn routes() -> Vec<Route> {
    routes![
        signing_state,
        sign,
        decline,
        documents,
        document_pdf,
        verify,
        qes_list,
        qes_upload,
        qes_pdf
    ]
}

fn version_param(version: Option<&str>) -> AppResult<Option<i32>> {
    version
        .map(|v| {
            v.parse::<i32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| AppError::field("version", "Die Fassung ist eine Zahl ab 1."))
        })
        .transpose()
}

/// Who must sign, who has, and the sealed document once all have.
#[get("/api/v1/agreements/<id>/signatures?<version>")]
async fn signing_state(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    version: Option<&str>,
) -> AppResult<Json<SigningState>> {
    let id = id?;
    let no = version_param(version)?;
    let order = state.signing_order;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                Agreement::find_in(conn, &caller.scope, &id)?;
                crate::actions::sign::state(conn, order, &id, no)
            })
            .await?,
    ))
}

/// One signature: an authorised user signs as themselves (a municipality's or
/// intermediary's signatory for their side, d-NRW staff for d-NRW), or staff record an
/// authorised contact person's signature (`contact_id`). The last one signs and seals.
#[post("/api/v1/agreements/<id>/signatures", data = "<input>")]
async fn sign(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    input: Body<'_, SignInput>,
) -> AppResult<(Status, Json<SigningState>)> {
    let id = id?;
    let input = body(input)?;
    let sealer = state.sealer.clone();
    let order = state.signing_order;
    let scope = caller.scope;
    let ctx = SignContext {
        staff: caller
            .role
            .is_none_or(crate::domain::account::Role::is_staff),
        actor: caller.actor,
        auth_method: caller.auth_method,
        ip: caller.ip,
        user_agent: caller.user_agent,
        user_id: caller.user_id,
        // The API has no page that shows a declaration; the token is the credential.
        declared: false,
    };
    let signing = state
        .db
        .write(move |conn| {
            Agreement::find_in(conn, &scope, &id)?;
            input.apply(conn, &sealer, order, &ctx, &id)
        })
        .await?;
    Ok((Status::Created, Json(signing)))
}

/// A signatory declines with a reason (`actions::decline`, the page's path too): the
/// agreement becomes a draft again and its creator and the other side are told.
#[post("/api/v1/agreements/<id>/declines", data = "<input>")]
async fn decline(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    input: Body<'_, DeclineInput>,
) -> AppResult<Json<AgreementView>> {
    let id = id?;
    let input = body(input)?;
    let Some(user_id) = caller.user_id else {
        return Err(AppError::forbidden(
            "Ablehnen kann nur eine zeichnungsberechtigte Person mit eigenem Zugang; das Bootstrap-Token steht für niemanden.",
        ));
    };
    let scope = caller.scope;
    Ok(Json(
        state
            .db
            .write(move |conn| {
                Agreement::find_in(conn, &scope, &id)?;
                let user = crate::store::user::User::find(conn, &user_id)?;
                input.apply(conn, &user, &id)?.view(conn, true)
            })
            .await?,
    ))
}

/// The sealed documents of an agreement (without their bytes).
#[get("/api/v1/agreements/<id>/documents")]
async fn documents(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
) -> AppResult<Json<Vec<DocumentInfo>>> {
    let id = id?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                Agreement::find_in(conn, &caller.scope, &id)?;
                Document::list(conn, &id)
            })
            .await?,
    ))
}

#[get("/api/v1/agreements/<id>/document.pdf?<version>")]
async fn document_pdf(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    version: Option<&str>,
) -> AppResult<SealedPdf> {
    let id = id?;
    let no = version_param(version)?;
    state
        .db
        .read(move |conn| {
            let a = Agreement::find_in(conn, &caller.scope, &id)?;
            let (doc, file_name) = Document::for_download(conn, &a, no)?;
            Ok(SealedPdf {
                bytes: doc.pdf,
                file_name,
            })
        })
        .await
}

/// The qualified electronic signatures uploaded for an agreement (written form).
#[get("/api/v1/agreements/<id>/qes")]
async fn qes_list(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
) -> AppResult<Json<Vec<QesInfo>>> {
    let id = id?;
    Ok(Json(
        state
            .db
            .read(move |conn| {
                Agreement::find_in(conn, &caller.scope, &id)?;
                QesSignature::list(conn, &id)
            })
            .await?,
    ))
}

/// The issued PDF with a party's own qualified electronic signature added (the request
/// body, `application/pdf`): checked against the issued document, then recorded.
/// `party`: `dnrw` or `partner` (staff; a party's users sign for their own side).
#[post("/api/v1/agreements/<id>/qes?<party>", data = "<data>")]
async fn qes_upload(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    party: Option<&str>,
    data: Data<'_>,
) -> AppResult<(Status, Json<QesInfo>)> {
    let id = id?;
    let asked = match party {
        None => None,
        Some(p) => Some(
            Party::parse(p)
                .ok_or_else(|| AppError::field("party", "Die Seite ist „dnrw“ oder „partner“."))?,
        ),
    };
    let side = crate::actions::qes::side(&caller.scope, asked)?;
    let bytes = data
        .open((crate::actions::qes::MAX_BYTES as u64 + 1).bytes())
        .into_bytes()
        .await
        .map_err(|e| AppError::bad_request(format!("Upload nicht lesbar: {e}")))?
        .into_inner();
    let anchors = state.qes_anchors.clone();
    let recorded = state
        .db
        .write(move |conn| {
            crate::actions::qes::record(
                conn,
                &caller.scope,
                &caller.actor,
                &id,
                side,
                bytes,
                &anchors,
            )
        })
        .await?;
    Ok((Status::Created, Json(recorded)))
}

/// The signed file of an uploaded QES.
#[get("/api/v1/agreements/<id>/qes/<qes>/document.pdf")]
async fn qes_pdf(
    caller: Caller,
    state: &State<AppState>,
    id: Result<AgreementId, AppError>,
    qes: Result<AgreementId, AppError>,
) -> AppResult<SealedPdf> {
    let (id, qes) = (id?, qes?);
    state
        .db
        .read(move |conn| {
            let a = Agreement::find_in(conn, &caller.scope, &id)?;
            let file = QesSignature::file(conn, &a.id, &qes)?;
            Ok(SealedPdf {
                bytes: file.pdf,
                file_name: QesSignature::file_name(&a.reference),
            })
        })
        .await
}

/// Checks an uploaded PDF (the request body): is the seal valid, did the registry issue
/// exactly this file, and which agreement is it. Reads nothing but the upload and the
/// document hashes, so it is open to anyone holding a document.
#[post("/api/v1/verify", data = "<data>")]
async fn verify(state: &State<AppState>, data: Data<'_>) -> AppResult<Json<Verification>> {
    let bytes = data
        .open(MAX_VERIFY_BYTES.bytes())
        .into_bytes()
        .await
        .map_err(|e| AppError::bad_request(format!("Upload nicht lesbar: {e}")))?;
    if !bytes.is_complete() {
        return Err(AppError::new(
            ErrorKind::TooLarge,
            format!(
                "Die Datei ist größer als {} MiB.",
                MAX_VERIFY_BYTES / 1024 / 1024
            ),
        ));
    }
    let bytes = bytes.into_inner();
    if !bytes.starts_with(b"%PDF-") {
        return Err(AppError::field(
            "file",
            "Die Datei ist kein PDF (sie beginnt nicht mit %PDF-).",
        ));
    }
    let (sealer, anchors) = (state.sealer.clone(), state.qes_anchors.clone());
    Ok(Json(
        state
            .db
            .read(move |conn| crate::actions::documents::verify(conn, &sealer, &bytes, &anchors))
            .await?,
    ))
}
