//! The web application (server-rendered, German, works without JavaScript). So far:
//! login with throttling, the session, CSRF protection, the first-login password change,
//! logout and the start page. Templates are `templates/web/*.html` (Tera, autoescaped),
//! compiled into the binary.
//!
//! - The session is a private (encrypted and authenticated) cookie `nnr_sitzung`: HttpOnly,
//!   SameSite=Strict, Secure outside debug builds. It holds the user id, the session's
//!   CSRF token and when it began; it is valid for 8 hours.
//! - Every state-changing form carries that CSRF token; the login form carries the token
//!   of a private pre-login cookie. A missing or wrong token is a 403.

use std::sync::OnceLock;

use rocket::form::{Form, FromForm};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, Responder, Route, State};
use serde_json::json;

use crate::app::AppState;
use crate::error::AppResult;
use crate::models::random_hex;
use crate::models::user::{self, LoginOutcome, User};

const SESSION: &str = "nnr_sitzung";
/// A session ends after this long, however active (the user logs in again).
const SESSION_HOURS: i64 = 8;
const LOGIN_CSRF: &str = "nnr_csrf";

pub fn routes() -> Vec<Route> {
    routes![
        start,
        login_page,
        login,
        password_page,
        change_password,
        logout
    ]
}

pub fn catchers() -> Vec<rocket::Catcher> {
    rocket::catchers![error_page]
}

/// Errors outside `/api` are German HTML pages that name no internals.
#[rocket::catch(default)]
fn error_page(status: Status, req: &Request<'_>) -> (Status, RawHtml<String>) {
    let err = req.local_cache(|| None::<crate::error::AppError>);
    if status.code >= 500 {
        if let Some(err) = err {
            log::error!("{} {}: {:?}", req.method(), req.uri(), err.cause);
        }
    }
    error_html(status, err.as_ref().and_then(|e| e.user_message()))
}

/// A German error page; `message` (a client error's own words) replaces the default text.
pub fn error_html(status: Status, message: Option<&str>) -> (Status, RawHtml<String>) {
    let (title, default) = match status.code {
        404 => ("Seite nicht gefunden", "Diese Seite gibt es nicht (mehr). Bitte prüfen Sie die Adresse."),
        403 => ("Kein Zugriff", "Dafür fehlt Ihnen die Berechtigung."),
        401 => ("Anmeldung erforderlich", "Bitte melden Sie sich an."),
        413 => ("Zu groß", "Die gesendeten Daten sind zu groß."),
        422 | 400 => ("Eingabe nicht lesbar", "Die gesendeten Daten konnten nicht gelesen werden."),
        500..=599 => ("Interner Fehler", "Ein interner Fehler ist aufgetreten. Er wurde protokolliert; bitte versuchen Sie es später erneut."),
        _ => ("Fehler", "Die Anfrage konnte nicht bearbeitet werden."),
    };
    let message = if status.code >= 500 {
        default
    } else {
        message.unwrap_or(default)
    };
    let html = match render(
        "message.html",
        json!({ "title": title, "message": message, "back": "/", "user": null }),
    ) {
        Page::Html(html) => html,
        _ => RawHtml(format!(
            "<!DOCTYPE html><html lang=\"de\"><title>{title}</title><h1>{title}</h1></html>"
        )),
    };
    (status, html)
}

static PAGES: OnceLock<tera::Tera> = OnceLock::new();

fn pages() -> &'static tera::Tera {
    PAGES.get_or_init(|| {
        let mut t = tera::Tera::default();
        t.add_raw_templates([
            ("base.html", include_str!("../../templates/web/base.html")),
            ("login.html", include_str!("../../templates/web/login.html")),
            (
                "password.html",
                include_str!("../../templates/web/password.html"),
            ),
            ("start.html", include_str!("../../templates/web/start.html")),
            (
                "message.html",
                include_str!("../../templates/web/message.html"),
            ),
        ])
        .expect("web templates compile");
        t
    })
}

/// What a page handler answers.
#[derive(Responder)]
pub enum Page {
    Html(RawHtml<String>),
    Redirect(Box<Redirect>),
    Refused((Status, RawHtml<String>)),
}

fn render(name: &str, context: serde_json::Value) -> Page {
    match tera::Context::from_value(context).and_then(|c| pages().render(name, &c)) {
        Ok(html) => Page::Html(RawHtml(html)),
        Err(e) => {
            log::error!("template {name}: {e}");
            Page::Refused((
                Status::InternalServerError,
                RawHtml("<!DOCTYPE html><html lang=\"de\"><title>Fehler</title><h1>Ein interner Fehler ist aufgetreten.</h1></html>".into()),
            ))
        }
    }
}

