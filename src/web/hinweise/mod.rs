//! The public texts every visitor can reach from the footer: `/impressum`, `/datenschutz`
//! and `/barrierefreiheit` (the accessibility statement with its feedback form, which
//! reaches d-NRW by mail), and the visitor's start page (`/` without a session). The texts
//! are configurable (`legal_texts_dir`); the shipped ones are in `templates/legal/`.

use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::{get, post, State};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::Problems;
use crate::error::{AppError, AppResult};
use crate::http::state::AppState;
use crate::web::{
    csrf_refused, pre_login_ok, pre_login_token, public_context, render, same, Page, Session,
};

/// The pre-login cookie that carries the feedback form's token for visitors.
const FEEDBACK_CSRF: &str = "nnr_rueckmeldung";

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![impressum, datenschutz, barrierefreiheit, feedback, thanks]
}

/// A public text as a page: the text's own title is the page's `<h1>`.
fn text_page(session: Option<&Session>, title: &str, text: &str, extra: Value) -> AppResult<Page> {
    let mut ctx = public_context(session, title)?;
    ctx["text"] = json!(crate::documents::html::to_html_at(text, &|_| None, 1));
    if let Value::Object(m) = extra {
        for (k, v) in m {
            ctx[k] = v;
        }
    }
    Ok(render("legal.html", ctx))
}

#[get("/impressum")]
fn impressum(state: &State<AppState>, session: Option<Session>) -> AppResult<Page> {
    text_page(
        session.as_ref(),
        "Impressum",
        &state.legal.impressum,
        json!({}),
    )
}

#[get("/datenschutz")]
fn datenschutz(state: &State<AppState>, session: Option<Session>) -> AppResult<Page> {
    text_page(
        session.as_ref(),
        "Datenschutzerklärung",
        &state.legal.datenschutz,
        json!({}),
    )
}

/// The token of the feedback form: the session's, or a visitor's own in a cookie (kept
/// while it lasts, so the form shown again after a refusal still carries a valid one).
fn form_token(session: Option<&Session>, cookies: &CookieJar<'_>) -> String {
    match session {
        Some(s) => s.csrf.clone(),
        None => pre_login_token(cookies, FEEDBACK_CSRF),
    }
}

fn statement(
    state: &State<AppState>,
    session: Option<&Session>,
    cookies: &CookieJar<'_>,
    values: Value,
    errors: Option<(Value, Value)>,
) -> AppResult<Page> {
    let csrf = form_token(session, cookies);
    let (list, map) = errors.unwrap_or((json!([]), json!({})));
    text_page(
        session,
        "Erklärung zur Barrierefreiheit",
        &state.legal.barrierefreiheit,
        json!({
            "feedback": true,
            "csrf": csrf,
            "values": values,
            "errors": list,
            "field_errors": map,
            "contact_email": state.legal.contact_email,
        }),
    )
}

#[get("/barrierefreiheit")]
fn barrierefreiheit(
    state: &State<AppState>,
    session: Option<Session>,
    cookies: &CookieJar<'_>,
) -> AppResult<Page> {
    statement(
        state,
        session.as_ref(),
        cookies,
        json!({ "name": "", "email": "", "page": "", "message": "" }),
        None,
    )
}

#[derive(FromForm, Serialize)]
struct FeedbackForm {
    #[field(default = String::new())]
    #[serde(skip)]
    csrf: String,
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    email: String,
    /// The page the problem is on, in the sender's words or as an address.
    #[field(default = String::new())]
    page: String,
    #[field(default = String::new())]
    message: String,
}

impl Inspect for FeedbackForm {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("name", Kind::Name, &mut self.name);
        t.text("email", Kind::Email, &mut self.email);
        t.text("page", Kind::Note, &mut self.page);
        t.text("message", Kind::Note, &mut self.message);
    }
}

/// The feedback, checked like every input; the mail to d-NRW goes through the outbox.
#[post("/barrierefreiheit", data = "<form>")]
async fn feedback(
    state: &State<AppState>,
    session: Option<Session>,
    cookies: &CookieJar<'_>,
    form: Form<FeedbackForm>,
) -> AppResult<Page> {
    let valid = match &session {
        Some(s) => !form.csrf.is_empty() && same(&s.csrf, &form.csrf),
        None => pre_login_ok(cookies, FEEDBACK_CSRF, &form.csrf),
    };
    if !valid {
        return Ok(csrf_refused());
    }
    let form = form.into_inner();
    let values = json!(form);
    // Text checked like every input (`domain::text`), then what this form asks for.
    let checked = Checked::new(form).map_err(AppError::from).and_then(|f| {
        let f = f.into_inner();
        let (name, email, page, message) = (
            f.name.trim().to_string(),
            f.email.trim().to_string(),
            f.page.trim().to_string(),
            f.message.trim().to_string(),
        );
        let mut problems = Problems::new();
        if page.chars().count() > 500 {
            problems.add("page", "Bitte höchstens 500 Zeichen.");
        }
        if message.is_empty() {
            problems.add(
                "message",
                "Bitte beschreiben Sie, was Ihnen aufgefallen ist.",
            );
        }
        if !email.is_empty() {
            problems.check("email", crate::domain::codes::check_email(&email));
        }
        problems.into_result()?;
        Ok((name, email, page, message))
    });
    let (name, email, page, message) = match checked {
        Ok(fields) => fields,
        Err(err) => {
            let errors = crate::web::form_errors(&err, str::to_string);
            return Ok(
                statement(state, session.as_ref(), cookies, values, Some(errors))?
                    .with_status(Status::UnprocessableEntity),
            );
        }
    };
    let to = vec![state.legal.contact_email.clone()];
    let sender = session.as_ref().map(|s| s.user.name.clone());
    state
        .db
        .write(move |conn| {
            crate::store::outbox::enqueue(
                conn,
                "accessibility_feedback",
                &to,
                &json!({
                    "name": if name.is_empty() { sender.unwrap_or_default() } else { name },
                    "email": email,
                    "page": page,
                    "message": message,
                }),
            )
        })
        .await?;
    Ok(Page::to("/barrierefreiheit/danke"))
}

#[get("/barrierefreiheit/danke")]
fn thanks(session: Option<Session>) -> AppResult<Page> {
    let mut ctx = public_context(session.as_ref(), "Rückmeldung gesendet")?;
    ctx["message"] = json!("Vielen Dank. Ihre Rückmeldung ist bei der d-NRW AöR eingegangen. Haben Sie eine E-Mail-Adresse angegeben, antworten wir Ihnen dort.");
    ctx["back"] = json!("/barrierefreiheit");
    Ok(render("message.html", ctx))
}
