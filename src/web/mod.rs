//! The web application: server-rendered German pages (Tera, autoescaped, compiled into
//! the binary) that work without JavaScript. One folder per URL area:
//!
//! - `start` (`/`: each group's start page), `sitzung` (login, password, logout);
//! - everyone: the public catalogue (`katalog`);
//! - municipality users: "Meine Kommune" with the RV and the guided Einzelabruf
//!   (`kommune`);
//! - agreements (`vereinbarungen`), go-live tasks and the calendar (`aufgaben`);
//! - d-NRW staff: municipalities (`kommunen`), services (`dienste`), partners
//!   (`partner`), the roll-out (`rollout`), users (`benutzer`).
//!
//! This file holds what the areas share (the kit): the session guard and CSRF, page
//! rendering, form errors, filters, error pages; `fields` the form fields several
//! areas use.
//!
//! Agreement pages, downloads and attachments are shared; every read goes through the
//! model layer's tenant scope (`models::Scope`), so another tenant's id is a 404.
//!
//! - The session is a private (encrypted and authenticated) cookie `nnr_sitzung`: HttpOnly,
//!   SameSite=Strict, Secure outside debug builds. It holds the user id, the session's
//!   CSRF token, when it began, and the account's `lock_version` at login; it is valid
//!   for 8 hours and ends when the account changes (password, reset, disabled).
//! - Every state-changing form carries that CSRF token; the login form carries the token
//!   of a private pre-login cookie. A missing or wrong token is a 403.

mod aufgaben;
mod benutzer;
mod dienste;
mod fields;
mod katalog;
mod kommune;
mod kommunen;
mod partner;
mod rollout;
mod sitzung;
mod start;
mod vereinbarungen;

use std::sync::OnceLock;

use rocket::form::FromForm;
use rocket::http::{Cookie, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{Responder, Route};
use serde_json::{json, Value};

use crate::domain::account::Role;
use crate::error::{AppError, AppResult};
use crate::http::state::AppState;
use crate::models::user::User;
use crate::models::Scope;

const SESSION: &str = "nnr_sitzung";
/// A session ends after this long, however active (the user logs in again).
const SESSION_HOURS: i64 = 8;
const LOGIN_CSRF: &str = "nnr_csrf";

pub fn routes() -> Vec<Route> {
    let mut r = start::routes();
    r.extend(sitzung::routes());
    r.extend(katalog::routes());
    r.extend(kommune::routes());
    r.extend(vereinbarungen::routes());
    r.extend(kommunen::routes());
    r.extend(dienste::routes());
    r.extend(partner::routes());
    r.extend(aufgaben::routes());
    r.extend(rollout::routes());
    r.extend(benutzer::routes());
    r
}

pub fn catchers() -> Vec<rocket::Catcher> {
    rocket::catchers![error_page]
}

/// An error page, with `Allow` when the method is the problem (405).
type ErrorPage = crate::http::WithAllow<(Status, RawHtml<String>)>;

/// Errors outside `/api` are German HTML pages that name no internals. A path that
/// exists with other methods answers 405 with `Allow`.
#[rocket::catch(default)]
fn error_page(status: Status, req: &Request<'_>) -> ErrorPage {
    let err = req.local_cache(|| None::<AppError>);
    if status.code >= 500 {
        if let Some(err) = err {
            log::error!("{} {}: {:?}", req.method(), req.uri(), err.cause);
        }
    }
    if status.code == 404 && err.is_none() {
        if let Some(allow) = crate::http::allowed_methods(req) {
            let message = format!(
                "Diese Adresse nimmt keine {}-Anfragen an (erlaubt: {}).",
                req.method(),
                allow.value()
            );
            return ErrorPage {
                inner: error_html(req, Status::MethodNotAllowed, Some(&message)),
                allow: Some(allow),
            };
        }
    }
    ErrorPage {
        inner: error_html(req, status, err.as_ref().and_then(|e| e.user_message())),
        allow: None,
    }
}

/// A German error page; `message` (a client error's own words) replaces the default text.
/// A logged-in user (whose session a guard of this request read) keeps their navigation.
pub fn error_html(
    req: &Request<'_>,
    status: Status,
    message: Option<&str>,
) -> (Status, RawHtml<String>) {
    let (title, default) = match status.code {
        404 => ("Seite nicht gefunden", "Diese Seite gibt es nicht (mehr). Bitte prüfen Sie die Adresse."),
        403 => ("Kein Zugriff", "Dafür fehlt Ihnen die Berechtigung."),
        401 => ("Anmeldung erforderlich", "Bitte melden Sie sich an."),
        413 => ("Zu groß", "Die gesendeten Daten sind zu groß."),
        405 => ("Methode nicht erlaubt", "Diese Adresse nimmt solche Anfragen nicht an."),
        422 | 400 => ("Eingabe nicht lesbar", "Die gesendeten Daten konnten nicht gelesen werden."),
        500..=599 => ("Interner Fehler", "Ein interner Fehler ist aufgetreten. Er wurde protokolliert; bitte versuchen Sie es später erneut."),
        _ => ("Fehler", "Die Anfrage konnte nicht bearbeitet werden."),
    };
    let message = if status.code >= 500 {
        default
    } else {
        message.unwrap_or(default)
    };
    let session = req.local_cache(|| None::<Session>);
    let mut context = session
        .as_ref()
        .and_then(|s| page_context(s, title).ok())
        .unwrap_or_else(|| json!({ "title": title, "user": null, "nav": {} }));
    context["message"] = json!(message);
    context["back"] = json!("/");
    let html = match render("message.html", context) {
        Page::Html(html) => html,
        _ => RawHtml(format!(
            "<!DOCTYPE html><html lang=\"de\"><title>{title}</title><h1>{title}</h1></html>"
        )),
    };
    (status, html)
}

static PAGES: OnceLock<tera::Tera> = OnceLock::new();

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../templates/web/", $name)))),*]
    };
}

