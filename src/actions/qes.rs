//! The written-form path: a party that needs written form signs the issued PDF with its
//! own qualified electronic signature and uploads it. The file is checked against the
//! document the registry issued (`seal::qes`) and only then recorded, with the signer's
//! certificate, and audited. One path for the agreement page and the API.

use sha2::Digest;
use time::OffsetDateTime;

use crate::db::DbConn;
use crate::domain::policy::Scope;
use crate::domain::signing::Party;
use crate::error::{AppError, AppResult, ErrorKind, FieldError};
use crate::seal::qes::{self, Chain};
use crate::store::agreement::Agreement;
use crate::store::audit::{self, Change};
use crate::store::document::Document;
use crate::store::qes::{QesInfo, QesSignature};
use crate::store::{new_id, now};

/// The largest signed file accepted (the issued documents are far smaller).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Which side the signature is for: staff upload for d-NRW or, with a file the partner
/// sent them, for the partner; a party's own users only for their side.
pub fn side(scope: &Scope, asked: Option<Party>) -> AppResult<Party> {
    match (scope, asked) {
        (Scope::All, asked) => Ok(asked.unwrap_or(Party::Dnrw)),
        (_, None | Some(Party::Partner)) => Ok(Party::Partner),
        (_, Some(Party::Dnrw)) => Err(AppError::forbidden(
            "Eine Signatur für d-NRW laden nur Beschäftigte der d-NRW hoch.",
        )),
    }
}

/// Checks `bytes` against the documents issued for agreement `id` and records the QES of
/// its last signature for `party`; refused (422) with every reason, or 409 if this
/// certificate's signature on the document is recorded already.
pub fn record(
    conn: &mut DbConn,
    scope: &Scope,
    actor: &str,
    id: &str,
    party: Party,
    bytes: Vec<u8>,
    anchors: &[Vec<u8>],
) -> AppResult<QesInfo> {
    let a = Agreement::find_in(conn, scope, id)?;
    if bytes.len() > MAX_BYTES {
        return Err(AppError::new(
            ErrorKind::TooLarge,
            format!("Die Datei ist größer als {} MiB.", MAX_BYTES / 1024 / 1024),
        ));
    }
    if !bytes.starts_with(b"%PDF-") {
        return Err(AppError::field("pdf", "Die Datei ist kein PDF-Dokument."));
    }
    let documents = Document::list(conn, &a.id)?;
    if documents.is_empty() {
        return Err(AppError::new(
            ErrorKind::Conflict,
            format!(
                "Für {} gibt es noch kein ausgestelltes Dokument; es entsteht mit der letzten \
                 Unterschrift im Register.",
                a.reference
            ),
        ));
    }
    // The issued document the file begins with, or (for the message) the newest one.
    let mut issued = None;
    for info in documents.iter().rev() {
        if let Some(doc) = Document::of_version(conn, &a.id, info.version_no)? {
            if bytes.starts_with(&doc.pdf) {
                issued = Some(doc);
                break;
            }
        }
    }
    let issued = match issued {
        Some(d) => d,
        None => Document::for_download(conn, &a, None)?.0,
    };
    let check = qes::check(&bytes, &issued.pdf, anchors, OffsetDateTime::now_utc());
    if !check.accepted() {
        return Err(AppError::validation(
            check
                .problems
                .into_iter()
                .map(|message| FieldError {
                    field: "pdf".into(),
                    message,
                })
                .collect(),
        ));
    }
    let Some(signer) = check.signer else {
        return Err(AppError::internal("accepted QES check without a signer"));
    };
    if QesSignature::exists(conn, &issued.id, &signer.sha256)? {
        return Err(AppError::new(
            ErrorKind::Duplicate,
            format!(
                "Die Signatur von {} auf diesem Dokument ist bereits erfasst.",
                signer.name
            ),
        ));
    }
    let primitive = |t: OffsetDateTime| {
        let t = t.to_offset(time::UtcOffset::UTC);
        time::PrimitiveDateTime::new(t.date(), t.time())
    };
    let row = QesSignature {
        id: new_id(),
        agreement_id: a.id.clone(),
        document_id: issued.id.clone(),
        party,
        signer_name: signer.name.clone(),
        signer_subject: signer.subject.clone(),
        issuer: signer.issuer.clone(),
        serial: signer.serial.clone(),
        cert_not_before: primitive(signer.not_before),
        cert_not_after: primitive(signer.not_after),
        cert_sha256: signer.sha256.clone(),
        qualified: signer.qualified,
        chain: match check.chain {
            Chain::Trusted => "trusted",
            _ => "not_checked",
        }
        .into(),
        signing_time: check.signing_time,
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        size_bytes: bytes.len() as i64,
        pdf: bytes,
        uploaded_by: actor.to_string(),
        uploaded_at: now(),
    };
    row.insert(conn)?;
    audit::record(
        conn,
        Change {
            actor,
            action: "qes",
            entity_type: "agreement",
            entity_id: &a.id,
            before: None,
            after: Some(serde_json::json!({
                "qes_id": row.id, "document_id": row.document_id, "party": party,
                "signer": row.signer_subject, "issuer": row.issuer, "serial": row.serial,
                "cert_sha256": row.cert_sha256, "qualified": row.qualified, "sha256": row.sha256,
            })),
            note: Some(format!(
                "Qualifizierte elektronische Signatur von {} hochgeladen",
                row.signer_name
            )),
        },
    )?;
    QesSignature::list(conn, &a.id)?
        .into_iter()
        .find(|q| q.id == row.id)
        .ok_or_else(|| AppError::internal("recorded QES not found"))
}
