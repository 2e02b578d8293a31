//! Signing in the session (`…/unterschreiben`) and putting a signed agreement into force
//! (`…/inkraft`).

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{post, State};

use crate::actions::agreement::TransitionInput;
use crate::actions::sign::{SignContext, SignInput};
use crate::domain::text::Checked;
use crate::error::AppError;
use crate::error::{AppResult, ErrorKind};
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::store::agreement::Agreement;
use crate::web::{form_outcome, form_session, is_form_error, staff_form, CsrfForm, Page, Session};

/// Signs the pending version as the logged-in user; the last signature seals.
#[post("/vereinbarungen/<id>/unterschreiben", data = "<form>")]
pub(super) async fn sign(
    state: &State<AppState>,
    session: Option<Session>,
    client_ip: Option<std::net::IpAddr>,
    user_agent: UserAgent,
    id: Result<AgreementId, AppError>,
    form: Form<CsrfForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    let id = id?;
    let scope = session.scope();
    let ctx = SignContext {
        actor: session.actor(),
        auth_method: session.auth_method(),
        ip: client_ip.map(|i| i.to_string()),
        user_agent: user_agent.0,
        user_id: Some(session.user.id.clone()),
        staff: session.is_staff(),
    };
    let (sealer, order) = (state.sealer.clone(), state.signing_order);
    let target = format!("/vereinbarungen/{id}");
    let result = state
        .db
        .write(move |conn| {
            Agreement::find_in(conn, &scope, &id)?;
            Checked::new(SignInput::default())?.apply(conn, &sealer, order, &ctx, &id)
        })
        .await;
    match result {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if is_form_error(&e) || e.kind == ErrorKind::Forbidden => {
            Ok(session.refused_by(&e, "Unterschrift nicht möglich", &target))
        }
        Err(e) => Err(e),
    }
}

#[derive(FromForm)]
pub(super) struct ActivateForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    ab: String,
}

/// Staff put a signed agreement into force from a date (default today).
#[post("/vereinbarungen/<id>/inkraft", data = "<form>")]
pub(super) async fn activate(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    form: Form<ActivateForm>,
) -> AppResult<Page> {
    let session = staff_form!(session, &form.csrf);
    let id = id?;
    let target = format!("/vereinbarungen/{id}");
    let Ok(effective_from) = crate::web::form_date(&form.ab) else {
        return Ok(session.refused(
            Status::UnprocessableEntity,
            "Datum nicht lesbar",
            "Bitte das Datum des Inkrafttretens als Datum angeben (z. B. 2026-12-01).",
            &target,
        ));
    };
    let (actor, order) = (session.actor(), state.signing_order);
    let result = state
        .db
        .write(move |conn| {
            Checked::new(TransitionInput {
                action: "activate".into(),
                effective_from,
                ..TransitionInput::default()
            })?
            .apply(conn, &actor, &id, order)
        })
        .await;
    match form_outcome(result)? {
        Ok(_) => Ok(Page::to(target)),
        Err(e) => Ok(session.refused_by(&e, "Inkraftsetzen nicht möglich", &target)),
    }
}

/// The User-Agent header, as a signature records it (printable, at most 300 characters).
pub struct UserAgent(Option<String>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for UserAgent {
    type Error = ();
    async fn from_request(req: &'r rocket::Request<'_>) -> rocket::request::Outcome<Self, ()> {
        rocket::request::Outcome::Success(UserAgent(
            req.headers()
                .get_one("User-Agent")
                .map(|ua| ua.chars().filter(|c| !c.is_control()).take(300).collect()),
        ))
    }
}
