//! The receipt after signing (`…/quittung`): what was signed, when and as whom, and what
//! happens next (who signs next, the seal, where the document will be).

use rocket::{get, State};
use serde_json::json;

use crate::actions::sign;
use crate::domain::berlin;
use crate::error::{AppError, AppResult};
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::store::agreement::Agreement;
use crate::store::signature::Signature;
use crate::web::{page_context, signed_in, Page, Session};

#[get("/vereinbarungen/<id>/quittung")]
pub(super) async fn receipt(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    let id = id?;
    let page = format!("/vereinbarungen/{id}");
    let (scope, order, user_id) = (
        session.scope(),
        state.signing_order,
        session.user.id.clone(),
    );
    let found = state
        .db
        .read(move |conn| {
            let a = Agreement::find_in(conn, &scope, &id)?;
            let view = a.view(conn, false)?;
            // The user's latest signature on this agreement, and that version's state.
            let Some(signature) = Signature::latest_of_user(conn, &a.id, &user_id)? else {
                return Ok(None);
            };
            let signing = sign::state(conn, order, &a.id, Some(signature.version_no))?;
            Ok(Some((view, signature, signing)))
        })
        .await?;
    let Some((view, signature, signing)) = found else {
        // Nothing signed here by this user: the agreement's page says where it stands.
        return Ok(Page::to(page));
    };
    let next = signing
        .required
        .iter()
        .find(|r| r.signature.is_none())
        .map(|r| json!({ "label": r.label, "organisation": r.organisation }));
    let mut ctx = page_context(&session, "Ihre Unterschrift ist erfasst")?;
    ctx["kind_acc"] = json!(view.kind.phrase(
        crate::domain::grammar::Case::Accusative,
        crate::domain::grammar::Article::Definite,
        None
    ));
    ctx["a"] = json!(view);
    ctx["signature"] = json!({
        "at": berlin::german_date_time(signature.signed_at),
        "name": signature.signer_name,
        "organisation": signature.organisation_name,
        "organisation_acc": crate::domain::grammar::for_party(&signature.organisation_name),
        "version_no": signature.version_no,
        "declaration": signature.declaration,
    });
    ctx["next"] = json!(next);
    ctx["document"] = json!(signing.document);
    Ok(crate::web::render("receipt.html", ctx))
}
