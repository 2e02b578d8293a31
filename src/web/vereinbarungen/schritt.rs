//! Lifecycle steps of an agreement (submit, withdraw, terminate, …) and signatures d-NRW
//! records for a contact person.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{post, State};

use crate::actions::agreement::TransitionInput;
use crate::actions::sign::{SignContext, SignInput};
use crate::domain::text::Checked;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::web::{form_outcome, is_form_error, staff_form, Page, Session};

#[derive(FromForm)]
pub(super) struct StepForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    action: String,
    #[field(default = String::new())]
    ende: String,
    #[field(default = String::new())]
    grund: String,
    #[field(default = false)]
    kaskade: bool,
    /// Ending an agreement (terminate, cancel) happens only from its confirmation page.
    #[field(default = false)]
    bestaetigt: bool,
}

/// The confirmation page of a step that ends an agreement: what it ends, which active
/// agreements rest on it (and end with it when chosen), the fields as given, and why a
/// confirmed try was refused.
async fn confirm_page(
    state: &State<AppState>,
    session: &Session,
    id: &str,
    form: &StepForm,
    problem: Option<String>,
) -> AppResult<Page> {
    let key = id.to_string();
    let (view, dependants) = state
        .db
        .read(move |conn| {
            let a = crate::store::agreement::Agreement::find(conn, &key)?;
            let all = a.active_dependants(conn)?;
            let shown = all
                .iter()
                .take(20)
                .map(|d| d.view(conn, false))
                .collect::<AppResult<Vec<_>>>()?;
            Ok((a.view(conn, false)?, (all.len(), shown)))
        })
        .await?;
    let terminate = form.action == "terminate";
    let mut ctx = crate::web::page_context(
        session,
        if terminate {
            "Vereinbarung kündigen?"
        } else {
            "Vereinbarung verwerfen?"
        },
    )?;
    ctx["a"] = serde_json::json!(view);
    ctx["terminate"] = serde_json::json!(terminate);
    let (total, shown) = dependants;
    ctx["dependants_total"] = serde_json::json!(total);
    ctx["dependants"] = serde_json::json!(shown);
    ctx["values"] = serde_json::json!({
        "ende": form.ende, "grund": form.grund, "kaskade": form.kaskade,
    });
    ctx["post_to"] = serde_json::json!(format!("/vereinbarungen/{id}/schritt"));
    let refused = problem.is_some();
    ctx["problem"] = serde_json::json!(problem);
    let page = crate::web::render("confirm_end.html", ctx);
    // Asked: 200; a confirmed try that cannot be done as chosen: 409, the question again.
    Ok(if refused {
        page.with_status(Status::Conflict)
    } else {
        page
    })
}

/// A lifecycle step on an agreement's page: submit, cancel, terminate.
#[post("/vereinbarungen/<id>/schritt", data = "<form>")]
pub(super) async fn step(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    form: Form<StepForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let target = format!("/vereinbarungen/{id}");
    let form = form.into_inner();
    if !matches!(form.action.as_str(), "submit" | "cancel" | "terminate") {
        return Err(AppError::field("action", "Unbekannter Schritt."));
    }
    let Ok(ends_on) = crate::web::form_date(&form.ende) else {
        return Ok(session.refused(
            Status::UnprocessableEntity,
            "Datum nicht lesbar",
            "Bitte das Vertragsende als Datum angeben (z. B. 2027-06-30).",
            &target,
        ));
    };
    let ends = matches!(form.action.as_str(), "terminate" | "cancel");
    if ends && !form.bestaetigt {
        return confirm_page(state, &session, &id, &form, None).await;
    }
    if ends && !form.kaskade {
        let key = id.to_string();
        let resting = state
            .db
            .read(move |conn| {
                let a = crate::store::agreement::Agreement::find(conn, &key)?;
                Ok(a.active_dependants(conn)?.len())
            })
            .await?;
        if resting > 0 {
            let problem = "Auf dieser Vereinbarung beruhen noch aktive Vereinbarungen (unten). Kreuzen Sie an, dass sie mit beendet werden, oder beenden Sie sie zuerst einzeln.".to_string();
            return confirm_page(state, &session, &id, &form, Some(problem)).await;
        }
    }
    let actor = session.actor();
    let input = TransitionInput {
        action: form.action,
        ends_on,
        reason: Some(form.grund.trim().to_string()).filter(|r| !r.is_empty()),
        cascade: form.kaskade,
        ..TransitionInput::default()
    };
    let order = state.signing_order;
    let result = state
        .db
        .write(move |conn| Checked::new(input)?.apply(conn, &actor, &id, order))
        .await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(target)),
        Err(e) => Ok(session.refused_by(&e, "Schritt nicht möglich", &target)),
    }
}

#[derive(FromForm)]
pub(super) struct ContactSignatureForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    contact: String,
}

/// Staff record the signature of the partner's authorised contact person (signed in
/// the registry's presence or on paper), as `POST …/signatures` with `contact_id` does.
#[post("/vereinbarungen/<id>/unterschrift-erfassen", data = "<form>")]
pub(super) async fn record_signature(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    form: Form<ContactSignatureForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let target = format!("/vereinbarungen/{id}");
    let contact_id = crate::http::params::id(&form.contact)
        .map_err(|_| AppError::field("contact_id", "Bitte eine Ansprechperson wählen."));
    let ctx = SignContext {
        actor: session.actor(),
        auth_method: format!(
            "erfasst von {} (d-NRW) in der Webanwendung",
            session.user.name
        ),
        user_id: Some(session.user.id.clone()),
        staff: true,
        ..SignContext::default()
    };
    let (sealer, order) = (state.sealer.clone(), state.signing_order);
    let result = match contact_id {
        Ok(contact_id) => {
            let id = id.clone();
            state
                .db
                .write(move |conn| {
                    Checked::new(SignInput {
                        contact_id: Some(contact_id),
                        version_no: None,
                    })?
                    .apply(conn, &sealer, order, &ctx, &id)
                })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if is_form_error(&e) || e.kind == ErrorKind::Forbidden => {
            Ok(session.refused_by(&e, "Unterschrift nicht erfasst", &target))
        }
        Err(e) => Err(e),
    }
}