fn refused(status: Status, title: &str, message: &str, back: &str) -> Page {
    match render(
        "message.html",
        json!({ "title": title, "message": message, "back": back, "user": null }),
    ) {
        Page::Html(html) => Page::Refused((status, html)),
        other => other,
    }
}

fn csrf_refused() -> Page {
    refused(
        Status::Forbidden,
        "Anfrage abgelehnt",
        "Das Formular war abgelaufen oder kam nicht von dieser Anwendung. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
        "/",
    )
}

fn cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(!cfg!(debug_assertions))
        .path("/")
        .build()
}

/// Compares two tokens by their digests, independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    crate::app::token_hash(a) == crate::app::token_hash(b)
}

/// A logged-in user and the session's CSRF token.
pub struct Session {
    pub user: User,
    pub csrf: String,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(value) = req.cookies().get_private(SESSION) else {
            return Outcome::Forward(Status::Unauthorized);
        };
        let parts: Vec<&str> = value.value().split('|').collect();
        let [user_id, csrf, began] = parts[..] else {
            return Outcome::Forward(Status::Unauthorized);
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let fresh = began
            .parse::<i64>()
            .is_ok_and(|t| t <= now && now - t < SESSION_HOURS * 3600);
        if !fresh {
            return Outcome::Forward(Status::Unauthorized);
        }
        let (user_id, csrf) = (user_id.to_string(), csrf.to_string());
        let Some(state) = req.rocket().state::<AppState>() else {
            return Outcome::Forward(Status::InternalServerError);
        };
        match state.db.read(move |conn| User::find(conn, &user_id)).await {
            Ok(user) if !user.disabled => Outcome::Success(Session { user, csrf }),
            _ => Outcome::Forward(Status::Unauthorized),
        }
    }
}

fn page_context(session: &Session, title: &str) -> AppResult<serde_json::Value> {
    Ok(json!({ "title": title, "user": session.user.view()?, "csrf": session.csrf }))
}

#[get("/")]
fn start(session: Option<Session>) -> AppResult<Page> {
    let Some(session) = session else {
        return Ok(Page::Redirect(Box::new(Redirect::to("/anmelden"))));
    };
    if session.user.must_change_password {
        return Ok(Page::Redirect(Box::new(Redirect::to("/passwort"))));
    }
    Ok(render("start.html", page_context(&session, "Start")?))
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
    let expected = cookies
        .get_private(LOGIN_CSRF)
        .map(|c| c.value().to_string());
    if !expected.is_some_and(|e| !form.csrf.is_empty() && same(&e, &form.csrf)) {
        return Ok(csrf_refused());
    }
    let form = form.into_inner();
    let ip = client_ip
        .map(|i| i.to_string())
        .unwrap_or_else(|| "unbekannt".into());
    let (email, password) = (form.email.clone(), form.password.clone());
    let outcome = state
        .db
        .write(move |conn| user::login(conn, &email, &password, &ip))
        .await?;
    let error = match outcome {
        LoginOutcome::Success(u) => {
            cookies.remove_private(LOGIN_CSRF);
            let began = time::OffsetDateTime::now_utc().unix_timestamp();
            cookies.add_private(cookie(SESSION, format!("{}|{}|{began}", u.id, random_hex(32))));
            let to = if u.must_change_password { "/passwort" } else { "/" };
            return Ok(Page::Redirect(Box::new(Redirect::to(to))));
        }
        LoginOutcome::Refused => "E-Mail-Adresse oder Passwort sind nicht richtig.".to_string(),
        LoginOutcome::Throttled(seconds) => format!(
            "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie {} und versuchen Sie es dann erneut.",
            if seconds >= 120 { format!("{} Minuten", (seconds + 59) / 60) } else { format!("{seconds} Sekunden") }
        ),
    };
    let csrf = random_hex(32);
    cookies.add_private(cookie(LOGIN_CSRF, csrf.clone()));
    Ok(
        match render(
            "login.html",
            json!({ "title": "Anmelden", "csrf": csrf, "email": form.email, "error": error, "user": null }),
        ) {
            Page::Html(html) => Page::Refused((Status::Unauthorized, html)),
            other => other,
        },
    )
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
        .write(move |conn| User::change_password(conn, &id, &form.current, &form.new, &form.repeat))
        .await;
    match result {
        Ok(()) => Ok(Page::Redirect(Box::new(Redirect::to("/")))),
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

#[post("/abmelden", data = "<form>")]
fn logout(cookies: &CookieJar<'_>, session: Option<Session>, form: Form<CsrfForm>) -> Page {
    if let Some(session) = session {
        if !same(&session.csrf, &form.csrf) {
            return csrf_refused();
        }
        cookies.remove_private(SESSION);
    }
    Page::Redirect(Box::new(Redirect::to("/anmelden")))
}
