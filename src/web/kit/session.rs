//! The session: a private cookie read by the `Session` guard, its CSRF token, and the
//! macros that make a handler signed-in, form-checked or staff-only.

use rocket::form::FromForm;
use rocket::http::{Cookie, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};

use super::forms::plain;
use super::page::{refused, Page};
use crate::domain::account::Role;
use crate::error::{AppError, AppResult};
use crate::http::state::AppState;
use crate::store::user::User;
use crate::store::Scope;

pub(crate) const SESSION: &str = "nnr_sitzung";

/// A session ends after this long, however active (the user logs in again).
const SESSION_HOURS: i64 = 8;

pub(crate) const LOGIN_CSRF: &str = "nnr_csrf";

pub(crate) fn csrf_refused() -> Page {
    refused(
        Status::Forbidden,
        "Anfrage abgelehnt",
        "Das Formular war abgelaufen oder kam nicht von dieser Anwendung. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
        "/",
    )
}

pub(crate) fn cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(!cfg!(debug_assertions))
        .path("/")
        .build()
}

/// The token of a form shown before login (a visitor's feedback, an invitation link): the
/// one in the pre-login cookie `name` while it lasts (so a form shown again after a
/// refusal still carries a valid one), else a new one set there.
pub(crate) fn pre_login_token(cookies: &rocket::http::CookieJar<'_>, name: &'static str) -> String {
    match cookies.get_private(name) {
        Some(c) if c.value().len() == 64 => c.value().to_string(),
        _ => {
            let token = crate::store::random_hex(32);
            cookies.add_private(cookie(name, token.clone()));
            token
        }
    }
}

/// Whether a pre-login form's `given` token is the one in the cookie `name`.
pub(crate) fn pre_login_ok(
    cookies: &rocket::http::CookieJar<'_>,
    name: &'static str,
    given: &str,
) -> bool {
    cookies
        .get_private(name)
        .is_some_and(|c| !given.is_empty() && same(c.value(), given))
}

/// Compares two tokens by their digests, independent of where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    crate::http::state::token_hash(a) == crate::http::state::token_hash(b)
}

/// The session cookie's value.
pub(crate) fn session_value(user: &User, csrf: &str) -> String {
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
        self.user.role
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
                crate::http::telemetry::identify(req, &user.id);
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

#[derive(FromForm)]
pub(crate) struct CsrfForm {
    #[field(default = String::new())]
    pub(crate) csrf: String,
}
