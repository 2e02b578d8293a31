//! Amendments of an agreement in force (staff): the form, and the steps of an open
//! amendment.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, State};
use serde_json::{json, Value};

use super::einzelabruf::current_terms;
use super::entwurf::{avv_fields, field_id, DraftForm};
use crate::actions::agreement::{AmendmentInput, AmendmentStep};
use crate::domain::text::Checked;
use crate::error::AppError;
use crate::error::AppResult;
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::store::agreement::AgreementView;
use crate::web::{form_errors, form_outcome, page_context, signed_in, staff_form, Page, Session};

async fn amend_page(
    session: &Session,
    view: &AgreementView,
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
    let mut ctx = page_context(session, &format!("Änderungsfassung zu {}", view.reference))?;
    ctx["a"] = json!(view);
    ctx["avv_fields"] = avv_fields();
    ctx["values"] = values;
    crate::web::set_errors(&mut ctx, errors);
    Ok(crate::web::render("amendment_form.html", ctx))
}

/// `/vereinbarungen/<id>/aenderung`: a new version of a signed agreement (costs, notes,
/// the AVV), signed and sealed as its own document.
#[get("/vereinbarungen/<id>/aenderung")]
pub(super) async fn amend_form(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
) -> AppResult<Page> {
    let session = signed_in!(session);
    session.staff()?;
    let id = id?;
    let (view, form) = current_terms(state, id).await?;
    amend_page(&session, &view, form.values(), None).await
}

#[post("/vereinbarungen/<id>/aenderung", data = "<form>")]
pub(super) async fn amend(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    form: Form<DraftForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let (view, _) = current_terms(state, id.clone()).await?;
    let form = form.into_inner();
    let input = AmendmentInput {
        lock_version: form.lock_version,
        change_note: form.change_note.trim().to_string(),
        avv: view.kind.has_avv().then(|| form.avv.avv()),
        parameters: None,
        costs: Some(form.costs.trim().to_string()),
        notes: Some(form.notes.trim().to_string()),
    };
    let (actor, aid) = (session.actor(), id.clone());
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.apply(conn, &actor, &aid))
        .await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(format!("/vereinbarungen/{id}"))),
        Err(e) => Ok(amend_page(
            &session,
            &view,
            form.values(),
            Some(form_errors(&e, field_id)),
        )
        .await?
        .with_status(Status::UnprocessableEntity)),
    }
}

#[derive(FromForm)]
pub(super) struct AmendmentStepForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    action: String,
    #[field(default = String::new())]
    ab: String,
}

/// Puts a signed amendment into force (from a date) or cancels an open one.
#[post("/vereinbarungen/<id>/aenderung/<no>/schritt", data = "<form>")]
pub(super) async fn amendment_step(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    no: i32,
    form: Form<AmendmentStepForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let target = format!("/vereinbarungen/{id}");
    let Ok(effective_from) = crate::web::form_date(&form.ab) else {
        return Ok(session.refused(
            Status::UnprocessableEntity,
            "Datum nicht lesbar",
            "Bitte das Datum, ab dem die Änderung gilt, als Datum angeben (z. B. 2026-12-01).",
            &target,
        ));
    };
    let step = AmendmentStep {
        action: form.action.clone(),
        effective_from,
    };
    let actor = session.actor();
    let result = state
        .db
        .write(move |conn| Checked::new(step)?.apply(conn, &actor, &id, no))
        .await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(target)),
        Err(e) => Ok(session.refused_by(&e, "Schritt nicht möglich", &target)),
    }
}
