//! Qualified electronic signatures a party added to an issued document and uploaded
//! (`seal::qes` checks them, `actions::qes` records them): the file and the signer's
//! certificate. The database refuses UPDATE and DELETE.

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::qes_signatures;
use crate::db::DbConn;
use crate::domain::signing::Party;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = qes_signatures)]
pub struct QesSignature {
    pub id: String,
    pub agreement_id: String,
    pub document_id: String,
    pub party: Party,
    pub signer_name: String,
    pub signer_subject: String,
    pub issuer: String,
    pub serial: String,
    pub cert_not_before: PrimitiveDateTime,
    pub cert_not_after: PrimitiveDateTime,
    pub cert_sha256: String,
    pub qualified: bool,
    /// `trusted` (chains to a configured QES trust anchor) or `not_checked`.
    pub chain: String,
    pub signing_time: Option<String>,
    pub sha256: String,
    pub size_bytes: i64,
    pub pdf: Vec<u8>,
    pub uploaded_by: String,
    pub uploaded_at: PrimitiveDateTime,
}

/// A recorded QES without the file.
#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = qes_signatures)]
pub struct QesInfo {
    pub id: String,
    pub agreement_id: String,
    pub document_id: String,
    pub party: Party,
    pub signer_name: String,
    pub signer_subject: String,
    pub issuer: String,
    pub serial: String,
    #[serde(with = "super::ts")]
    pub cert_not_before: PrimitiveDateTime,
    #[serde(with = "super::ts")]
    pub cert_not_after: PrimitiveDateTime,
    pub cert_sha256: String,
    pub qualified: bool,
    pub chain: String,
    pub signing_time: Option<String>,
    pub sha256: String,
    pub size_bytes: i64,
    #[serde(skip)]
    pub uploaded_by: String,
    #[serde(with = "super::ts")]
    pub uploaded_at: PrimitiveDateTime,
}

impl QesSignature {
    pub fn insert(&self, conn: &mut DbConn) -> AppResult<()> {
        diesel::insert_into(qes_signatures::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    /// The QES recorded for an agreement, oldest first.
    pub fn list(conn: &mut DbConn, agreement_id: &str) -> AppResult<Vec<QesInfo>> {
        Ok(qes_signatures::table
            .filter(qes_signatures::agreement_id.eq(agreement_id))
            .select(QesInfo::as_select())
            .order(qes_signatures::uploaded_at)
            .load(conn)?)
    }

    /// Whether this certificate's signature on this document is recorded already.
    pub fn exists(conn: &mut DbConn, document_id: &str, cert_sha256: &str) -> AppResult<bool> {
        let n: i64 = qes_signatures::table
            .filter(qes_signatures::document_id.eq(document_id))
            .filter(qes_signatures::cert_sha256.eq(cert_sha256))
            .count()
            .get_result(conn)?;
        Ok(n > 0)
    }

    /// The recorded QES whose uploaded file has this SHA-256.
    pub fn by_sha256(conn: &mut DbConn, sha256: &str) -> AppResult<Option<QesInfo>> {
        Ok(qes_signatures::table
            .filter(qes_signatures::sha256.eq(sha256))
            .select(QesInfo::as_select())
            .first(conn)
            .optional()?)
    }

    /// The download name of a QES-signed file: "RV-2026-00001-QES.pdf" (references are
    /// ASCII; safe in a header).
    pub fn file_name(reference: &str) -> String {
        format!(
            "{}-QES.pdf",
            reference
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<String>()
        )
    }

    /// The signed file of QES `id` of agreement `agreement_id`.
    pub fn file(conn: &mut DbConn, agreement_id: &str, id: &str) -> AppResult<QesSignature> {
        qes_signatures::table
            .filter(qes_signatures::id.eq(id))
            .filter(qes_signatures::agreement_id.eq(agreement_id))
            .select(QesSignature::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("Diese signierte Datei gibt es nicht."))
    }
}
