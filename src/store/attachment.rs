//! Files handed in with an Einzelabruf: the coat of arms and the DVDV certificate.
//! Checked by `domain::upload` before they are stored; read only within the agreement's
//! tenant scope.

use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;

use super::agreement::Agreement;
use super::{new_id, now, Scope};
use crate::db::schema::attachments;
use crate::db::DbConn;
use crate::domain::upload;
use crate::error::{AppError, AppResult, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    CoatOfArms,
    DvdvCertificate,
}

impl AttachmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::CoatOfArms => "coat_of_arms",
            AttachmentKind::DvdvCertificate => "dvdv_certificate",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            AttachmentKind::CoatOfArms => "Wappen",
            AttachmentKind::DvdvCertificate => "DVDV-Verschlüsselungszertifikat",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments)]
pub struct Attachment {
    pub id: String,
    pub agreement_id: String,
    pub kind: String,
    pub file_name: String,
    pub content_type: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub details: String,
    pub expires_at: Option<PrimitiveDateTime>,
    pub created_at: PrimitiveDateTime,
    pub created_by: String,
    pub content: Vec<u8>,
}

/// An attachment without its bytes, as pages and the API show it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = attachments)]
pub struct AttachmentInfo {
    pub id: String,
    pub agreement_id: String,
    pub kind: String,
    pub file_name: String,
    pub content_type: String,
    pub sha256: String,
    pub size_bytes: i64,
    #[serde(skip)]
    pub details: String,
    #[serde(with = "super::ts::option")]
    pub expires_at: Option<PrimitiveDateTime>,
    #[serde(with = "super::ts")]
    pub created_at: PrimitiveDateTime,
    pub created_by: String,
}

impl AttachmentInfo {
    /// The checked details (image size, or the certificate's subject, fingerprint, …).
    pub fn details(&self) -> serde_json::Value {
        serde_json::from_str(&self.details).unwrap_or(serde_json::Value::Null)
    }
}

/// An upload that passed its checks, ready to be stored with an agreement.
#[derive(Debug, Clone)]
pub struct CheckedUpload {
    pub id: String,
    pub kind: AttachmentKind,
    pub file_name: String,
    pub content_type: String,
    pub details: serde_json::Value,
    pub expires_at: Option<PrimitiveDateTime>,
    pub content: Vec<u8>,
}

/// A file name as shown and offered for download: its last path part, printable, short.
fn clean_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
        .take(120)
        .collect();
    if clean.trim().is_empty() {
        fallback.to_string()
    } else {
        clean.trim().to_string()
    }
}

impl CheckedUpload {
    /// Checks a coat of arms; the error is a German message for the form field.
    pub fn coat_of_arms(file_name: &str, bytes: Vec<u8>) -> Result<CheckedUpload, String> {
        let (image, bytes) = upload::check_coat_of_arms(&bytes)?;
        let ext = if image.content_type == "image/png" {
            "png"
        } else {
            "svg"
        };
        Ok(CheckedUpload {
            id: new_id(),
            kind: AttachmentKind::CoatOfArms,
            file_name: clean_name(file_name, &format!("wappen.{ext}")),
            content_type: image.content_type.to_string(),
            details: serde_json::to_value(&image).unwrap_or_default(),
            expires_at: None,
            content: bytes,
        })
    }

    /// Checks a DVDV certificate (PEM or DER) at the current time; stores it as DER.
    pub fn dvdv_certificate(file_name: &str, bytes: Vec<u8>) -> Result<CheckedUpload, String> {
        let (info, der) = upload::check_dvdv_certificate(&bytes, time::OffsetDateTime::now_utc())?;
        let expires = info.not_after;
        Ok(CheckedUpload {
            id: new_id(),
            kind: AttachmentKind::DvdvCertificate,
            file_name: clean_name(file_name, "dvdv-zertifikat.cer"),
            content_type: "application/pkix-cert".into(),
            details: serde_json::to_value(&info).unwrap_or_default(),
            expires_at: Some(PrimitiveDateTime::new(expires.date(), expires.time())),
            content: der,
        })
    }