fn pages() -> &'static tera::Tera {
    PAGES.get_or_init(|| {
        let mut t = tera::Tera::default();
        t.add_raw_templates(templates![
            "base.html",
            "macros.html",
            "login.html",
            "password.html",
            "message.html",
            "catalog.html",
            "service.html",
            "kommune.html",
            "ea_form.html",
            "agreement.html",
            "agreements.html",
            "dashboard.html",
            "municipalities.html",
            "municipality.html",
            "service_status.html",
            "tasks.html",
            "task.html",
            "rollout.html",
            "calendar.html",
            "draft_form.html",
            "ea_draft_form.html",
            "amendment_form.html",
            "services.html",
            "partners.html",
            "partner.html",
            "partner_form.html",
            "service_form.html",
            "intermediary.html",
            "users.html",
        ])
        .expect("web templates compile");
        t.register_filter("datum", datum);
        t
    })
}

/// `{{ date | datum }}`: an ISO date or timestamp as a German date ("01.12.2022").
fn datum(value: &Value, _: &std::collections::HashMap<String, Value>) -> tera::Result<Value> {
    let Some(s) = value.as_str() else {
        return Ok(value.clone());
    };
    let date = s.get(..10).unwrap_or(s);
    let parts: Vec<&str> = date.split('-').collect();
    Ok(Value::String(match parts[..] {
        [y, m, d] if y.len() == 4 => format!("{d}.{m}.{y}"),
        _ => s.to_string(),
    }))
}

/// What a page handler answers.
#[derive(Responder)]
pub enum Page {
    Html(RawHtml<String>),
    Redirect(Box<Redirect>),
    Refused((Status, RawHtml<String>)),
}

impl Page {
    pub fn to(uri: impl Into<String>) -> Page {
        Page::Redirect(Box::new(Redirect::to(uri.into())))
    }

    /// The same page with another status (a form shown again with its errors: 422).
    pub fn with_status(self, status: Status) -> Page {
        match self {
            Page::Html(html) => Page::Refused((status, html)),
            other => other,
        }
    }
}

fn render(name: &str, context: Value) -> Page {
    match tera::Context::from_value(context).and_then(|c| pages().render(name, &c)) {
        Ok(html) => Page::Html(RawHtml(html)),
        Err(e) => {
            let mut cause = String::new();
            let mut source: Option<&dyn std::error::Error> = Some(&e);
            while let Some(s) = source {
                cause.push_str(&format!(": {s}"));
                source = s.source();
            }
            log::error!("template {name}{cause}");
            Page::Refused((
                Status::InternalServerError,
                RawHtml("<!DOCTYPE html><html lang=\"de\"><title>Fehler</title><h1>Ein interner Fehler ist aufgetreten.</h1></html>".into()),
            ))
        }
    }
}

fn refused(status: Status, title: &str, message: &str, back: &str) -> Page {
    render(
        "message.html",
        json!({ "title": title, "message": message, "back": back, "user": null }),
    )
    .with_status(status)
}

