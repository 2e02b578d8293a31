//! Signing in the session (`…/unterschreiben`) and putting a signed agreement into force
//! (`…/inkraft`).

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{post, State};

use crate::actions::accounts::LoginOutcome;
use crate::actions::agreement::TransitionInput;
use crate::actions::decline::DeclineInput;
use crate::actions::sign::{SignContext, SignInput};
use crate::domain::text::Checked;
use crate::domain::text::{Email, Secret};
use crate::error::AppError;
use crate::error::{AppResult, ErrorKind, FieldError};
use crate::http::params::AgreementId;
use crate::http::state::AppState;
use crate::store::agreement::Agreement;
use crate::web::{form_outcome, form_session, is_form_error, staff_form, Page, Session};

#[derive(FromForm)]
pub(super) struct SignForm {
    #[field(default = String::new())]
    csrf: String,
    /// The version the page showed (a newer one is not signed unseen).
    #[field(default = 0)]
    fassung: i32,
    /// The declaration confirmed.
    #[field(default = false)]
    erklaerung: bool,
    /// The password again (step-up).
    #[field(default = String::new())]
    passwort: String,
}

/// Signs the version the page showed as the logged-in user, after they confirmed the
/// declaration and entered their password again (counted like a login, so the form is
/// no way around the throttle); the last signature seals. Then the receipt.
#[post("/vereinbarungen/<id>/unterschreiben", data = "<form>")]
pub(super) async fn sign(
    state: &State<AppState>,
    session: Option<Session>,
    client_ip: Option<std::net::IpAddr>,
    user_agent: UserAgent,
    id: Result<AgreementId, AppError>,
    form: Form<SignForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    let id = id?;
    let target = format!("/vereinbarungen/{id}");
    // First whether a signature could follow at all (so no password is asked for, or
    // counted, on what cannot be signed), then the declaration and the password.
    let precheck = {
        let (scope, id, user, order) = (
            session.scope(),
            id.clone(),
            session.user.clone(),
            state.signing_order,
        );
        state
            .db
            .read(move |conn| {
                let a = Agreement::find_in(conn, &scope, &id)?;
                crate::actions::sign::check_may_sign(conn, order, &a, &user)
            })
            .await
    };
    match precheck {
        Err(e) if is_form_error(&e) || e.kind == ErrorKind::Forbidden => {
            return Ok(session.refused_by(&e, "Unterschrift nicht möglich", &target))
        }
        other => other?,
    }
    let ip = client_ip.map(|i| i.to_string());
    if let Err(e) = step_up(state, &session, &form, ip.as_deref()).await? {
        let errors = crate::web::form_errors(&e, str::to_string);
        return super::agreement_page(state, &session, id, false, Some(errors), form.erklaerung)
            .await;
    }
    let scope = session.scope();
    let ctx = SignContext {
        actor: session.actor(),
        auth_method: format!(
            "Passwort bei der Unterschrift erneut eingegeben (Webanwendung, {})",
            session.user.email
        ),
        ip,
        user_agent: user_agent.0,
        user_id: Some(session.user.id.clone()),
        staff: session.is_staff(),
        declared: true,
    };
    let (sealer, order) = (state.sealer.clone(), state.signing_order);
    let input = SignInput {
        version_no: Some(form.fassung),
        ..SignInput::default()
    };
    let result = state
        .db
        .write(move |conn| {
            Agreement::find_in(conn, &scope, &id)?;
            Checked::new(input)?.apply(conn, &sealer, order, &ctx, &id)
        })
        .await;
    match result {
        Ok(_) => Ok(Page::to(format!("{target}/quittung"))),
        Err(e) if is_form_error(&e) || e.kind == ErrorKind::Forbidden => {
            Ok(session.refused_by(&e, "Unterschrift nicht möglich", &target))
        }
        Err(e) => Err(e),
    }
}

/// The declaration and the password: `Ok(Err(…))` names what is missing at its field.
async fn step_up(
    state: &State<AppState>,
    session: &Session,
    form: &SignForm,
    ip: Option<&str>,
) -> AppResult<Result<(), AppError>> {
    let mut problems = Vec::new();
    if !form.erklaerung {
        problems.push((
            "erklaerung",
            "Bitte bestätigen Sie die Erklärung, bevor Sie unterzeichnen.".to_string(),
        ));
    }
    let password = match Secret::parse("passwort", &form.passwort) {
        Ok(p) if !form.passwort.is_empty() => Some(p),
        _ => {
            problems.push((
                "passwort",
                "Bitte geben Sie zur Unterschrift Ihr Passwort ein.".to_string(),
            ));
            None
        }
    };
    if let (true, Some(password)) = (problems.is_empty(), password) {
        let db = state.db.clone();
        let email = Email::parse("email", &session.user.email)?;
        let ip = ip.unwrap_or("unbekannt").to_string();
        let outcome = rocket::tokio::task::spawn_blocking(move || {
            crate::actions::accounts::login(&db, &email, &password, &ip)
        })
        .await
        .map_err(|e| AppError::internal(format!("step-up task failed: {e}")))??;
        match outcome {
            LoginOutcome::Success(u) if u.id == session.user.id => {}
            LoginOutcome::Throttled(wait) => problems.push((
                "passwort",
                format!(
                    "Zu viele falsche Versuche. Bitte versuchen Sie es in {} erneut.",
                    crate::domain::grammar::counted((wait + 59) / 60, "Minute", "Minuten")
                ),
            )),
            _ => problems.push(("passwort", "Das Passwort stimmt nicht.".to_string())),
        }
    }
    if problems.is_empty() {
        return Ok(Ok(()));
    }
    Ok(Err(AppError::validation(
        problems
            .into_iter()
            .map(|(field, message)| FieldError {
                field: field.into(),
                message,
            })
            .collect(),
    )))
}

#[derive(FromForm)]
pub(super) struct DeclineForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    reason: String,
}

/// A signatory declines with a reason: the agreement is a draft again.
#[post("/vereinbarungen/<id>/ablehnen", data = "<form>")]
pub(super) async fn decline(
    state: &State<AppState>,
    session: Option<Session>,
    id: Result<AgreementId, AppError>,
    form: Form<DeclineForm>,
) -> AppResult<Page> {
    let session = form_session!(session, &form.csrf);
    let id = id?;
    let target = format!("/vereinbarungen/{id}");
    let (scope, user, aid) = (session.scope(), session.user.clone(), id.clone());
    let input = DeclineInput {
        reason: form.reason.clone(),
    };
    let result = state
        .db
        .write(move |conn| {
            Agreement::find_in(conn, &scope, &aid)?;
            Checked::new(input)?.apply(conn, &user, &aid)
        })
        .await;
    match result {
        Ok(_) => Ok(Page::to(target)),
        Err(e) if e.kind == ErrorKind::Validation => {
            let errors = crate::web::form_errors(&e, str::to_string);
            super::agreement_page(state, &session, id, false, Some(errors), false).await
        }
        Err(e) if is_form_error(&e) || e.kind == ErrorKind::Forbidden => {
            Ok(session.refused_by(&e, "Ablehnen nicht möglich", &target))
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