    /// Stores the upload with agreement `agreement_id`.
    pub fn store(self, conn: &mut DbConn, agreement_id: &str, actor: &str) -> AppResult<()> {
        let row = Attachment {
            id: self.id.clone(),
            agreement_id: agreement_id.to_string(),
            kind: self.kind.as_str().into(),
            file_name: self.file_name,
            content_type: self.content_type,
            sha256: hex::encode(Sha256::digest(&self.content)),
            size_bytes: self.content.len() as i64,
            details: self.details.to_string(),
            expires_at: self.expires_at,
            created_at: now(),
            created_by: actor.to_string(),
            content: self.content,
        };
        diesel::insert_into(attachments::table)
            .values(&row)
            .execute(conn)?;
        super::audit::record(
            conn,
            super::audit::Change {
                actor,
                action: "attach",
                entity_type: "agreement",
                entity_id: agreement_id,
                before: None,
                after: Some(serde_json::json!({
                    "attachment_id": row.id,
                    "kind": row.kind,
                    "file_name": row.file_name,
                    "sha256": row.sha256,
                    "details": self.details,
                })),
                note: None,
            },
        )?;
        Ok(())
    }
}

/// Hands in (or renews) the DVDV certificate of Einzelabruf `agreement_id`, if `scope` may
/// see it and it is still running (draft to in force). It is operational data for the
/// DVDV entry, not part of the signed terms, so it may change while the EA is active.
pub fn store_certificate(
    conn: &mut DbConn,
    scope: &Scope,
    agreement_id: &str,
    upload: CheckedUpload,
    actor: &str,
) -> AppResult<AttachmentInfo> {
    use crate::domain::{AgreementKind, Status};
    let a = Agreement::find_in(conn, scope, agreement_id)?;
    let running = matches!(
        a.status,
        Status::Draft | Status::AwaitingSignatures | Status::Signed | Status::InForce
    );
    if a.kind != AgreementKind::Ea || !running {
        return Err(AppError::new(
            ErrorKind::Rule,
            "Ein DVDV-Zertifikat gehört zu einem laufenden Einzelabruf.",
        ));
    }
    let id = upload.id.clone();
    upload.store(conn, agreement_id, actor)?;
    attachments::table
        .find(&id)
        .select(AttachmentInfo::as_select())
        .first(conn)
        .map_err(AppError::from)
}

impl Attachment {
    /// The attachments of an agreement, oldest first.
    pub fn list(conn: &mut DbConn, agreement_id: &str) -> AppResult<Vec<AttachmentInfo>> {
        Ok(attachments::table
            .filter(attachments::agreement_id.eq(agreement_id))
            .select(AttachmentInfo::as_select())
            .order(attachments::created_at)
            .load(conn)?)
    }

    /// The newest attachment of `kind` of an agreement (without its bytes).
    pub fn newest_of_kind(
        conn: &mut DbConn,
        agreement_id: &str,
        kind: &str,
    ) -> AppResult<Option<AttachmentInfo>> {
        Ok(attachments::table
            .filter(attachments::agreement_id.eq(agreement_id))
            .filter(attachments::kind.eq(kind))
            .select(AttachmentInfo::as_select())
            .order(attachments::created_at.desc())
            .first(conn)
            .optional()?)
    }

    /// An attachment the registry's data refers to (a parameter's file): missing means
    /// the database is broken, an internal error.
    pub fn info(conn: &mut DbConn, id: &str) -> AppResult<AttachmentInfo> {
        attachments::table
            .find(id)
            .select(AttachmentInfo::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::internal(format!("attachment {id} is referenced but missing")))
    }

    /// One attachment, if `scope` may see its agreement; otherwise "not found".
    pub fn find_in(conn: &mut DbConn, scope: &Scope, id: &str) -> AppResult<Attachment> {
        let missing = || AppError::not_found(format!("Es gibt keine Anlage mit der Id {id}."));
        let a: Attachment = attachments::table
            .find(id)
            .select(Attachment::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(missing)?;
        Agreement::find_in(conn, scope, &a.agreement_id).map_err(|_| missing())?;
        Ok(a)
    }
}