impl Session {
    /// A message page for a refused action, with this user's navigation.
    pub fn refused(&self, status: Status, title: &str, message: &str, back: &str) -> Page {
        match page_context(self, title) {
            Ok(mut ctx) => {
                ctx["message"] = json!(message);
                ctx["back"] = json!(back);
                render("message.html", ctx).with_status(status)
            }
            Err(_) => refused(status, title, message, back),
        }
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
    crate::http::state::token_hash(a) == crate::http::state::token_hash(b)
}

/// The session cookie's value.
fn session_value(user: &User, csrf: &str) -> String {
    let began = time::OffsetDateTime::now_utc().unix_timestamp();
    format!("{}|{csrf}|{began}|{}", user.id, user.lock_version)
}

/// A logged-in user and the session's CSRF token.
#[derive(Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

impl Session {
    pub fn role(&self) -> Role {
        self.user.role().unwrap_or(Role::Municipality)
    }
    pub fn is_staff(&self) -> bool {
        self.role().is_staff()
    }
    /// What this user may see; an unreadable role sees nothing of others.
    pub fn scope(&self) -> Scope {
        self.user
            .scope()
            .unwrap_or_else(|_| Scope::Municipality(String::new()))
    }
    /// The form's CSRF token must be this session's.
    pub fn check(&self, csrf: &str) -> Result<(), Page> {
        if !csrf.is_empty() && same(&self.csrf, csrf) {
            Ok(())
        } else {
            Err(csrf_refused())
        }
    }
    /// Refuses everyone but d-NRW staff (403 page).
    pub fn staff(&self) -> AppResult<()> {
        crate::domain::policy::staff_only(self.role()).map_err(AppError::forbidden)
    }
    /// The message page for a refused action, in the words of `err`, with its status.
    pub fn refused_by(&self, err: &AppError, title: &str, back: &str) -> Page {
        self.refused(crate::http::respond::status(err), title, &plain(err), back)
    }

