//! Producing documents for people to read: the draft PDF of an agreement.

use crate::db::Db;
use crate::documents::pdf::{self, Purpose};
use crate::domain::signing::SigningOrder;
use crate::error::{AppError, AppResult};
use crate::models::agreement::Agreement;
use crate::models::{document, Scope};

/// The unsealed draft of the current version of agreement `id`, if `scope` may see it:
/// every page marked ENTWURF, with the signatures given so far (API and web pages).
pub async fn draft_pdf(
    db: &Db,
    order: SigningOrder,
    scope: Scope,
    id: String,
) -> AppResult<Vec<u8>> {
    let prepared = db
        .read(move |conn| {
            let a = Agreement::find_in(conn, &scope, &id)?;
            let no = a.current_version;
            document::prepare(conn, order, &a, no)
        })
        .await?;
    rocket::tokio::task::spawn_blocking(move || {
        pdf::render(&prepared.text, Purpose::Draft, &prepared.annex)
    })
    .await
    .map_err(|e| AppError::internal(format!("pdf task: {e}")))?
}
