//! Sealed documents: the final PDF of an agreement version (contract, annexes, signature
//! page, evidence page), sealed once and stored with its SHA-256 in the database, so every
//! application instance serves the same bytes. The database refuses UPDATE and DELETE.
//!
//! Issuing is split in three so the bulk run can seal in parallel: [`prepare`] reads what
//! the document shows, [`produce`] renders and seals it (no database), [`store`] writes it.

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::documents;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = documents)]
pub struct Document {
    pub id: String,
    pub agreement_id: String,
    pub version_no: i32,
    pub sha256: String,
    pub text_sha256: String,
    /// JSON array: `["ea@2.0", "avv@2.0"]`
    pub templates: String,
    pub size_bytes: i64,
    pub seal_subject: String,
    pub sealed_at: PrimitiveDateTime,
    pub pdf: Vec<u8>,
}

/// A document without its bytes.
#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = documents)]
pub struct DocumentInfo {
    pub id: String,
    pub agreement_id: String,
    pub version_no: i32,
    pub sha256: String,
    pub text_sha256: String,
    #[serde(skip)]
    pub templates: String,
    pub size_bytes: i64,
    pub seal_subject: String,
    #[serde(with = "super::ts")]
    pub sealed_at: PrimitiveDateTime,
}

impl DocumentInfo {
    pub fn template_list(&self) -> Vec<String> {
        serde_json::from_str(&self.templates).unwrap_or_default()
    }
}

impl Document {
    /// How many documents are stored.
    pub fn count(conn: &mut DbConn) -> AppResult<i64> {
        Ok(documents::table.count().get_result(conn)?)
    }

    /// The sealed PDF of a version, if there is one.
    pub fn of_version(
        conn: &mut DbConn,
        agreement_id: &str,
        no: i32,
    ) -> AppResult<Option<Document>> {
        Ok(documents::table
            .filter(documents::agreement_id.eq(agreement_id))
            .filter(documents::version_no.eq(no))
            .select(Document::as_select())
            .first(conn)
            .optional()?)
    }

    /// The sealed documents of an agreement, oldest version first.
    pub fn list(conn: &mut DbConn, agreement_id: &str) -> AppResult<Vec<DocumentInfo>> {
        Ok(documents::table
            .filter(documents::agreement_id.eq(agreement_id))
            .select(DocumentInfo::as_select())
            .order(documents::version_no)
            .load(conn)?)
    }

    /// The sealed PDF to hand out for an agreement the caller may see: that of version `no`,
    /// or of the version in force (the current one), or else the newest (an amendment may
    /// be sealed before it applies). Also its download file name.
    pub fn for_download(
        conn: &mut DbConn,
        a: &super::agreement::Agreement,
        no: Option<i32>,
    ) -> AppResult<(Document, String)> {
        let doc = match no {
            Some(n) => Document::of_version(conn, &a.id, n)?,
            None => match Document::of_version(conn, &a.id, a.current_version)? {
                Some(d) => Some(d),
                None => match Document::list(conn, &a.id)?.last() {
                    Some(last) => Document::of_version(conn, &a.id, last.version_no)?,
                    None => None,
                },
            },
        };
        let doc = doc.ok_or_else(|| {
            AppError::not_found(format!(
                "Für {} gibt es noch kein gesiegeltes Dokument; es entsteht mit der letzten Unterschrift.",
                a.reference
            ))
        })?;
        // References are ASCII ("EA-2026-000001"): safe in a header.
        let file_name = format!(
            "{}-Fassung-{}.pdf",
            a.reference
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<String>(),
            doc.version_no
        );
        Ok((doc, file_name))
    }

    /// The document with exactly these bytes (SHA-256 of the whole file).
    pub fn by_sha256(conn: &mut DbConn, sha256: &str) -> AppResult<Option<DocumentInfo>> {
        Ok(documents::table
            .filter(documents::sha256.eq(sha256))
            .select(DocumentInfo::as_select())
            .first(conn)
            .optional()?)
    }
}

pub(crate) fn info(d: &Document) -> DocumentInfo {
    DocumentInfo {
        id: d.id.clone(),
        agreement_id: d.agreement_id.clone(),
        version_no: d.version_no,
        sha256: d.sha256.clone(),
        text_sha256: d.text_sha256.clone(),
        templates: d.templates.clone(),
        size_bytes: d.size_bytes,
        seal_subject: d.seal_subject.clone(),
        sealed_at: d.sealed_at,
    }
}