    /// How a signature given in this session is recorded.
    pub fn auth_method(&self) -> String {
        format!(
            "Anmeldung mit Passwort in der Webanwendung ({})",
            self.user.email
        )
    }
    pub fn actor(&self) -> String {
        format!("user:{}", self.user.email)
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(value) = req.cookies().get_private(SESSION) else {
            return Outcome::Forward(Status::Unauthorized);
        };
        let parts: Vec<&str> = value.value().split('|').collect();
        let [user_id, csrf, began, stamp] = parts[..] else {
            return Outcome::Forward(Status::Unauthorized);
        };
        let Ok(stamp) = stamp.parse::<i32>() else {
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
            // Any change to the account (password, reset, disabling) ends its sessions.
            Ok(user) if !user.disabled && user.lock_version == stamp => {
                let session = Session { user, csrf };
                // Error pages of this request show the user's navigation (`error_html`).
                req.local_cache(|| Some(session.clone()));
                Outcome::Success(session)
            }
            _ => Outcome::Forward(Status::Unauthorized),
        }
    }
}

/// A page for logged-in users: the session, or the way to the login (or to the password
/// change a new user must make first).
macro_rules! signed_in {
    ($session:expr) => {
        match $session {
            None => return Ok($crate::web::Page::to("/anmelden")),
            Some(s) if s.user.must_change_password => return Ok($crate::web::Page::to("/passwort")),
            Some(s) => s,
        }
    };
}
pub(crate) use signed_in;

/// A form post by a logged-in user: the session, once its CSRF token matched (otherwise
/// the refusal page is the answer).
macro_rules! form_session {
    ($session:expr, $csrf:expr) => {{
        let session = $crate::web::signed_in!($session);
        if let Err(page) = session.check($csrf) {
            return Ok(page);
        }
        session
    }};
}
pub(crate) use form_session;

/// A form post by d-NRW staff (others get the 403 page).
macro_rules! staff_form {
    ($session:expr, $csrf:expr) => {{
        let session = $crate::web::form_session!($session, $csrf);
        session.staff()?;
        session
    }};
}
pub(crate) use staff_form;

/// A date from a form field (`2026-12-01`, as `<input type="date">` sends it); empty is
/// `None`, anything else unreadable is `Err`.
fn form_date(text: &str) -> Result<Option<time::Date>, ()> {
    match text.trim() {
        "" => Ok(None),
        t => time::Date::parse(t, time::macros::format_description!("[year]-[month]-[day]"))
            .map(Some)
            .map_err(|_| ()),
    }
}

/// What a page with several forms shows again after one of them was refused: which
/// form, the values typed, the errors.
#[derive(Default)]
struct Refused {
    form: &'static str,
    values: Value,
    errors: Option<(Value, Value)>,
}

impl Refused {
    /// The values for `form`: those typed if it was the refused one, else `fresh()`.
    fn values_for(&self, form: &str, fresh: impl FnOnce() -> Value) -> Value {
        if self.form == form {
            self.values.clone()
        } else {
            fresh()
        }
    }
}

/// The context every page gets: title, the user (or null) with the navigation for their
/// role, and the CSRF token for forms.
fn page_context(session: &Session, title: &str) -> AppResult<Value> {
    let role = session.role();
    Ok(json!({
        "title": title,
        "user": session.user.view()?,
        "csrf": session.csrf,
        "nav": {
            "staff": role.is_staff(),
            "admin": role == Role::Admin,
            "municipality": role == Role::Municipality,
            "intermediary": role == Role::Intermediary,
        },
    }))
}

/// The context of a page anyone may see (logged in or not).
fn public_context(session: Option<&Session>, title: &str) -> AppResult<Value> {
    match session {
        Some(s) => page_context(s, title),
        None => Ok(json!({ "title": title, "user": null, "nav": {} })),
    }
}

/// Form errors for a template: the list (for the summary at the top, each linking to its
/// field) and a map from field id to message (shown at the field). `ids` maps the model's
/// field names to the form's input ids.
fn form_errors(err: &AppError, ids: impl Fn(&str) -> String) -> (Value, Value) {
    let mut list = Vec::new();
    let mut map = serde_json::Map::new();
    if err.fields.is_empty() {
        list.push(json!({ "field": "", "message": err.message }));
    }
    for f in &err.fields {
        let id = ids(&f.field);
        list.push(json!({ "field": id, "message": f.message }));
        map.entry(id).or_insert(json!(f.message));
    }
    (Value::Array(list), Value::Object(map))
}

/// An error's text for a message page: the field messages themselves (without the
/// field names the API adds), or the message.
fn plain(err: &AppError) -> String {
    if err.fields.is_empty() {
        err.message.clone()
    } else {
        err.fields
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Puts a refused form's errors (the summary list and the messages by field, from
/// `form_errors`) into a page's context; none gives empty ones.
fn set_errors(ctx: &mut Value, errors: Option<(Value, Value)>) {
    let (list, map) = errors.unwrap_or((json!([]), json!({})));
    ctx["errors"] = list;
    ctx["field_errors"] = map;
}

/// A choice filter from a page's address (`?art=rv`): empty means "all"; any other value
/// must be one of the choices, so a mistyped bookmark is told so instead of silently
/// showing everything. The value itself is not echoed (it may be anything, at any length).
fn choice<T>(
    name: &str,
    label: &str,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> AppResult<Option<T>> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse(v).map(Some).ok_or_else(|| {
            AppError::field(
                name,
                format!("Diesen Wert gibt es für „{label}“ nicht. Bitte wählen Sie einen aus der Liste."),
            )
        }),
    }
}

/// A search text from a page's address (`?q=`), checked like every text input.
fn search_text(name: &str, label: &str, raw: Option<&str>) -> AppResult<String> {
    crate::domain::text::clean(crate::domain::text::Kind::Search, raw.unwrap_or("").trim())
        .map_err(|message| AppError::field(name, format!("{label}: {message}")))
}

/// Whether an error is the user's to fix in the form (validation, a rule, a conflict),
/// rather than a page-level refusal or a fault.
fn is_form_error(err: &AppError) -> bool {
    matches!(err.http_status(), 409 | 422)
}

#[derive(FromForm)]
pub(super) struct CsrfForm {
    #[field(default = String::new())]
    pub(super) csrf: String,
}

/// The form adding a contact person (municipality and partner pages).
#[derive(FromForm)]
struct ContactForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    function: String,
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    phone: String,
    #[field(default = false)]
    may_sign: bool,
}

impl ContactForm {
    /// The empty form.
    fn blank() -> Value {
        json!({ "name": "", "function": "", "email": "", "phone": "", "may_sign": false })
    }

    fn values(&self) -> Value {
        json!({ "name": self.name, "function": self.function, "email": self.email,
                "phone": self.phone, "may_sign": self.may_sign })
    }

    fn input(&self) -> crate::models::contact::ContactInput {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        crate::models::contact::ContactInput {
            name: self.name.clone(),
            function: text(&self.function),
            email: text(&self.email),
            phone: text(&self.phone),
            may_sign: self.may_sign,
        }
    }
}
