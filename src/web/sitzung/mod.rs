//! Signing in and out, and changing one's password: `/anmelden`, `/abmelden`,
//! `/passwort`; setting it from an invitation: `/einladung/<secret>` (`einladung`).

mod einladung;

use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::response::Redirect;
use rocket::{get, post, State};
use serde_json::json;

use crate::actions::accounts::LoginOutcome;
use crate::domain::text::{Email, Secret};
use crate::error::{AppError, AppResult};
use crate::http::state::AppState;
use crate::store::random_hex;
use crate::store::user::User;
use crate::web::{
    cookie, csrf_refused, page_context, pre_login_ok, render, same, session_value, Page, Session,
    LOGIN_CSRF, SESSION,
};

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        login_page,
        login,
        password_page,
        change_password,
        logout,
        einladung::invitation_page,
        einladung::accept,
    ]
}

#[get("/anmelden")]
fn login_page(cookies: &CookieJar<'_>, session: Option<Session>) -> Page {
    if session.is_some() {
        return Page::Redirect(Box::new(Redirect::to("/")));
    }
    let csrf = random_hex(32);
    cookies.add_private(cookie(LOGIN_CSRF, csrf.clone()));
    render(
        "login.html",
        json!({ "title": "Anmelden", "csrf": csrf, "email": "", "error": null, "user": null }),
    )
}

#[derive(FromForm)]
struct LoginForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    password: String,
}

#[post("/anmelden", data = "<form>")]
async fn login(
    state: &State<AppState>,
    cookies: &CookieJar<'_>,
    client_ip: Option<std::net::IpAddr>,
    form: Form<LoginForm>,
) -> AppResult<Page> {
    if !pre_login_ok(cookies, LOGIN_CSRF, &form.csrf) {
        return Ok(csrf_refused());
    }
    let form = form.into_inner();
    let ip = client_ip
        .map(|i| i.to_string())
        .unwrap_or_else(|| "unbekannt".into());
    let typed = Email::parse("email", &form.email)
        .and_then(|e| Ok((e, Secret::parse("password", &form.password)?)));
    let (status, error) = match typed {
        Err(e) => {
            let message = AppError::from(e)
                .fields
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_default();
            (Status::UnprocessableEntity, message)
        }
        Ok((email, password)) => {
            let db = state.db.clone();
            let outcome = rocket::tokio::task::spawn_blocking(move || {
                crate::actions::accounts::login(&db, &email, &password, &ip)
            })
            .await
            .map_err(|e| AppError::internal(format!("login task failed: {e}")))??;
            match login_error(outcome, cookies) {
                Ok(refusal) => refusal,
                Err(redirect) => return Ok(redirect),
            }
        }
    };
    let csrf = random_hex(32);
    cookies.add_private(cookie(LOGIN_CSRF, csrf.clone()));
    let email: String = form
        .email
        .chars()
        .filter(|c| !c.is_control())
        .take(254)
        .collect();
    Ok(
        match render(
            "login.html",
            json!({ "title": "Anmelden", "csrf": csrf, "email": email, "error": error, "user": null }),
        ) {
            Page::Html(html) => Page::Refused((status, html)),
            other => other,
        },
    )
}

/// The login page's status and message for an attempt that did not succeed (401 for a
/// wrong e-mail or password, 429 while throttled); a success sets the session and
/// redirects (`Err` carries the redirect).
fn login_error(outcome: LoginOutcome, cookies: &CookieJar<'_>) -> Result<(Status, String), Page> {
    Ok(match outcome {
        LoginOutcome::Success(u) => {
            cookies.remove_private(LOGIN_CSRF);
            cookies.add_private(cookie(SESSION, session_value(&u, &random_hex(32))));
            let to = if u.must_change_password { "/passwort" } else { "/" };
            return Err(Page::Redirect(Box::new(Redirect::to(to))));
        }
        LoginOutcome::Refused => (
            Status::Unauthorized,
            "E-Mail-Adresse oder Passwort sind nicht richtig.".to_string(),
        ),
        LoginOutcome::Throttled(seconds) => (
            Status::TooManyRequests,
            format!(
                "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie {} und versuchen Sie es dann erneut.",
                if seconds >= 120 { format!("{} Minuten", (seconds + 59) / 60) } else { format!("{seconds} Sekunden") }
            ),
        ),
    })
}

#[get("/passwort")]
fn password_page(session: Option<Session>) -> AppResult<Page> {
    let Some(session) = session else {
        return Ok(Page::Redirect(Box::new(Redirect::to("/anmelden"))));
    };
    let mut context = page_context(&session, "Passwort ändern")?;
    context["errors"] = json!([]);
    Ok(render("password.html", context))
}

#[derive(FromForm)]
struct PasswordForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    current: String,
    #[field(default = String::new())]
    new: String,
    #[field(default = String::new())]
    repeat: String,
}

#[post("/passwort", data = "<form>")]
async fn change_password(
    state: &State<AppState>,
    cookies: &CookieJar<'_>,
    session: Option<Session>,
    form: Form<PasswordForm>,
) -> AppResult<Page> {
    let Some(session) = session else {
        return Ok(Page::Redirect(Box::new(Redirect::to("/anmelden"))));
    };
    if !same(&session.csrf, &form.csrf) {
        return Ok(csrf_refused());
    }
    let form = form.into_inner();
    let id = session.user.id.clone();
    let result = state
        .db
        .write(move |conn| {
            User::change_password(conn, &id, &form.current, &form.new, &form.repeat)?;
            User::find(conn, &id)
        })
        .await;
    match result {
        Ok(user) => {
            // Other sessions of this account end; this one continues with the new stamp.
            cookies.add_private(cookie(SESSION, session_value(&user, &session.csrf)));
            Ok(Page::Redirect(Box::new(Redirect::to("/"))))
        }
        Err(e) if !e.fields.is_empty() => {
            let mut context = page_context(&session, "Passwort ändern")?;
            context["errors"] = json!(e
                .fields
                .iter()
                .map(|f| json!({ "field": f.field, "message": f.message }))
                .collect::<Vec<_>>());
            Ok(match render("password.html", context) {
                Page::Html(html) => Page::Refused((Status::UnprocessableEntity, html)),
                other => other,
            })
        }
        Err(e) => Err(e),
    }
}

#[derive(FromForm)]
struct CsrfForm {
    #[field(default = String::new())]
    csrf: String,
}

/// Logs out: the cookie goes, and with it the files this session kept from a refused
/// form (`store::pending_upload`).
#[post("/abmelden", data = "<form>")]
async fn logout(
    state: &State<AppState>,
    cookies: &CookieJar<'_>,
    session: Option<Session>,
    form: Form<CsrfForm>,
) -> AppResult<Page> {
    if let Some(session) = session {
        if !same(&session.csrf, &form.csrf) {
            return Ok(csrf_refused());
        }
        cookies.remove_private(SESSION);
        let key = crate::store::pending_upload::session_key(&session.csrf);
        state
            .db
            .write(move |conn| crate::store::pending_upload::discard(conn, &key))
            .await?;
    }
    Ok(Page::Redirect(Box::new(Redirect::to("/anmelden"))))
}
