//! A municipality's own request on its page (`…/antrag`): after reading the draft's text
//! it submits it for signature, or discards it. d-NRW's steps are `schritt.rs`.

use rocket::form::{Form, FromForm};
use rocket::{post, State};

use crate::actions::agreement::TransitionInput;
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult};
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::web::{form_outcome, form_session, Page, Session};

#[derive(FromForm)]
pub(super) struct RequestForm {
    #[field(default = String::new())]
    csrf: String,
    /// `submit` or `cancel`.
    #[field(default = String::new())]
    action: String,
    /// After discarding an Einzelabruf: back to its form to fill it in anew.
    #[field(default = false)]
    neu: bool,
    /// Discarding (without filling in anew) happens only from its confirmation page.
    #[field(default = false)]
    bestaetigt: bool,
}

#[post("/vereinbarungen/<id>/antrag", data = "<form>")]
pub(super) async fn request_step(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    form: Form<RequestForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    let id = id?;
    let target = format!("/vereinbarungen/{id}");
    let (scope, actor, order) = (session.scope(), session.actor(), state.signing_order);
    if form.action == "cancel" && !form.neu && !form.bestaetigt {
        let (scope, key) = (scope.clone(), id.to_string());
        let view = state
            .db
            .read(move |conn| {
                crate::store::agreement::Agreement::find_in(conn, &scope, &key)?.view(conn, false)
            })
            .await?;
        let mut ctx = crate::web::page_context(&session, "Entwurf verwerfen?")?;
        ctx["a"] = serde_json::json!(view);
        ctx["terminate"] = serde_json::json!(false);
        ctx["dependants_total"] = serde_json::json!(0);
        ctx["dependants"] = serde_json::json!([]);
        ctx["values"] = serde_json::json!({ "ende": "", "grund": "", "kaskade": false });
        ctx["post_to"] = serde_json::json!(format!("{target}/antrag"));
        return Ok(crate::web::render("confirm_end.html", ctx));
    }
    let input = TransitionInput {
        action: form.action.clone(),
        ..TransitionInput::default()
    };
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.apply_as(conn, &scope, &actor, &id, order))
        .await;
    match form_outcome(result)? {
        Ok(a) if a.status == crate::domain::Status::Cancelled => {
            Ok(Page::to(match (&a.service_id, form.neu) {
                (Some(s), true) => format!("/kommune/einzelabruf?dienst={s}&von={}", a.id),
                _ => "/kommune".to_string(),
            }))
        }
        Ok(_) => Ok(Page::to(format!("{target}#unterschriften"))),
        Err(e) => Ok(session.refused_by(&e, "Nicht möglich", &target)),
    }
}
